"""Run localhub, a local stand-in for GitHub, by hand: `modelbot localhub serve --repo DIR [--port N]`.

The repository at DIR (a git repository, or a plain directory committed as one initial commit) is copied
into a bare repository that localhub serves over its REST API and over git smart HTTP; DIR itself is never
changed. One token is printed per user (`--user alice:write`); the Actions bot (github-actions[bot]) always
has one. Stop with Ctrl-C. With `--strict`, localhub checks each answer and webhook it produces against GitHub's
own schemas, writes every mismatch to stderr as it happens, and exits 1 at the end if it found any.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bot.cli import output
from bot.errors import ModelbotError, UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True, help="what to do: serve")
    serve = sub.add_parser(
        "serve",
        help="serve a repository on 127.0.0.1 until interrupted",
        description="Serve a repository on 127.0.0.1 until interrupted.",
    )
    serve.add_argument("--repo", required=True, type=Path, help="the repository (or directory) to serve")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    serve.add_argument("--owner", default="acme", help="organisation owning the repository (default: acme)")
    serve.add_argument("--name", help="repository name (default: DIR's name)")
    serve.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="LOGIN:ROLE",
        help="a user and their role (read, triage, write, maintain, admin); repeatable",
    )
    serve.add_argument("--state", type=Path, help="directory for the bare repository (default: a temp dir)")
    serve.add_argument("--json", action="store_true", help="print the address and tokens as JSON")
    serve.add_argument(
        "--strict",
        action="store_true",
        help="check every answer and webhook against GitHub's schemas; report mismatches on stderr, exit 1 if any",
    )


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the server cleanly, whatever the parent left: a shell runs background jobs with
    SIGINT ignored, and a process may inherit it blocked."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    wanted = {signal.SIGINT, signal.SIGTERM}
    before = {sig: signal.signal(sig, stop) for sig in wanted}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, wanted)
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _users(specs: list[str]) -> list[tuple[str, str]]:
    users = []
    for spec in specs:
        login, _, role = spec.partition(":")
        if not login or not role:
            raise UsageError(f"--user {spec!r}: expected LOGIN:ROLE, e.g. alice:write")
        users.append((login, role))
    return users


def run(args: argparse.Namespace) -> int:
    from localhub.hub import ACTIONS_BOT, Hub
    from localhub.rest.server import LocalHubServer

    if not args.repo.is_dir():
        raise UsageError(f"--repo {args.repo}: not a directory")
    users = _users(args.user)
    with tempfile.TemporaryDirectory(prefix="localhub-") as tmp:
        state = args.state or Path(tmp)
        name = args.name or args.repo.resolve().name.removesuffix(".git")
        hub = Hub.create(state, owner=args.owner, name=name, seed=args.repo)
        for login, role in users:
            hub.add_user(login, role=role)
        try:
            server = LocalHubServer(hub, port=args.port, strict=args.strict)
        except OSError as exc:
            raise UsageError(f"--port {args.port}: cannot listen on 127.0.0.1 ({exc.strerror})") from None
        tokens = {login: hub.token_for(login) for login in [ACTIONS_BOT, *(u for u, _ in users)]}
        try:
            with _stopped_by_signals():  # before the announcement: a client may stop it as soon as it reads it
                _announce(server.url, hub.clone_url(), hub.state.repo.full_name, tokens, args.json)
                sys.stdout.flush()
                server.serve_forever()
        except KeyboardInterrupt:
            output.progress("localhub: stopped")
    problems = server.conformance.problems
    if problems:
        raise ModelbotError(
            f"localhub --strict: {len(problems)} problems found in answers or webhooks outside GitHub's "
            "schemas (each was reported above as it happened)"
        )
    return 0


def _announce(url: str, clone: str, repository: str, tokens: dict[str, str], json_mode: bool) -> None:
    if json_mode:
        output.emit_json({"api_url": url, "clone_url": clone, "repository": repository, "tokens": tokens})
        return
    output.line(f"localhub serving {repository} at {url}")
    output.line(f"  GITHUB_API_URL={url} GITHUB_REPOSITORY={repository}")
    output.line(f"  git clone {clone}")
    for login, token in tokens.items():
        output.line(f"  token for {login}: {token}")
