"""`command`: run the user's own deployment script with the deployment as JSON on its standard input.

The script runs in the repository root, in its own process group, so a timeout ends it and everything it
started. It is told the deployment's key (also in MODELBOT_DEPLOYMENT_KEY) so it can ignore a repeat.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.deploy.base import DeployError, Deployment, Outcome

DEFAULT_TIMEOUT_S = 300.0


def _tail(raw: bytes, lines: int = 5) -> str:
    text = raw.decode("utf-8", "replace").strip()
    return " | ".join(text.splitlines()[-lines:])[:500]


class Command:
    name = "command"

    def __init__(
        self,
        argv: Sequence[str] | str,
        cwd: Path,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = shlex.split(argv) if isinstance(argv, str) else list(argv)
        if not self.argv:
            raise DeployError("command: 'run' is empty; give the program and its arguments")
        self.cwd = cwd
        self.timeout_s = timeout_s
        self.environ = dict(environ if environ is not None else os.environ)

    def deploy(self, deployment: Deployment) -> Outcome:
        payload = json.dumps(deployment.as_dict(), sort_keys=True).encode()
        env = {**self.environ, "MODELBOT_DEPLOYMENT_KEY": deployment.key}
        shown = shlex.join(self.argv)
        try:
            proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise DeployError(f"command `{shown}` cannot start: {exc.strerror or exc}") from None
        try:
            out, err = proc.communicate(payload, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise DeployError(f"command `{shown}` did not finish within {self.timeout_s:g}s and was stopped") from None
        if proc.returncode != 0:
            said = _tail(err) or _tail(out) or "no output"
            raise DeployError(f"command `{shown}` exited with {proc.returncode}: {said}")
        return Outcome("done", f"`{shown}`: {_tail(out, 1) or 'exit 0'}")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
