"""Reading one item ahead in a background thread, with a bound: the producer (e.g. Parquet decoding, which
releases the GIL) works on the next batch while the caller works on this one, and never holds more than
`depth` finished items besides the one it is making, however slow the caller is. (A pyarrow dataset scanner
also reads ahead, but buffers up to its sink's backpressure limit, hundreds of MB, when the caller is slow.)"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead(produce: Callable[[], Iterator[T]], depth: int = 1) -> Generator[T, None, None]:
    """The items of `produce()`, made in a daemon thread at most `depth` ahead; its exception is raised here, at
    the point of the stream where it happened. Closing this generator early stops the producer."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        items = produce()
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the caller, raised there
            put(_Failed(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's files and scanners are released now, not when it is collected
        put(_DONE)

    worker = threading.Thread(target=run, name="modelbot-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]  # anything else is an item of produce()
    finally:
        stop.set()
        worker.join()
