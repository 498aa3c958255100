"""The demo's serving gateway: `modelbot serve` as a process of its own on a loopback port, following `main` of
the local GitHub's repository.

The gateway reads a detached worktree of the hub's bare repository: a worktree shares its repository's refs, so
`main` there is `main` on the hub and every merge is the gateway's next state, with no clone to fetch. It polls
`main` as a deployed gateway would (so a version a merge brings in loads while the story goes on); the production
stage of the seeded policy names the `gateway` deployer with its URL, so a production deploy reloads it and
checks that it serves the deployed version before the deploy job succeeds.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ModelbotError

PRODUCTION_DEPLOYERS = "      deployers: [mlflow-alias, github-deployment]\n"


class GatewayFailed(ModelbotError):
    """The demo's gateway did not start, or answered something the story cannot read."""


@dataclass(frozen=True)
class Answer:
    """One invocation: who answered (`X-Modelbot-Version`), whether it was the fallback, and the predictions."""

    status: int
    version: str
    fallback: bool
    request_id: str
    predictions: Any
    message: str = ""


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """While the story runs, SIGTERM raises SystemExit, so the `finally` that stops the gateway runs (the gateway
    is in a session of its own: a terminal's Ctrl-C or a killed parent would not reach it). Only in the main
    thread, and only if nobody else handles SIGTERM already."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_DFL,
        None,
    ):
        yield
        return

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_production_through(policy: str, url: str) -> str:
    """The policy text with the gateway deployer added to the production stage, as a platform team would write
    it; the result is parsed back to make sure it says so (the text edit is exact, comments are kept)."""
    stages = policy.find("\nstages:\n")
    production = policy.find("\n  production:\n", stages)
    at = policy.find(PRODUCTION_DEPLOYERS, production)
    if min(stages, production, at) < 0:
        raise GatewayFailed(f"the seeded policy has no production stage with '{PRODUCTION_DEPLOYERS.strip()}'")
    entry = PRODUCTION_DEPLOYERS.replace("]", f', {{type: gateway, url: "{url}"}}]')
    changed = policy[:at] + entry + policy[at + len(PRODUCTION_DEPLOYERS) :]
    deployers = yaml.safe_load(changed)["stages"]["production"]["deploy"]["deployers"]
    if deployers != ["mlflow-alias", "github-deployment", {"type": "gateway", "url": url}]:
        raise GatewayFailed(f"the seeded policy's production deployers came out as {deployers}")
    return changed


class DemoGateway:
    """`python -m bot serve --ref main` over a worktree of the hub's repository; `stop` ends it whatever state it
    is in (its model processes go with it)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.worktree = workdir / "serving"
        self.log_dir = workdir / "gateway"
        self.output = self.log_dir / "gateway.out"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, repository: Path, env: Mapping[str, str]) -> None:
        """Start serving `main` of the bare `repository`; returns at once (the models load in the background)."""
        subprocess.run(
            ["git", "-C", str(repository), "worktree", "add", "--quiet", "--detach", str(self.worktree), "main"],
            check=True,
            capture_output=True,
        )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable, "-m", "bot", "serve", "--repo", str(self.worktree), "--ref", "main",
            "--port", str(self.port), "--log-dir", str(self.log_dir),
        ]  # fmt: skip
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.output.read_text(errors="replace").strip()[-1500:]
        return ""

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc.returncode if self.proc else None
                raise GatewayFailed(f"the gateway exited ({code}): {self.tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self._call("GET", "/readyz")[0] == 200:
                    return
            time.sleep(0.2)
        raise GatewayFailed(f"the gateway was not ready within {timeout_s:g}s: {self.tail()}")

    def _call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Mapping[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def invoke(self, model: str, stage: str, records: Sequence[Mapping[str, Any]]) -> Answer:
        """One scoring request, in MLflow's `dataframe_records` format."""
        body = json.dumps({"dataframe_records": list(records)}, default=float).encode()
        try:
            status, headers, raw = self._call("POST", f"/models/{model}/{stage}/invocations", body)
            found = json.loads(raw)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise GatewayFailed(f"the gateway did not answer {model} {stage}: {exc}; {self.tail()}") from None
        return Answer(
            status,
            headers.get("x-modelbot-version", ""),
            headers.get("x-modelbot-fallback") == "true",
            headers.get("x-request-id", ""),
            found.get("predictions") if status == 200 else None,
            "" if status == 200 else str(found.get("message", raw[:300])),
        )

    def describe(self, model: str, stage: str) -> dict[str, Any]:
        """`GET /models/{model}/{stage}`: what the gateway serves there and the commit it serves it at."""
        try:
            status, _, raw = self._call("GET", f"/models/{model}/{stage}")
            found: dict[str, Any] = json.loads(raw)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise GatewayFailed(f"the gateway did not describe {model} {stage}: {exc}") from None
        if status != 200:
            raise GatewayFailed(f"the gateway does not serve {model} {stage} ({status}): {found.get('message')}")
        return found

    def stop(self) -> None:
        """SIGTERM (the gateway drains and closes its model processes), then SIGKILL to whatever is left in its
        process group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(20)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # what is left in its group (its model-host server), if anything
        proc.wait()
