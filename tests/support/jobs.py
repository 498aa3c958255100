"""A bot run as a job of its own (a separate process, as a runner runs it), which localhub can kill right after
its k-th API request (`localhub.faults.JobKill`); then re-run, as GitHub's "Re-run job" does.

    result = run_job(hub, tmp_path / "run1", handle_comment, event, env=store.env(), kill_after=3)
    assert result.killed

`flow(ctx, *args)` must be importable by name (a module-level function); the job builds its own context (a
fresh adapter and a fresh clone of the repository, as a new run does) and prints nothing the caller needs but
its result's `outcome`, if it has one.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from localhub.faults import JobKill
from localhub.hub import ACTIONS_BOT

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class JobResult:
    returncode: int
    killed: bool
    outcome: str | None
    stderr: str


@dataclass(frozen=True)
class JobSpec:
    api_url: str
    repository: str
    token: str
    clone_url: str
    workdir: str
    now: datetime
    flow: Callable[..., Any]
    args: tuple[Any, ...]


def run_job(running: Any, workdir: Path, flow: Callable[..., Any], *args: Any, now: datetime,
            env: dict[str, str] | None = None, kill_after: int | None = None, timeout: float = 600) -> JobResult:
    """Run `flow(ctx, *args)` in a job process acting as github-actions[bot]; with `kill_after=k`, localhub
    kills it (and everything it started) right after its k-th API request took effect."""
    hub = running.hub
    workdir.mkdir(parents=True, exist_ok=True)
    spec = JobSpec(running.url, hub.state.repo.full_name, hub.token_for(ACTIONS_BOT), hub.clone_url(), str(workdir),
                   now, flow, args)
    kill = JobKill(ACTIONS_BOT, kill_after) if kill_after is not None else None
    running.faults.kill = kill
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tests.support.jobs"], cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)})
        if kill is not None:
            kill.arm(proc.pid)
        out, err = proc.communicate(pickle.dumps(spec), timeout=timeout)
    finally:
        running.faults.kill = None
    killed = kill is not None and kill.killed
    text = out.decode(errors="replace").strip().splitlines()
    outcome = text[-1] if text and proc.returncode == 0 else None
    if not killed and proc.returncode != 0:
        raise AssertionError(f"the job failed ({proc.returncode}):\n{err.decode(errors='replace')[-4000:]}")
    return JobResult(proc.returncode, killed, outcome, err.decode(errors="replace"))


def _context(spec: JobSpec) -> Any:
    from bot.flows.context import BotContext
    from bot.github.client import GitHubForge
    from bot.github.config import GitHubConfig

    workdir = Path(spec.workdir)
    checkout = workdir / "workspace"
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(workdir), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    subprocess.run(["git", "clone", "-q", spec.clone_url, str(checkout)], check=True, capture_output=True, env=env)
    return BotContext(
        GitHubForge(GitHubConfig(spec.api_url, spec.repository, spec.token), bot_login=ACTIONS_BOT),
        "main",
        spec.now,
        workspace=checkout,
        run_url=f"{spec.api_url.replace('/api/v3', '')}/{spec.repository}/actions/runs/1",
        bot_login=ACTIONS_BOT,
        reports=workdir / "reports",
    )


def main() -> int:
    spec: JobSpec = pickle.loads(sys.stdin.buffer.read())
    result = spec.flow(_context(spec), *spec.args)
    print(getattr(result, "outcome", "done"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
