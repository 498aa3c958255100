"""Serve every (model, stage) of models.yaml at a git revision, as each stage's rollout says: canary weights,
A/B arms sticky by a key header, shadow mirroring, blue-green preview and switch, fallback on error or timeout.
Each version runs in its own sandboxed model process. The gateway follows the ref: a new commit (polled),
`POST /-/reload` from loopback, or SIGHUP apply the new state without dropping a request in flight.

API: POST /models/{model}/{stage}/invocations (MLflow's scoring payloads and answers), GET /models/{model}/{stage},
GET /models, /healthz, /readyz, /metrics (Prometheus), POST /feedback, POST /-/reload.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from bot.cli import common


def configure(parser: argparse.ArgumentParser) -> None:
    common.add_repo(parser)
    parser.add_argument(
        "--ref",
        default="HEAD",
        metavar="REF",
        help="the revision to serve and follow (default HEAD; a branch name follows its pushes)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, metavar="N", help="port to listen on (default 8080)")
    parser.add_argument(
        "--log-dir", type=Path, metavar="DIR", help="write the prediction log (predictions.jsonl, rotated) in DIR"
    )
    parser.add_argument(
        "--poll-s",
        type=float,
        default=2.0,
        metavar="S",
        help="how often to look for a new commit on the ref (default 2; 0: only on reload/SIGHUP)",
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=60.0,
        metavar="S",
        help="longest wait for a model's answer when the stage has no fallback timeout (default 60)",
    )
    parser.add_argument(
        "--hang-s",
        type=float,
        default=30.0,
        metavar="S",
        help="a model process holding one request this long is killed and restarted (default 30)",
    )
    parser.add_argument(
        "--max-body-mb", type=float, default=10.0, metavar="MB", help="largest request body accepted (default 10)"
    )
    parser.add_argument(
        "--mirror-queue",
        type=int,
        default=32,
        metavar="N",
        help="mirrored requests that may wait for a shadow; more are dropped and counted (default 32)",
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.errors import UsageError
    from bot.gitio import resolve, toplevel
    from bot.serving.app import build
    from bot.serving.gateway import Settings

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535; got {args.port}")
    for name in ("timeout_s", "hang_s", "max_body_mb"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive; got {getattr(args, name)}")
    if args.mirror_queue < 0:
        raise UsageError(f"--mirror-queue must be 0 or more; got {args.mirror_queue}")
    repo = toplevel(common.repo_root(args))
    resolve(repo, args.ref)  # an unknown ref is a usage error now, not a gateway that never becomes ready
    settings = Settings(
        repo=repo,
        ref=args.ref,
        log_dir=args.log_dir,
        poll_s=args.poll_s,
        request_timeout_s=args.timeout_s,
        hang_s=args.hang_s,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        mirror_capacity=args.mirror_queue,
    )
    app, gateway = build(settings)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)

    original = server.startup

    async def startup(sockets: list | None = None) -> None:  # type: ignore[type-arg]  # uvicorn's own signature leaves the list untyped
        await original(sockets)
        commit = gateway.state.commit[:12] if gateway.state else "-"
        stages = len(gateway.state.plans) if gateway.state else 0
        print(
            f"modelbot serve: http://{args.host}:{args.port} serving {stages} stage(s) of {repo} at {commit}",
            file=sys.stderr,
            flush=True,
        )

    server.startup = startup  # type: ignore[method-assign]  # wrapping uvicorn's startup to report the bound port
    with _terminated_cleanly(server):
        server.run()
    return 0 if server.started else 1


@contextlib.contextmanager
def _terminated_cleanly(server: Any) -> Iterator[None]:
    """SIGTERM is how a gateway is asked to stop: uvicorn drains the connections and requests in flight, then
    the lifespan's end stops the model processes and flushes the prediction log. uvicorn then raises the signal
    again under the handler it found, so the process would die of it (exit 143) after a clean stop; the handler
    it finds is this one, which only asks the server to exit (also for a SIGTERM arriving before uvicorn listens
    for it), so a stop asked for ends with 0."""

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    if threading.current_thread() is not threading.main_thread():  # only the main thread has signal handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
