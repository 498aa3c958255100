"""The uninterrupted story of a crash-consistency family (tests/flows/test_crash_*.py), told once per test
process and kept: every kill point of the family compares its story's end with it.

Once per process, not per session: each pytest-xdist worker tells its own (in its own tmp_path), so nothing is
shared between processes and no file is written outside the test's directory. A lock keeps two threads of one
process from telling it twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_TOLD: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()


def baseline(key: str, tell: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What `tell()` returned the first time this process asked for `key` (a family's name): the uninterrupted
    story's end state and figures. Tell it again by asking under another key."""
    with _LOCK:
        if key not in _TOLD:
            _TOLD[key] = tell()
        return _TOLD[key]
