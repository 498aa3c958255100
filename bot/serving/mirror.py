"""Mirrored requests kept off the request path: one bounded lane per shadow, drained by a task of its own.

The live request only appends its mirror to the lane (or counts it dropped when the lane is full) and answers;
the lane's task sends at most `inflight` mirrors at a time to the shadow's process, yielding to the event loop
before each, so live work that is ready goes first and the shadow never holds a backlog in its pipe. A shadow
slower than the live traffic fills its lane, and the mirrors beyond are dropped and counted (`dropped`) instead
of piling up in the gateway: what is compared stays a plain sample of the traffic, and what is not is visible.

The work a shadow's answer costs the gateway (decoding, comparing, logging) waits until no live request is in
the gateway (`live` counts them), for at most `defer_s`, and is done in one batch: at a moderate rate it falls
between live requests, never in one; under a steady load it is done `defer_s` late, and its lane slot is free
meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

CAPACITY = 32  # mirrors waiting per shadow
INFLIGHT = 2  # mirrors sent to the shadow's process and not answered yet
DEFER_S = 0.02  # the longest a shadow's answer waits for a moment without live requests

_log = logging.getLogger("modelbot.serve")

Key = tuple[str, str, str]  # model, stage, shadow version
Finish = Callable[[], None]  # what is left of a mirror once the shadow answered: compare, count, log


@dataclass
class _Lane:
    waiting: deque[Any] = field(default_factory=deque)
    running: int = 0
    freed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Mirror:
    """Lanes by key (the shadow version of a stage). `run(key, job)` sends one job to the shadow and returns,
    once it answered, what is left to do (or None); `dropped(key, reason)` is told of each job dropped (`full`:
    the lane held `capacity` jobs already)."""

    def __init__(
        self,
        run: Callable[[Key, Any], Awaitable[Finish | None]],
        dropped: Callable[[Key, str], None],
        capacity: int = CAPACITY,
        inflight: int = INFLIGHT,
        defer_s: float = DEFER_S,
    ) -> None:
        if capacity < 0 or inflight < 1:
            raise ValueError(f"a mirror lane needs capacity >= 0 and inflight >= 1 (got {capacity}, {inflight})")
        self.run, self.dropped = run, dropped
        self.capacity, self.inflight, self.defer_s = capacity, inflight, defer_s
        self._lanes: dict[Key, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._live = 0
        self._finishing: list[tuple[Key, Finish]] = []
        self._timer: asyncio.TimerHandle | None = None

    @contextlib.contextmanager
    def live(self) -> Iterator[None]:
        """Around a live request: while any is in the gateway, the answers of the shadows wait."""
        self._live += 1
        try:
            yield
        finally:
            self._live -= 1
            if not self._live and self._finishing:
                asyncio.get_running_loop().call_soon(self._finish)  # after this request's answer is sent

    def _later(self, key: Key, finish: Finish) -> None:
        """Run `finish` once no live request is in the gateway, at the latest `defer_s` from now."""
        self._finishing.append((key, finish))
        if not self._live:
            self._finish()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.defer_s, self._finish)

    def _finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        finishing, self._finishing = self._finishing, []
        for _, finish in finishing:
            try:
                finish()
            except Exception:  # one comparison's bug must not lose the others'
                _log.exception("comparing a shadow's answer failed")

    def offer(self, key: Key, job: Any) -> bool:
        """Queue a mirror (constant time, nothing awaited); False when it was dropped."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        if len(lane.waiting) >= self.capacity:
            self.dropped(key, "full")
            return False
        lane.waiting.append(job)
        if lane.task is None:
            lane.task = asyncio.get_running_loop().create_task(self._drain(key, lane), name=f"mirror {key}")
        return True

    def pending(self, key: Key) -> int:
        """Mirrors of one lane waiting, sent, or answered and not compared yet."""
        lane = self._lanes.get(key)
        queued = len(lane.waiting) + lane.running if lane is not None else 0
        return queued + sum(1 for found, _ in self._finishing if found == key)

    async def _drain(self, key: Key, lane: _Lane) -> None:
        try:
            while lane.waiting:
                await asyncio.sleep(0)  # whatever is ready now (live requests) goes first
                while lane.running >= self.inflight:
                    lane.freed.clear()
                    await lane.freed.wait()
                if not lane.waiting:
                    break
                job = lane.waiting.popleft()
                lane.running += 1
                task = asyncio.get_running_loop().create_task(self._one(key, lane, job))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            lane.task = None
            if not lane.waiting and not lane.running:
                self._lanes.pop(key, None)

    async def _one(self, key: Key, lane: _Lane, job: Any) -> None:
        try:
            finish = await self.run(key, job)
        finally:
            lane.running -= 1
            lane.freed.set()
            if lane.task is None and lane.waiting:  # the drainer ended while this ran: start it again
                lane.task = asyncio.get_running_loop().create_task(self._drain(key, lane), name=f"mirror {key}")
            elif lane.task is None and not lane.running and self._lanes.get(key) is lane:
                del self._lanes[key]
        if finish is not None:
            self._later(key, finish)

    async def close(self) -> None:
        """Finish what was answered, drop what waits and cancel what runs (the gateway is stopping)."""
        self._finish()
        for lane in self._lanes.values():
            lane.waiting.clear()
            if lane.task is not None:
                lane.task.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in [*self._tasks, *(lane.task for lane in self._lanes.values() if lane.task is not None)]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._lanes.clear()
