"""Git smart HTTP (`git clone/fetch/push http://127.0.0.1:PORT/<owner>/<repo>.git`) through git's own
`git http-backend`; pushes are authenticated with a token (Basic auth, as Actions' checkout does) and then
announced like any other ref move (push webhook, pull request synchronize). A workflow job's token fetches
with `contents: read` and pushes with `contents: write`, else 403."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from localhub.rest.ops.refs import announce_ref
from localhub.rest.permissions import JobGrant
from localhub.state import role_at_least

if TYPE_CHECKING:
    from localhub.rest.server import LocalHubServer

_GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+?)\.git(?P<rest>/.*)?$")


def is_git_path(raw_path: str) -> bool:
    return bool(_GIT_PATH.match(urllib.parse.urlsplit(raw_path).path))


def _token(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    return base64.b64decode(auth[6:]).decode(errors="replace").partition(":")[2]


def _actor(server: LocalHubServer, headers: dict[str, str]) -> str | None:
    token = _token(headers)
    return server.hub.state.tokens.get(token) if token else None


def _grant(server: LocalHubServer, headers: dict[str, str]) -> JobGrant | None:
    token = _token(headers)
    return server.hub.state.grants.get(token) if token else None


def serve(server: LocalHubServer, handler: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes) -> None:
    hub = server.hub
    parts = urllib.parse.urlsplit(handler.path)
    match = _GIT_PATH.match(parts.path)
    assert match is not None
    actor = _actor(server, headers)
    grant = _grant(server, headers)
    job = grant.identity if grant else None
    pushing = "git-receive-pack" in (parts.path + parts.query)
    status = _refuse(server, match, actor, pushing, grant)
    if status:
        # logged before answering, so that a client that has its answer finds the request in the log
        server.log.record(handler.command, parts.path, parts.query, status, actor, api=False, job=job)
        _send(handler, status, {"WWW-Authenticate": 'Basic realm="localhub"'} if status == 401 else {}, b"")
        return
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_PROJECT_ROOT": str(hub.git.path.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{hub.git.path.name}{match.group('rest') or ''}",
        "REQUEST_METHOD": handler.command,
        "QUERY_STRING": parts.query,
        "CONTENT_TYPE": headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": actor or "",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_CONTENT_ENCODING": headers.get("content-encoding", ""),
        "GIT_PROTOCOL": headers.get("git-protocol", ""),
    }
    with hub.state.lock:
        before = hub.git.refs() if pushing else {}
        proc = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env)
        if pushing:
            after = hub.git.refs()
            for ref in sorted(set(before) | set(after)):
                if before.get(ref) != after.get(ref):
                    announce_ref(hub, actor or "", ref, before.get(ref), after.get(ref))
    head, _, payload = proc.stdout.partition(b"\r\n\r\n")
    cgi_headers = dict(line.split(": ", 1) for line in head.decode(errors="replace").split("\r\n") if ": " in line)
    status = int(cgi_headers.pop("Status", "200").split()[0])
    server.log.record(handler.command, parts.path, parts.query, status, actor, api=False, job=job)
    _send(handler, status, cgi_headers, payload)


def _refuse(
    server: LocalHubServer, match: re.Match[str], actor: str | None, pushing: bool, grant: JobGrant | None = None
) -> int:
    hub = server.hub
    repo = hub.state.repo
    if (match.group("owner").lower(), match.group("repo").lower()) != (repo.owner.lower(), repo.name.lower()):
        return 404
    if grant is not None and not grant.allows("contents", "write" if pushing else "read"):
        return 403  # a job token: fetching needs `contents: read`, pushing `contents: write`
    if not pushing and not repo.private:
        return 0
    if actor is None:
        return 401
    return 0 if role_at_least(hub.state.role_of(actor), "write" if pushing else "read") else 403


def _send(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], payload: bytes) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
