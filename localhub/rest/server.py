"""localhub over HTTP on loopback: REST under `/`, git smart HTTP under `/<owner>/<repo>.git/`.

Each request is authenticated from its token, its JSON body checked against rest-api.json (GitHub's 422),
answered under the hub's lock, logged, and possibly faulted. A workflow job's token may do only what its job's
`permissions:` grant (`permissions.py`: 403 otherwise). A strict server also checks every answer and webhook it
produces against GitHub's schemas and records what does not match (`conformance`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from localhub.apps import looks_like_jwt, verify
from localhub.conformance.bodies import invalid_body
from localhub.conformance.recorder import Conformance
from localhub.errors import ApiError
from localhub.faults import MERGE_DOCS, MERGE_RACE_MESSAGE, SECONDARY_DOCS, SECONDARY_MESSAGE, Fault, Faults
from localhub.rest.api import Request, Response, Router, check_repo
from localhub.rest.permissions import JobGrant, authorize
from localhub.rest.requestlog import RequestLog
from localhub.rest.routes.apps import APP_ACTOR, APP_ROUTES

if TYPE_CHECKING:
    from localhub.hub import Hub

RATE_LIMIT = 5000
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class LocalHubServer:
    """Serve a hub on 127.0.0.1 (a free port unless one is given) from a background thread.

    `strict`: check each answer and each webhook against GitHub's schemas as it is produced; problems are
    written to stderr and kept in `conformance.problems` (the answers themselves are not changed)."""

    def __init__(self, hub: Hub, port: int = 0, faults: Faults | None = None, strict: bool = False) -> None:
        from localhub.rest.routes import all_routes

        self.hub = hub
        self.faults = faults or Faults()
        self.log = RequestLog()
        self.router = Router(all_routes())
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        hub.base_url = f"http://127.0.0.1:{self.port}"
        self.strict = strict
        self.conformance = Conformance(hub.base_url)
        if strict:
            hub.listeners.append(self.conformance.check_webhook)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.hub.base_url

    def start(self) -> LocalHubServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="localhub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def __enter__(self) -> LocalHubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- one API request ----------------------------------------------------------------------------------
    def answer(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[Response, str | None, str | None]:
        parts = urllib.parse.urlsplit(raw_path)
        path = parts.path
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        try:
            actor = self._actor(headers)
        except ApiError as exc:
            return Response(exc.status, exc.body()), None, None
        fault = self.faults.decide(method, path)
        if fault and fault.kind != "502-after-write":
            return _fault_response(fault), actor, fault.kind
        response = self._dispatch(method, path, query, body, actor, self.grant(headers))
        if fault:
            return _fault_response(fault), actor, fault.kind
        if self.faults.kills_after(actor):
            return response, actor, "job-killed"
        return response, actor, None

    def _actor(self, headers: dict[str, str]) -> str | None:
        credential = _credential(headers)
        if credential is None:
            return None
        login = self.hub.state.tokens.get(credential)
        if login is None and looks_like_jwt(credential):
            return f"{APP_ACTOR}{verify(self.hub.state.apps, credential).id}"  # an app, by its JWT
        if login is None:
            raise ApiError(401, "Bad credentials")
        return login

    def grant(self, headers: dict[str, str]) -> JobGrant | None:
        """The job permissions the request's token carries (a workflow job's GITHUB_TOKEN); None for a
        person's token or no token."""
        credential = _credential(headers)
        return self.hub.state.grants.get(credential) if credential else None

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
        actor: str | None,
        grant: JobGrant | None = None,
    ) -> Response:
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError:
            return Response(400, ApiError(400, "Problems parsing JSON").body())
        try:
            found = self.router.match(method, path)
            if found is None:
                raise ApiError(404, "Not Found")
            route, params = found
            check_repo(self.hub, params)
            request = Request(method, path, query, payload, actor, params)
            if (actor or "").startswith(APP_ACTOR) != (route.template in APP_ROUTES):
                raise _wrong_credential(actor)
            with self.hub.state.lock:
                if grant is not None:
                    authorize(self.hub, grant, method, route.template, params, payload)
                refused = invalid_body(method, path, payload) if method in _BODY_METHODS else None
                if refused is not None:
                    raise refused
                return route.handler(self.hub, request)
        except ApiError as exc:
            return Response(exc.status, exc.body(), exc.headers)


def _wrong_credential(actor: str | None) -> ApiError:
    """GitHub's answers to a JWT on an endpoint that wants an installation or user token, and the reverse."""
    if (actor or "").startswith(APP_ACTOR):
        return ApiError(401, "A JSON web token could not be used for this endpoint; use an installation token")
    return ApiError(401, "A JSON web token is required to access this endpoint.")


def _credential(headers: dict[str, str]) -> str | None:
    """The token of an `Authorization` header (`token X`, `Bearer X`, or Basic with the token as password)."""
    auth = headers.get("authorization", "")
    if not auth:
        return None
    scheme, _, credential = auth.partition(" ")
    if scheme.lower() == "basic":
        credential = base64.b64decode(credential).decode().partition(":")[2]
    return credential.strip()


def _fault_response(fault: Fault) -> Response:
    if fault.kind == "merge-race":
        return Response(405, {"message": MERGE_RACE_MESSAGE, "documentation_url": MERGE_DOCS, "status": "405"})
    if fault.kind == "secondary-rate-limit":
        return Response(
            403,
            {"message": SECONDARY_MESSAGE, "documentation_url": SECONDARY_DOCS},
            {"Retry-After": str(fault.retry_after)},
        )
    if fault.kind == "primary-rate-limit":
        reset = int(time.time()) + fault.reset_in
        return Response(
            403,
            {
                "message": "API rate limit exceeded for user.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            },
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
    return Response(502, {"message": "Server Error"})


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, whole: by Content-Length, or chunk by chunk (git sends large pushes chunked)."""
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""
    chunks: list[bytes] = []
    while True:
        size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()


def _handler_class(server: LocalHubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "localhub"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            from localhub.rest import githttp

            body = _read_body(self)
            headers = {k.lower(): v for k, v in self.headers.items()}
            if githttp.is_git_path(self.path):
                githttp.serve(server, self, headers, body)
                return
            response, actor, fault = server.answer(self.command, self.path, headers, body)
            parts = urllib.parse.urlsplit(self.path)
            grant = server.grant(headers)
            server.log.record(
                self.command,
                parts.path,
                parts.query,
                response.status,
                actor,
                fault,
                job=grant.identity if grant else None,
            )
            if server.strict:
                server.conformance.check_response(
                    self.command, self.path, response.status, response.body, response.headers
                )
            if fault == "job-killed":  # answered to a process that no longer exists
                with contextlib.suppress(OSError):
                    self._send(response)
                self.close_connection = True
                return
            self._send(response)

        def _send(self, response: Response) -> None:
            data = b"" if response.body is None else json.dumps(response.body).encode()
            self.send_response(response.status)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Content-Length": str(len(data)),
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": str(RATE_LIMIT - 1),
                "X-RateLimit-Reset": str(int(time.time()) + 3600),
                "X-RateLimit-Used": "1",
                "X-RateLimit-Resource": "core",
                "X-GitHub-Media-Type": "github.v3; format=json",
                **response.headers,
            }
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    return Handler
