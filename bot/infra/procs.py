"""The sandbox's process tree, read from /proc: who is in a process group, how much memory it holds, who owns a
listening port, and how to end the group.

The server runs in its own session, so its process group id names the whole tree (the `mlflow` CLI, the
uvicorn supervisor and its workers). Linux only, like the runners the bot targets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

_PROC = Path("/proc")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_LISTEN = "0A"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may hold spaces or parentheses)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rindex(")") + 2 :].split()


def group_members(pgid: int, include_zombies: bool = False) -> list[int]:
    """Processes whose process group is `pgid`; zombies (already dead, not yet reaped) only when asked."""
    members = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or int(fields[2]) != pgid:
            continue
        if fields[0] == "Z" and not include_zombies:
            continue
        members.append(int(entry.name))
    return members


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of these processes, summed (the figure a container memory limit counts)."""
    total = 0
    for pid in pids:
        try:
            total += int((_PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
    return total


def listener_inodes(port: int) -> set[str]:
    """Socket inodes listening on a loopback or wildcard TCP `port` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in lines:
            cols = row.split()
            if cols[3] == _LISTEN and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    return inodes


def listener_owner(pids: list[int], port: int) -> int | None:
    """Which of `pids` serves `port`: the top-most process holding its listening socket (a supervisor shares
    it with its workers), or None if another program holds it. A healthy answer from a port proves nothing
    if another program got there first."""
    wanted = {f"socket:[{inode}]" for inode in listener_inodes(port)}
    owners = [pid for pid in pids if wanted and _holds(pid, wanted)]
    parents = {pid: _stat_fields(pid) for pid in owners}
    top = [pid for pid, fields in parents.items() if fields is not None and int(fields[1]) not in parents]
    return min(top) if top else None


def _holds(pid: int, sockets: set[str]) -> bool:
    with contextlib.suppress(FileNotFoundError, PermissionError, ProcessLookupError):
        for fd in (_PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(FileNotFoundError, OSError):
                if os.readlink(fd) in sockets:
                    return True
    return False


def running(pid: int) -> bool:
    """Whether a process exists and has not exited (a zombie has)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def end_group(pgid: int, reap: Callable[[], object], grace_s: float = 3.0, settle_s: float = 5.0) -> list[int]:
    """SIGTERM the group, SIGKILL what is left after `grace_s`, then wait up to `settle_s` until every member
    is reaped (`reap` collects our own child; init collects the rest). Returns the processes still alive."""
    signal_group(pgid, signal.SIGTERM)
    if not _wait_empty(pgid, grace_s, reap):
        signal_group(pgid, signal.SIGKILL)
        _wait_empty(pgid, settle_s, reap)
    _wait_empty(pgid, settle_s, reap, include_zombies=True)
    return group_members(pgid)


def _wait_empty(pgid: int, timeout_s: float, reap: Callable[[], object], include_zombies: bool = False) -> bool:
    deadline = time.monotonic() + timeout_s
    while reap() is None or group_members(pgid, include_zombies):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
