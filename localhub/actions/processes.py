"""The processes a job's steps start, ended as GitHub's runner ends them.

Each `run:` step starts in a session of its own, so its process group holds its shell and whatever the shell
starts in the background. A step that times out has its whole group ended, not only its shell; when the job
ends (or the runner is interrupted), whatever its steps left running is ended too, as GitHub's runner does in
"Cleaning up orphan processes": every process of the steps' groups, and every process carrying the job's
`RUNNER_TRACKING_ID` (GitHub's own mark, which finds a process that left its step's group by starting a
session of its own). Ending is SIGTERM, then SIGKILL to what is still alive after a short grace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
GRACE_S = 5.0
TRACKING = "RUNNER_TRACKING_ID"


def tracking_id() -> str:
    """A fresh mark for one job's processes (GitHub's runner writes `github_` and a GUID)."""
    return f"github_{uuid.uuid4()}"


def members(groups: Iterable[int], tracking: str | None = None) -> set[int]:
    """Live processes (not zombies) of `groups`, or carrying `RUNNER_TRACKING_ID=tracking`; this process never."""
    wanted = set(groups)
    mark = f"{TRACKING}={tracking}".encode() if tracking else None
    found = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state, pgrp = _stat(entry)
            if state == "Z":
                continue
            if pgrp in wanted or (mark is not None and mark in (entry / "environ").read_bytes().split(b"\0")):
                found.add(int(entry.name))
        except (OSError, ValueError, IndexError):  # gone meanwhile, or another user's process
            continue
    return found


def end(groups: Iterable[int], tracking: str | None = None, grace_s: float = GRACE_S) -> list[int]:
    """End every process `members` finds: SIGTERM, then SIGKILL to those alive after `grace_s`. Returns the pids
    it signalled."""
    groups = list(groups)
    if not PROC.is_dir():  # no /proc to read (not Linux): the groups, signalled as groups
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        return []
    targets = members(groups, tracking)
    if not targets:
        return []
    _send(targets, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        left = targets & members(groups, tracking)
        if not left:
            break
        time.sleep(0.05)
    else:
        _send(targets & members(groups, tracking), signal.SIGKILL)
    return sorted(targets)


def _send(pids: Iterable[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _stat(entry: Path) -> tuple[str, int]:
    """A process's state letter and process group, from /proc/PID/stat (its name, in parentheses, may hold
    spaces: the fields are read after the last one)."""
    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])
