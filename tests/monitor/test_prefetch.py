"""prefetch.ahead: the producer's items in order, its error raised at its place in the stream, never more than
`depth` items made ahead of the caller, and the producer stopped when the caller stops early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.monitor import prefetch


def test_items_in_order_and_the_error_where_it_happened() -> None:
    def produce() -> Iterator[int]:
        yield from range(5)
        raise ValueError("row group 5 is corrupt")

    seen: list[int] = []
    with pytest.raises(ValueError, match="row group 5"):
        for item in prefetch.ahead(produce):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_the_producer_is_never_more_than_depth_ahead_and_stops_when_the_caller_does() -> None:
    made: list[int] = []
    lead: list[int] = []
    finished = threading.Event()

    def produce() -> Iterator[int]:
        try:
            for i in range(1000):
                made.append(i)
                yield i
        finally:
            finished.set()

    stream = prefetch.ahead(produce, depth=2)
    for consumed, item in enumerate(stream, 1):
        lead.append(len(made) - consumed)
        if item == 20:
            break
    stream.close()
    assert finished.is_set()  # closing joined the producer, which left its loop
    assert max(lead) <= 3  # two in the queue and one made while waiting to be put
    assert len(made) <= 21 + 3
