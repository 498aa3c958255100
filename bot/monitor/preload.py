"""Importing a heavy module in the background, so that its fixed cost overlaps other work instead of adding to it
(SciPy's special functions take ~0.1-0.2 s to import; a monitoring run needs them after the scan, for chi-square
p-values and normal intervals, and imports them beside its last statistics and checks: an import holds the GIL,
so started during the scan it held up the reader and the accumulator)."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence


def start(modules: Sequence[str]) -> threading.Thread:
    """A daemon thread importing `modules`. A failure is left for the real import to raise where the module is
    used; joining is never needed (Python's import lock makes that import wait for this one)."""

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:
                return

    thread = threading.Thread(target=load, name="modelbot-preload", daemon=True)
    thread.start()
    return thread
