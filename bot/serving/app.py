"""The gateway's HTTP API (Starlette, served by uvicorn).

    POST /models/{model}/{stage}/invocations   MLflow's scoring payloads; MLflow's answers
    GET  /models/{model}/{stage}               versions, weights, colours, fallback, backends
    GET  /models                               every stage served, and the commit
    GET  /healthz  /readyz  /metrics
    POST /feedback                             {"request_id": ..., "label": ...} (or "outcome")
    POST /-/reload                             loopback only: read the ref again and apply it

Every answer carries `X-Request-Id`; an invocation's answer also `X-Modelbot-Version` (who answered: a version,
or `constant`), `X-Modelbot-Fallback` and `X-Modelbot-Arm`. Errors are JSON `{"error_code", "message"}`, never a
traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.errors import ModelbotError
from bot.serving import feedback as feedbacks
from bot.serving import payloads
from bot.serving.gateway import Gateway, Settings, error_body

LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
_log = logging.getLogger("modelbot.serve")


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(value, default=str), status, headers, media_type="application/json")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(code, message), status, headers, media_type="application/json")


class TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def build(settings: Settings) -> tuple[Starlette, Gateway]:
    gateway = Gateway(settings)

    async def invocations(request: Request) -> Response:
        request_id = gateway.request_id(request.headers.get("x-request-id"))
        try:
            body = await _body(request, settings.max_body_bytes)
        except TooLarge:
            return _error(
                413,
                "REQUEST_TOO_LARGE",
                f"the body is larger than the limit of {settings.max_body_bytes} bytes",
                {"X-Request-Id": request_id},
            )
        reply = await gateway.invoke(
            request.path_params["model"],
            request.path_params["stage"],
            body,
            request.headers.get("content-type"),
            request.headers,
            request_id,
        )
        return Response(reply.body, reply.status, dict(reply.headers), media_type="application/json")

    async def stage(request: Request) -> Response:
        model, name = request.path_params["model"], request.path_params["stage"]
        plan = gateway.state.plan(model, name) if gateway.state is not None else None
        if plan is None:
            return _error(404, "RESOURCE_DOES_NOT_EXIST", gateway._unknown(model, name))
        return _json(gateway.describe(plan))

    async def every(request: Request) -> Response:
        current = gateway.state
        plans = [gateway.describe(p) for p in current.plans.values()] if current is not None else []
        return _json(
            {
                "commit": current.commit if current else None,
                "ref": settings.ref,
                "stages": plans,
                "problems": list(current.problems) if current else [],
                "reload_error": gateway.reload_error,
            }
        )

    async def healthz(request: Request) -> Response:
        return _json({"ok": True})

    async def readyz(request: Request) -> Response:
        ok, waiting = gateway.readiness()
        return _json(
            {"ready": ok, "waiting": waiting, "commit": gateway.state.commit if gateway.state else None},
            200 if ok else 503,
            None if ok else {"Retry-After": "1"},
        )

    async def metrics(request: Request) -> Response:
        return Response(gateway.metrics.render(), 200, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def feedback(request: Request) -> Response:
        try:
            told = feedbacks.parse(await _body(request, feedbacks.MAX_BYTES))
        except TooLarge:
            return _error(413, "REQUEST_TOO_LARGE", "feedback is larger than 1 MiB")
        except feedbacks.BadFeedback as exc:
            return _error(400, "BAD_REQUEST", str(exc))
        try:
            return _json(gateway.feedback(told.request_id, told.truth), 202)
        except feedbacks.BadFeedback as exc:
            return _error(400, "BAD_REQUEST", str(exc))

    async def reload(request: Request) -> Response:
        client = request.client.host if request.client else ""
        if client not in LOOPBACK:
            return _error(403, "PERMISSION_DENIED", "reload is accepted from the loopback address only")
        try:
            result = await gateway.reload("POST /-/reload")
        except ModelbotError as exc:
            return _error(409, "INVALID_STATE", f"the state at {settings.ref} cannot be served: {exc}")
        return _json(result)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(
            404,
            "ENDPOINT_NOT_FOUND",
            f"no endpoint {request.method} {request.url.path}; invocations "
            "are POST /models/{model}/{stage}/invocations",
        )

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return _error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.url.path}")

    async def crashed(request: Request, exc: Exception) -> Response:
        _log.exception("unexpected error on %s", request.url.path)
        return _error(500, "INTERNAL_ERROR", f"the gateway failed on this request ({type(exc).__name__}); see its log")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import asyncio

        await gateway.start()
        settle_heap()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, lambda: gateway._spawn(_quiet(gateway.reload("SIGHUP"))))
        try:
            yield
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)
            await gateway.stop()

    routes = [
        Route("/models/{model}/{stage}/invocations", invocations, methods=["POST"]),
        Route("/models/{model}/{stage}", stage, methods=["GET"]),
        Route("/models", every, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/feedback", feedback, methods=["POST"]),
        Route("/-/reload", reload, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed, Exception: crashed},
    )
    return app, gateway


def settle_heap() -> None:
    """Import what a request needs, collect, and freeze what is left: the libraries' objects (MLflow, pandas,
    pyarrow: hundreds of thousands) are then never scanned by the cycle collector again. Without, a full
    collection walks them all, a pause of 100-200 ms that lands on whatever requests are in flight, every
    few hundred thousand allocations."""
    import gc

    payloads.preload()
    gc.collect()
    gc.freeze()


async def _quiet(coro: Any) -> None:
    with contextlib.suppress(Exception):
        await coro
