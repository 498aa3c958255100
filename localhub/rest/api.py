"""The REST plumbing shared by every route: requests, responses, path templates, permissions, pagination."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localhub.errors import ApiError, missing, not_found
from localhub.state import role_at_least

if TYPE_CHECKING:
    from localhub.hub import Hub

# Path parameters GitHub accepts with slashes inside: file paths, refs and branch names.
GREEDY = {"path", "ref", "branch", "base", "head"}
MAX_PER_PAGE = 100


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    actor: str | None
    params: dict[str, str] = field(default_factory=dict)

    def json_field(self, name: str, resource: str, required: bool = False, default: Any = None) -> Any:
        if not isinstance(self.body, dict):
            if required:
                raise ApiError(400, "Problems parsing JSON")
            return default
        if required and name not in self.body:
            raise missing(resource, name)
        return self.body.get(name, default)

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise not_found() from None


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["Hub", Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler

    def pattern(self) -> re.Pattern[str]:
        def param(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"(?P<{name}>.+)" if name in GREEDY else f"(?P<{name}>[^/]+)"

        escaped = re.escape(self.template).replace(r"\{", "{").replace(r"\}", "}")
        return re.compile("^" + re.sub(r"\{(\w+)\}", param, escaped) + "$")

    @property
    def literal_length(self) -> int:
        return len(re.sub(r"\{\w+\}", "", self.template))


class Router:
    """Finds the route for a request; the most literal template wins, as GitHub's own router resolves
    `/branches/{branch}/protection` before `/branches/{branch}`."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self._routes = sorted(((r.pattern(), r) for r in routes), key=lambda pr: -pr[1].literal_length)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        known_path = False
        for pattern, route in self._routes:
            found = pattern.match(path)
            if found:
                known_path = True
                if route.method == method:
                    return route, {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
        if known_path:
            raise ApiError(404, "Not Found")
        return None


def require(hub: Hub, req: Request, role: str) -> str:
    """The acting user, if their role on the repository is at least `role` (else GitHub's 401/403/404)."""
    if req.actor is None:
        raise ApiError(401, "Requires authentication")
    have = hub.state.role_of(req.actor)
    if not role_at_least(have, role):
        if have == "none":
            raise not_found()
        raise ApiError(
            403,
            "Resource not accessible by integration"
            if req.actor.endswith("[bot]")
            else f"Must have {role} access to repository",
        )
    return req.actor


def check_repo(hub: Hub, params: dict[str, str]) -> None:
    repo = hub.state.repo
    if "owner" in params and (params["owner"].lower(), params.get("repo", "").lower()) != (
        repo.owner.lower(),
        repo.name.lower(),
    ):
        raise not_found()


def page(hub: Hub, req: Request, items: Sequence[Any], render: Callable[[Any], Any]) -> Response:
    """One page of a list, with GitHub's `Link` header (first/prev/next/last) on the hub's own address."""
    try:
        per_page = max(1, min(MAX_PER_PAGE, int(req.query.get("per_page", "30"))))
        number = max(1, int(req.query.get("page", "1")))
    except ValueError:
        raise ApiError(400, "Invalid page parameters") from None
    last = max(1, -(-len(items) // per_page))
    chunk = items[(number - 1) * per_page : number * per_page]
    links = []

    def url(n: int) -> str:
        query = {**req.query, "per_page": str(per_page), "page": str(n)}
        return f"{hub.base_url}{req.path}?{urllib.parse.urlencode(query)}"

    if number < last:
        links += [f'<{url(number + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if number > 1:
        links = [f'<{url(number - 1)}>; rel="prev"', f'<{url(1)}>; rel="first"', *links]
    headers = {"Link": ", ".join(links)} if links else {}
    return Response(200, [render(item) for item in chunk], headers)


def ok(body: Any, status: int = 200) -> Response:
    return Response(status, body)
