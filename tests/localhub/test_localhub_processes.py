"""What a job's steps start in the background ends with the job, as on GitHub's runner: a step ends when its
shell does (a background process does not hold it), later steps of the job still see that process, and when
the job ends every process its steps started is gone (those that started a session of their own too); a step
that times out takes everything it started with it."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localhub.actions import processes
from localhub.actions.runner import ActionsRunner, JobRun
from tests.support.localhub import RunningHub

ESCAPES = "import os, sys, time; os.setsid(); time.sleep(300)"  # leaves the step's process group

BACKGROUND = f"""\
on: [push]
jobs:
  j:
    steps:
      - id: start
        run: |
          sleep 300 &
          echo "sleeper=$!" >> "$GITHUB_OUTPUT"
          python -c "{ESCAPES}" &
          echo "escaper=$!" >> "$GITHUB_OUTPUT"
          echo started
      - id: later
        run: |
          kill -0 ${{{{ steps.start.outputs.sleeper }}}} && echo "sleeper alive"
          kill -0 ${{{{ steps.start.outputs.escaper }}}} && echo "escaper alive"
"""

TIMEOUT = """\
on: [push]
jobs:
  j:
    steps:
      - id: slow
        timeout-minutes: 0.05
        run: |
          sleep 300 &
          echo $! > sleeper.pid
          sleep 300
      - id: after
        if: always()
        run: |
          pid=$(cat sleeper.pid)
          echo "sleeper=$pid" >> "$GITHUB_OUTPUT"
          if [ -e "/proc/$pid" ] && ! grep -q ') Z ' "/proc/$pid/stat"; then echo "alive"; else echo "gone"; fi
"""


@pytest.fixture
def ended() -> Iterator[list[int]]:
    """Pids a test saw; whatever is left of them when it ends is killed (a failing test leaves nothing)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def run(localhub_factory: Callable[..., RunningHub], tmp_path: Path, workflow: str) -> JobRun:
    hub = localhub_factory(files={".github/workflows/w.yml": workflow})
    runner = ActionsRunner(hub.server, tmp_path / "runs", timeout=60)  # a step held by its child fails, not hangs
    hub.hub.as_user("bob").push("main", {"trigger.txt": "x\n"}, "trigger")
    (job,) = runner.run_pending()
    return job


def alive(pid: int) -> bool:
    try:
        return processes._stat(Path("/proc") / str(pid))[0] != "Z"
    except OSError:
        return False


def gone(pids: list[int], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(p) for p in pids)


def test_what_a_step_starts_in_the_background_lives_through_the_job_and_ends_with_it(
    localhub_factory: Callable[..., RunningHub], tmp_path: Path, ended: list[int]
) -> None:
    job = run(localhub_factory, tmp_path, BACKGROUND)
    start, later = job.steps
    ended += [int(start.outputs["sleeper"]), int(start.outputs["escaper"])]
    assert (start.conclusion, start.log.strip()) == ("success", "started")
    assert later.conclusion == "success" and later.log.split("\n")[:2] == ["sleeper alive", "escaper alive"]
    assert start.env["RUNNER_TRACKING_ID"].startswith("github_")
    assert gone(ended), [p for p in ended if alive(p)]


def test_a_step_that_times_out_ends_with_all_it_started(
    localhub_factory: Callable[..., RunningHub], tmp_path: Path, ended: list[int]
) -> None:
    job = run(localhub_factory, tmp_path, TIMEOUT)
    slow, after = job.steps
    ended.append(int(after.outputs["sleeper"]))
    assert slow.conclusion == "failure" and "timed out after 0.05 minutes" in slow.log
    assert after.conclusion == "success" and after.log.strip() == "gone"  # before the job ended


def test_ending_finds_a_process_by_its_tracking_id_and_spares_others(ended: list[int]) -> None:
    import subprocess
    import sys

    mark = processes.tracking_id()
    sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
    marked = subprocess.Popen(sleep, env={**os.environ, processes.TRACKING: mark}, start_new_session=True)
    other = subprocess.Popen(sleep, env={**os.environ, processes.TRACKING: processes.tracking_id()},
                             start_new_session=True)
    ended += [marked.pid, other.pid]
    assert processes.members([], mark) == {marked.pid}
    assert processes.end([], mark) == [marked.pid]
    assert marked.wait(10) == -signal.SIGTERM
    assert other.poll() is None
