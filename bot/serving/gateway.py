"""The gateway's engine: the serving state, the backends it needs, one request from route to answer, and the
reload that applies a new state without dropping a request in flight.

A request reads the state once, at its start, and keeps the backends it picked, so a reload (which swaps the
state in one assignment on the event loop) never changes a request midway; a backend the new state no longer
needs drains its requests in flight before its process ends. Versions that become live (a blue-green switch, a
direct promotion) or the fallback are started and warmed with the stage's recent requests before the swap; a
process restarted after a crash is warmed the same way before it takes requests again, and a fallback still cold
(the gateway's start) is warmed in the background once the stage has seen requests.

A failed request costs no more than the fallback's own answer: the fallback reads the frame the routed version
was sent when their input schemas are the same, and the request is checked against the routed version's
signature (to answer a wrong input with the client's 400 rather than a fallback) only when the fallback did not
answer that same frame (its model process ran the same check). A shadow is mirrored through `mirror.Mirror`:
after the live answer, bounded, dropped and counted when the shadow cannot keep up.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import random
import re
import time
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import gitio
from bot.errors import ModelbotError
from bot.serving import feedback as feedbacks
from bot.serving import mirror, payloads, routing
from bot.serving import state as serving_state
from bot.serving.backends import Backend, BackendError
from bot.serving.metrics import Metrics
from bot.serving.predlog import PredictionLog, now
from bot.serving.state import Plan, ServingState

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
COLOURS = ("blue", "green")
FEEDBACK_MEMORY = 100_000  # answers remembered for /feedback, at most ...
FEEDBACK_ROWS = 1_000_000  # ... and rows of predictions among them (a client's 10 MB bodies would fill memory)
RESTART_WARM_REQUESTS = 8  # recent requests replayed to a process restarted after a crash
FALLBACK_WARM_REQUESTS = 4  # replayed to a fallback that has never answered, once the stage has seen requests
DROPS_LOGGED_S = 1.0  # dropped mirrors are summed into one log line per shadow at most this often
WHY_DROPPED = {
    "full": "its lane was full: the shadow answers slower than the live traffic comes",
    "retired": "the serving state changed before they were sent: the version shadows no more",
}
_log = logging.getLogger("modelbot.serve")


@dataclass(frozen=True)
class Settings:
    repo: Path
    ref: str = "HEAD"
    log_dir: Path | None = None
    poll_s: float = 2.0
    max_body_bytes: int = 10 * 1024 * 1024
    request_timeout_s: float = 60.0
    hang_s: float = 30.0
    load_timeout_s: float = 120.0
    drain_s: float = 30.0
    warm_requests: int = 32
    seed: int | None = None
    mirror_capacity: int = mirror.CAPACITY
    mirror_inflight: int = mirror.INFLIGHT


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def error_body(code: str, message: str) -> bytes:
    import json

    return json.dumps({"error_code": code, "message": message}).encode()


@dataclass(frozen=True)
class _Read:
    """How a version read the request (its pickled frame and input schema), so a fallback or shadow with the
    same schema answers that frame instead of parsing the request again; with the version's signature and the
    parsed input, so the failure path can check the input against it when no model process has."""

    frame: bytes | None
    schema: str | None  # the version's `Signature.reads`
    rows: int | None
    signature: payloads.Signature | None = None
    data: Any = None

    def enforce(self) -> None:
        """Raise BadInput (the client's 400) when the input does not match the routed version's signature."""
        if self.signature is not None and self.data is not None:
            payloads.enforce(self.data, self.signature)


@dataclass(frozen=True)
class _Mirrored:
    """One request to mirror to a shadow, with the live answer to compare."""

    plan: Plan
    version: str
    request_id: str
    body: bytes
    content_type: str | None
    live: _Served


def _frame_for(signature: Any, read: _Read | None, body: bytes, content_type: str | None) -> tuple[bytes, int | None]:
    """The pickled input a version with `signature` reads from the request: the frame another version already
    read when their input schemas are the same (the request is not parsed twice), else a parse of its own."""
    if read is not None and read.frame is not None and read.schema == signature.reads:
        return read.frame, read.rows
    parsed = payloads.parse(body, content_type, signature)
    return pickle.dumps(parsed.data, protocol=5), parsed.rows


@dataclass
class _Served:
    version: str
    body: bytes
    predictions: Any
    fallback: bool = False
    reason: str | None = None
    inputs: Any = None
    frame: bytes | None = None  # the pickled input the live version answered (reused by the shadow)


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.state: ServingState | None = None
        self.backends: dict[str, Backend] = {}  # by model URI
        self.colours: dict[tuple[str, str], dict[str, str]] = {}
        self.recent: dict[tuple[str, str], deque[tuple[bytes, str | None]]] = {}
        self.log = PredictionLog(settings.log_dir) if settings.log_dir is not None else None
        self.reload_error: str | None = None
        self._rng = random.Random(settings.seed)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._served: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._served_rows = 0  # rows of the predictions in `_served` (an ambiguous id: 1)
        self._poller: asyncio.Task[None] | None = None
        self._refused: str | None = None
        self.mirror = mirror.Mirror(self._shadow, self._dropped, settings.mirror_capacity, settings.mirror_inflight)
        self._drops: Counter[tuple[str, str, str, str]] = Counter()

    # --- lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.log is not None:
            self.log.start()
        await self.reload("start")
        if self.settings.poll_s > 0:
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="follow ref")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        await asyncio.gather(*(b.close(drain_s=5.0) for b in list(self.backends.values())), return_exceptions=True)
        self.backends.clear()
        await self.mirror.close()
        for task in list(self._tasks):
            task.cancel()
        self._log_drops()
        if self.log is not None:
            await self.log.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_s)
            try:
                sha = await asyncio.to_thread(gitio.resolve, self.settings.repo, self.settings.ref)
            except ModelbotError as exc:
                self.reload_error = str(exc)
                continue
            if (self.state is None or sha != self.state.commit) and sha != self._refused:
                try:
                    await self.reload("new commit")
                except ModelbotError:
                    self._refused = sha  # an unservable commit is tried again when the ref moves, not every poll

    def _listener(self, backend: Backend, what: str) -> None:
        up = self.metrics.backend_up.labels(backend.model, backend.version)
        up.set(1 if what == "ready" else 0)
        if what == "starting" and backend.restarts:
            self.metrics.restarts.labels(backend.model, backend.version).inc()

    # --- reload -----------------------------------------------------------------------------------------------
    async def reload(self, why: str = "asked") -> dict[str, Any]:
        """Read the state at the ref and apply it; returns what changed. Serialised: one reload at a time."""
        async with self._lock:
            try:
                new = await asyncio.to_thread(serving_state.read_apart, self.settings.repo, self.settings.ref)
            except ModelbotError as exc:
                self.reload_error = str(exc)
                self.metrics.reloads.labels("failed").inc()
                raise
            old = self.state
            if old is not None and new.commit == old.commit:
                return {"commit": new.commit, "changed": False, "reason": why}
            started: list[Backend] = []
            for uri, (model, version) in new.backends().items():
                if uri not in self.backends:
                    backend = Backend(
                        model,
                        version,
                        uri,
                        load_timeout_s=self.settings.load_timeout_s,
                        hang_s=self.settings.hang_s,
                        listener=self._listener,
                        warmer=self._restart_frames,
                    )
                    backend.start()
                    self.backends[uri] = backend
                    started.append(backend)
            incoming = self._incoming(old, new)
            await asyncio.gather(*(self._prepare(plan, version) for plan, version in incoming))
            # every new process, not only live ones, is up (or has failed to load) before the switch: a shadow
            # or a fallback that is still loading would only count errors, and its loading would take the CPU
            # from the live versions after the reload has returned
            await asyncio.gather(*(b.wait_ready(self.settings.load_timeout_s) for b in started))
            answering = {p.uris[v] for p in new.plans.values() for v in (*p.live, p.preview, p.fallback.version) if v}
            for uri, backend in self.backends.items():
                backend.prioritise(uri not in answering)
            self.colours = {key: self._colours(old, plan) for key, plan in new.plans.items()}
            self.state = new  # the switch: one assignment, seen by every request that starts after it
            self.reload_error = None
            needed = new.backends()
            retired = [b for uri, b in self.backends.items() if uri not in needed]
            for backend in retired:
                del self.backends[backend.uri]
                self._spawn(backend.close(self.settings.drain_s))
            self.metrics.reloads.labels("applied").inc()
            return {
                "commit": new.commit,
                "changed": True,
                "reason": why,
                "started": [f"{b.model} {b.version}" for b in started],
                "retired": [f"{b.model} {b.version}" for b in retired],
                "problems": list(new.problems),
            }

    @staticmethod
    def _incoming(old: ServingState | None, new: ServingState) -> list[tuple[Plan, str]]:
        """Versions that start answering in `new` (live, preview or fallback): warmed before the switch."""
        out = []
        for key, plan in new.plans.items():
            before = old.plan(*key) if old is not None else None
            had = set(_answering(before)) if before is not None else set()
            for version in _answering(plan):
                if version not in had and old is not None:
                    out.append((plan, version))
        return out

    async def _prepare(self, plan: Plan, version: str) -> None:
        backend = self.backends[plan.uris[version]]
        if not await backend.wait_ready(self.settings.load_timeout_s) or backend.signature is None:
            return
        await backend.warm(self._frames(backend, self.recent.get((plan.model, plan.stage), ())))

    async def _frames(self, backend: Backend, requests: Any, limit: int | None = None) -> AsyncIterator[bytes]:
        """Recent requests as `backend` reads them, one at a time (the event loop turns between parses, so a
        replay never holds live requests back for more than one parse)."""
        if backend.signature is None:
            return
        for body, content_type in list(requests)[-limit if limit else None :]:
            try:
                parsed = payloads.parse(body, content_type, backend.signature)
            except payloads.BadInput:
                continue
            yield pickle.dumps(parsed.data, protocol=5)
            await asyncio.sleep(0)

    def _restart_frames(self, backend: Backend) -> AsyncIterator[bytes]:
        """The recent requests of the stages a restarted process answers for (the backend's `warmer`)."""
        requests: list[tuple[bytes, str | None]] = []
        current = self.state
        for plan in current.plans.values() if current is not None else ():
            if any(plan.uris.get(v) == backend.uri for v in plan.versions):
                requests.extend(self.recent.get((plan.model, plan.stage), ()))
        return self._frames(backend, requests, RESTART_WARM_REQUESTS)

    def _colours(self, old: ServingState | None, plan: Plan) -> dict[str, str]:
        """Blue and green: a version keeps its colour while it serves; a version coming in takes the colour the
        live version does not have."""
        before = self.colours.get((plan.model, plan.stage), {})
        kept = {v: c for v, c in before.items() if v in plan.versions}
        live = [kept[v] for v in plan.live if v in kept]
        current = live[0] if live else None
        for version in (*plan.live, *((plan.preview,) if plan.preview else ()), *plan.versions):
            if version not in kept:
                other = COLOURS[1] if current == COLOURS[0] else COLOURS[0]
                kept[version] = other if current is not None else COLOURS[0]
                current = current or kept[version]
        return kept

    # --- one request ------------------------------------------------------------------------------------------
    def backend(self, plan: Plan, version: str) -> Backend | None:
        uri = plan.uris.get(version)
        return self.backends.get(uri) if uri is not None else None

    def request_id(self, given: str | None) -> str:
        return given if given and REQUEST_ID.match(given) else uuid.uuid4().hex

    async def invoke(
        self, model: str, stage: str, body: bytes, content_type: str | None, headers: Mapping[str, str], request_id: str
    ) -> Reply:
        with self.mirror.live():
            return await self._invoke(model, stage, body, content_type, headers, request_id)

    async def _invoke(
        self, model: str, stage: str, body: bytes, content_type: str | None, headers: Mapping[str, str], request_id: str
    ) -> Reply:
        started = time.perf_counter()
        base = {"X-Request-Id": request_id}
        current = self.state
        plan = current.plan(model, stage) if current is not None else None
        if plan is None:
            return Reply(404, error_body("RESOURCE_DOES_NOT_EXIST", self._unknown(model, stage)), base)
        route = routing.route(plan, headers, self._rng.random() * 100, self._rng.random() * 100)
        backend = self.backend(plan, route.version)
        labels = (model, stage, route.version, route.arm)
        try:
            if backend is None or backend.signature is None:
                served = await self._failed(
                    plan,
                    route.version,
                    body,
                    content_type,
                    _Read(None, None, None),
                    started,
                    BackendError("down", f"version {route.version} has not loaded"),
                    labels,
                )
            else:
                # the model process enforces the signature (pyfunc's predict): checked here only if it fails
                parsed = payloads.parse(body, content_type, backend.signature, check=False)
                served = await self._serve(plan, route.version, backend, parsed, body, content_type, started, labels)
        except payloads.BadInput as exc:
            self.metrics.requests.labels(*labels).inc()
            return Reply(exc.status, error_body(exc.code, exc.message), base)
        except _Unavailable as exc:
            self.metrics.requests.labels(*labels).inc()
            self.metrics.duration.labels(*labels).observe(time.perf_counter() - started)
            self._record(request_id, plan, route, None, None, started, exc.message, exc.status)
            headers_out = {**base, "X-Modelbot-Version": route.version}
            if exc.status == 503:
                headers_out["Retry-After"] = "1"
            return Reply(exc.status, error_body(exc.code, exc.message), headers_out)
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(*labels).inc()
        self.metrics.duration.labels(*labels).observe(elapsed)
        if route.arm != "preview":
            self._remember(plan, body, content_type)
        self._record(request_id, plan, route, served, served.inputs, started, None, 200)
        if route.shadow is not None and not served.fallback:
            job = _Mirrored(plan, route.shadow, request_id, body, content_type, served)
            self.mirror.offer((model, stage, route.shadow), job)
        out = {
            **base,
            "X-Modelbot-Version": served.version,
            "X-Modelbot-Arm": route.arm,
            "X-Modelbot-Fallback": "true" if served.fallback else "false",
            "X-Modelbot-Colour": self.colours.get((model, stage), {}).get(route.version, ""),
        }
        if served.reason is not None:
            out["X-Modelbot-Fallback-Reason"] = served.reason
        return Reply(200, served.body, out)

    def _unknown(self, model: str, stage: str) -> str:
        current = self.state
        models = sorted({m for m, _ in current.plans}) if current is not None else []
        if model not in models:
            return f"no model {model!r} is served; served models: {', '.join(models) or 'none'}"
        stages = sorted(s for m, s in current.plans if m == model) if current is not None else []
        return f"{model} serves no version in stage {stage!r}; stages served: {', '.join(stages)}"

    def _timeout(self, plan: Plan) -> float:
        fb = plan.fallback
        if fb.configured and fb.timeout_ms is not None:
            return fb.timeout_ms / 1000.0
        return self.settings.request_timeout_s

    async def _serve(
        self,
        plan: Plan,
        version: str,
        backend: Backend,
        parsed: payloads.Parsed,
        body: bytes,
        content_type: str | None,
        started: float,
        labels: tuple[str, ...],
    ) -> _Served:
        frame = pickle.dumps(parsed.data, protocol=5)
        timeout = self._timeout(plan)
        try:
            # the policy's timeout is the answer's deadline, counted from the request's start (its parse included)
            left = max(0.0, timeout - (time.perf_counter() - started))
            raw = await asyncio.wait_for(backend.predict(frame), left)
            problem = payloads.invalid(raw, parsed.rows)
            if problem is not None:
                raise BackendError("invalid", f"version {version} gave an invalid answer: {problem}")
        except (BackendError, TimeoutError) as exc:
            failure = (
                exc
                if isinstance(exc, BackendError)
                else BackendError("timeout", f"version {version} did not answer within {timeout * 1000:g} ms")
            )
            signature = backend.signature
            schema = signature.reads if signature is not None else None
            read = _Read(frame, schema, parsed.rows, signature, parsed.data)
            served = await self._failed(plan, version, body, content_type, read, started, failure, labels)
        else:
            answer, predictions = payloads.answer(raw)
            served = _Served(version, answer, predictions, frame=frame)
        served.inputs = parsed.inputs
        return served

    async def _failed(
        self,
        plan: Plan,
        version: str,
        body: bytes,
        content_type: str | None,
        read: _Read,
        started: float,
        failure: BackendError,
        labels: tuple[str, ...],
    ) -> _Served:
        """The routed version failed: count it, then answer with the fallback version, else the constant.

        A wrong input is the client's 400, never a fallback's answer: when the fallback answered the very frame
        the routed version was sent, its model process checked it against the same schema already; otherwise
        the input is checked here against the routed version's signature before any other answer (and a wrong
        input is no error of the version's)."""
        fb = plan.fallback
        count = read.rows
        if fb.version is not None and fb.version != version:
            backend = self.backend(plan, fb.version)
            if backend is not None and backend.ready and backend.signature is not None:
                try:
                    frame, rows = _frame_for(backend.signature, read, body, content_type)
                    left = self.settings.request_timeout_s - (time.perf_counter() - started)
                    raw = await asyncio.wait_for(backend.predict(frame), max(0.001, left))
                except (payloads.BadInput, BackendError, TimeoutError):
                    raw = frame = None
                if frame is not None and payloads.invalid(raw, rows) is None:
                    if frame is not read.frame:
                        read.enforce()
                    self.metrics.errors.labels(*labels, failure.reason).inc()
                    answer, predictions = payloads.answer(raw)
                    self.metrics.fallbacks.labels(*labels, fb.version, failure.reason).inc()
                    return _Served(fb.version, answer, predictions, True, failure.reason)
        read.enforce()
        self.metrics.errors.labels(*labels, failure.reason).inc()
        if fb.constant is not None:
            count = count if count is not None else payload_rows(body)
            self.metrics.fallbacks.labels(*labels, "constant", failure.reason).inc()
            return _Served(
                "constant",
                payloads.constant_answer(fb.constant, count),
                [fb.constant] * (count or 1),
                True,
                failure.reason,
            )
        raise _Unavailable.of(failure)

    # --- shadow, log, feedback --------------------------------------------------------------------------------
    async def _shadow(self, key: mirror.Key, job: _Mirrored) -> mirror.Finish | None:
        """Send one mirrored request to the shadow version (from its lane, after the live answer); returns the
        comparison, which the lane runs when no live request is in the gateway."""
        plan, version, live = job.plan, job.version, job.live
        backend = self.backend(plan, version)
        if backend is None or backend.closed():
            self._dropped(key, "retired")  # the state changed while it waited: the shadow is no longer served
            return None
        began, ts = time.perf_counter(), now()
        try:
            if backend.signature is None:
                raise BackendError("down", f"shadow version {version} has not loaded")
            live_backend = self.backend(plan, live.version)
            live_read = (
                _Read(live.frame, live_backend.signature.reads, None)
                if live_backend is not None and live_backend.signature is not None
                else None
            )
            frame, _ = _frame_for(backend.signature, live_read, job.body, job.content_type)
            # no deadline of its own: a shadow holding a request `hang_s` is killed, which fails it
            answer = await backend.ask(frame)
        except (payloads.BadInput, BackendError) as exc:
            self._compared(job, backend, ts, time.perf_counter() - began, exc)
            return None
        latency = time.perf_counter() - began
        return lambda: self._compared(job, backend, ts, latency, answer)

    def _compared(
        self, job: _Mirrored, backend: Backend, ts: str, latency_s: float, answer: tuple[bytes, bytes] | Exception
    ) -> None:
        """Compare a shadow's answer with the live one: counted, and one log line (a failure is no comparison)."""
        labels = (job.plan.model, job.plan.stage, job.version)
        record: dict[str, Any] = {
            "ts": ts,
            "request_id": job.request_id,
            "model": job.plan.model,
            "stage": job.plan.stage,
            "version": job.version,
            "arm": "shadow",
            "shadow": True,
            "served_by": None,
            "latency_ms": round(latency_s * 1000, 3),
        }
        try:
            if isinstance(answer, Exception):
                raise answer
            predictions = payloads.plain(backend.read(answer))
        except (payloads.BadInput, BackendError) as exc:
            self.metrics.shadow_errors.labels(*labels).inc()
            record.update(error=str(exc), status=500)
            self._write(record)
            return
        agreed = payloads.agree(predictions, job.live.predictions, backend.classes)
        self.metrics.shadow_compared.labels(*labels).inc()
        if agreed:
            self.metrics.shadow_agreed.labels(*labels).inc()
        record.update(prediction=predictions, agreed=agreed, live_version=job.live.version, error=False, status=200)
        self._write(record)

    def _dropped(self, key: mirror.Key, reason: str) -> None:
        """A mirror the shadow's lane had no room for: counted now, logged in a summary line per shadow."""
        model, stage, version = key
        self.metrics.shadow_dropped.labels(model, stage, version, reason).inc()
        if not self._drops:
            asyncio.get_running_loop().call_later(DROPS_LOGGED_S, self._log_drops)
        self._drops[(model, stage, version, reason)] += 1

    def _log_drops(self) -> None:
        drops, self._drops = self._drops, Counter()
        for (model, stage, version, reason), count in drops.items():
            why = WHY_DROPPED.get(reason, reason)
            _log.warning(
                "%s %s: %d mirrored request(s) to shadow version %s dropped (%s)", model, stage, count, version, why
            )
            self._write(
                {
                    "ts": now(),
                    "kind": "shadow_dropped",
                    "model": model,
                    "stage": stage,
                    "version": version,
                    "arm": "shadow",
                    "shadow": True,
                    "dropped": count,
                    "reason": reason,
                    "error": f"{count} mirrored request(s) dropped ({reason})",
                }
            )

    def _remember(self, plan: Plan, body: bytes, content_type: str | None) -> None:
        if self.settings.warm_requests <= 0:
            return
        key = (plan.model, plan.stage)
        if key not in self.recent:
            self.recent[key] = deque(maxlen=self.settings.warm_requests)
        self.recent[key].append((body, content_type))
        fb = plan.fallback.version
        backend = self.backend(plan, fb) if fb is not None else None
        if backend is not None and backend.ready and not backend.answered and not backend.warming:
            # a fallback that has never answered (loaded with the gateway, before any request): warmed now, in
            # the background, so the first failure it answers for is not also its first prediction
            backend.warming = True
            self._spawn(self._warm_fallback(backend, list(self.recent[key])))

    async def _warm_fallback(self, backend: Backend, requests: list[tuple[bytes, str | None]]) -> None:
        backend.warming = False
        await backend.warm(self._frames(backend, requests, FALLBACK_WARM_REQUESTS))

    def _write(self, record: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.write(record)

    def _record(
        self,
        request_id: str,
        plan: Plan,
        route: routing.Route,
        served: _Served | None,
        inputs: Any,
        started: float,
        error: str | None,
        status: int,
    ) -> None:
        latency = round((time.perf_counter() - started) * 1000, 3)
        record = {
            "ts": now(),
            "request_id": request_id,
            "model": plan.model,
            "stage": plan.stage,
            "version": route.version,
            "arm": route.arm,
            "served_by": served.version if served else None,
            "fallback": bool(served and served.fallback),
            "shadow": False,
            "inputs": inputs,
            "prediction": served.predictions if served else None,
            "latency_ms": latency,
            "error": bool(error) or bool(served and served.fallback),
            "reason": error or (served.reason if served else None),
            "status": status,
        }
        self._write(record)
        if served is not None:
            backend = self.backend(plan, served.version)
            if request_id in self._served:
                # a caller's id that named another answer already: feedback about it could be about either
                # answer (and a client reusing someone else's id would take their labels), so it names none
                self._served_rows -= self._served[request_id].get("rows") or 1
                self._served[request_id] = {"ambiguous": True}
                self._served.move_to_end(request_id)
            else:
                self._served[request_id] = {
                    "model": plan.model,
                    "stage": plan.stage,
                    "version": route.version,
                    "arm": route.arm,
                    "served_by": served.version,
                    "prediction": served.predictions,
                    "rows": feedbacks.rows_of(served.predictions),
                    "classes": backend.classes if backend is not None else None,
                    "labelled": False,
                }
            self._served_rows += self._served[request_id].get("rows") or 1
            while len(self._served) > FEEDBACK_MEMORY or self._served_rows > FEEDBACK_ROWS:
                _, forgotten = self._served.popitem(last=False)
                self._served_rows -= forgotten.get("rows") or 1

    def feedback(self, request_id: str, truth: Any) -> dict[str, Any]:
        """Record the true label or outcome of an answered request; says whether the served answer was right.

        Feedback comes from anyone who can reach the gateway, so one answer counts once: the first label sent
        about it is its label (`counted`), later ones are logged as not counted and change no metric, or a
        client could outvote every other answer with one request. A label about an id the gateway does not
        remember, or one that named two answers, is logged with no model: no one's evidence. Raises
        BadFeedback for labels that cannot be the answer's (one per row)."""
        seen = self._served.get(request_id)
        record: dict[str, Any] = {"ts": now(), "kind": "feedback", "request_id": request_id, "truth": truth}
        outcome, counted = "unknown", False
        if seen is not None and seen.get("ambiguous"):
            outcome = "ambiguous"
        elif seen is not None:
            problem = feedbacks.misfit(truth, seen["rows"])
            if problem is not None:
                raise feedbacks.BadFeedback(f"request {request_id}: {problem}")
            predicted = payloads.label(seen["prediction"], seen["classes"])
            outcome = "correct" if payloads.agree(predicted, truth, None) else "wrong"
            counted, seen["labelled"] = not seen["labelled"], True
            record.update(
                {k: seen[k] for k in ("model", "stage", "version", "arm", "served_by")},
                predicted=predicted,
                outcome=outcome,
            )
            if counted:
                self.metrics.feedback.labels(seen["model"], seen["stage"], seen["version"], seen["arm"], outcome).inc()
        record["counted"] = counted
        self._write(record)
        attributed = seen is not None and not seen.get("ambiguous")
        return {
            "request_id": request_id,
            "known": attributed,
            "outcome": outcome,
            "counted": counted,
            **({"version": seen["version"], "served_by": seen["served_by"]} if seen is not None and attributed else {}),
        }

    # --- views ------------------------------------------------------------------------------------------------
    def describe(self, plan: Plan) -> dict[str, Any]:
        colours = self.colours.get((plan.model, plan.stage), {})
        live = set(plan.live)

        def backend(version: str) -> dict[str, Any]:
            found = self.backend(plan, version)
            return found.describe() if found is not None else {"version": version, "state": "absent"}

        versions = []
        for version in plan.versions:
            role = (
                "live"
                if version in live
                else "shadow"
                if version == plan.shadow
                else "preview"
                if version == plan.preview
                else "fallback"
            )
            weight = dict(plan.traffic).get(version, 0.0)
            mirrors = (
                {"mirrors_pending": self.mirror.pending((plan.model, plan.stage, version))} if role == "shadow" else {}
            )
            versions.append(
                {
                    **backend(version),
                    **mirrors,
                    "role": role,
                    "arm": plan.arm(version) if version in live else role,
                    "weight": weight,
                    "colour": colours.get(version),
                }
            )
        live_colours = [colours.get(v) for v in plan.live]
        return {
            **plan.as_dict(),
            "commit": self.state.commit if self.state else None,
            "versions": versions,
            "colour": live_colours[0] if len(live_colours) == 1 else None,
        }

    def readiness(self) -> tuple[bool, list[str]]:
        """Ready when every stage can answer: a live version ready, or a fallback that can."""
        if self.state is None:
            return False, [self.reload_error or "no serving state loaded yet"]
        waiting = []
        for plan in self.state.plans.values():
            for version in plan.live:
                found = self.backend(plan, version)
                if found is not None and found.ready:
                    continue
                fb = plan.fallback
                fb_backend = self.backend(plan, fb.version) if fb.version else None
                if fb.constant is not None or (fb_backend is not None and fb_backend.ready):
                    continue
                waiting.append(f"{plan.model} {plan.stage} version {version}: {found.state if found else 'absent'}")
        return not waiting, waiting


def _answering(plan: Plan) -> tuple[str, ...]:
    """The versions of a stage that answer clients: live, preview, and the fallback."""
    extra = (plan.preview, plan.fallback.version)
    return tuple(dict.fromkeys([*plan.live, *(v for v in extra if v is not None)]))


def payload_rows(body: bytes) -> int | None:
    """How many rows a JSON payload holds, read without any signature (for the constant answer)."""
    import json

    try:
        found = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(found, dict):
        return None
    for key in payloads.FORMATS:
        value = found.get(key)
        if isinstance(value, list):
            return len(value)
        if isinstance(value, dict):
            data = value.get("data") if key == "dataframe_split" else next(iter(value.values()), None)
            return len(data) if isinstance(data, list) else None
    return None


class _Unavailable(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    @classmethod
    def of(cls, failure: BackendError) -> _Unavailable:
        if failure.reason in ("down", "busy"):
            return cls(503, "TEMPORARILY_UNAVAILABLE", f"{failure.message}; no fallback is configured")
        if failure.reason == "timeout":
            return cls(504, "DEADLINE_EXCEEDED", failure.message)
        return cls(502, "MODEL_ERROR", f"{failure.message}")
