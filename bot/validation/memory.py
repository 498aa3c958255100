"""Process memory tuning for validating millions of rows.

glibc raises its mmap threshold after the first large block is freed (up to 32 MiB), after which row-sized
NumPy temporaries come from the heap, whose freed pages are rarely returned to the system: resident memory then
follows the sum of past temporaries instead of live data. Fixing the threshold at 1 MiB (mallopt, as
MALLOC_MMAP_THRESHOLD_ would) keeps every row-sized array in its own mapping, returned when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_MMAP_THRESHOLD = -3
THRESHOLD = 1 << 20


def return_freed_arrays() -> bool:
    """Best effort on Linux with glibc; False (and nothing changed) elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False
