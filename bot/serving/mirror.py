"""Mirrored requests kept off the request path: one bounded lane per shadow, drained by a task of its own.

The live request only appends its mirror to the lane (or counts it dropped when the lane is full) and answers;
the lane's task sends at most `inflight` mirrors at a time to the shadow's process, yielding to the event loop
before each, so live work that is ready goes first and the shadow never holds a backlog in its pipe. A shadow
slower than the live traffic fills its lane, and the mirrors beyond are dropped and counted (`dropped`) instead
of piling up in the gateway: what is compared stays a plain sample of the traffic, and what is not is visible.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

CAPACITY = 32  # mirrors waiting per shadow
INFLIGHT = 2  # mirrors sent to the shadow's process and not answered yet

Key = tuple[str, str, str]  # model, stage, shadow version


@dataclass
class _Lane:
    waiting: deque[Any] = field(default_factory=deque)
    running: int = 0
    freed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Mirror:
    """Lanes by key (the shadow version of a stage). `run(key, job)` mirrors one job; `dropped(key, reason)` is
    told of each job dropped (`full`: the lane held `capacity` jobs already)."""

    def __init__(
        self,
        run: Callable[[Key, Any], Awaitable[None]],
        dropped: Callable[[Key, str], None],
        capacity: int = CAPACITY,
        inflight: int = INFLIGHT,
    ) -> None:
        if capacity < 0 or inflight < 1:
            raise ValueError(f"a mirror lane needs capacity >= 0 and inflight >= 1 (got {capacity}, {inflight})")
        self.run, self.dropped = run, dropped
        self.capacity, self.inflight = capacity, inflight
        self._lanes: dict[Key, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()

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

    def pending(self) -> int:
        """Mirrors waiting or sent and not finished, over every lane."""
        return sum(len(lane.waiting) + lane.running for lane in self._lanes.values())

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
            await self.run(key, job)
        finally:
            lane.running -= 1
            lane.freed.set()
            if lane.task is None and lane.waiting:  # the drainer ended while this ran: start it again
                lane.task = asyncio.get_running_loop().create_task(self._drain(key, lane), name=f"mirror {key}")
            elif lane.task is None and not lane.running and self._lanes.get(key) is lane:
                del self._lanes[key]

    async def close(self) -> None:
        """Drop what waits and cancel what runs (the gateway is stopping)."""
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
