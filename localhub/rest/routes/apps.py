"""A GitHub App's own endpoints, answered only to its JSON Web Token: the app itself, its installation on the
repository, and an installation token minted from it (see `localhub/apps.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localhub.errors import ApiError, not_found
from localhub.rest.api import Request, Response, Route, ok
from localhub.rest.render.common import app as render_app
from localhub.rest.render.common import simple_user

if TYPE_CHECKING:
    from localhub.apps import App
    from localhub.hub import Hub

APP_ACTOR = "app:"  # the actor of a request authenticated by an app's JWT: "app:<id>"


def _app(hub: Hub, req: Request) -> App:
    found = hub.state.apps.get(int((req.actor or "").removeprefix(APP_ACTOR) or 0))
    if found is None:
        raise ApiError(401, "Bad credentials")
    return found  # type: ignore[no-any-return]  # State.apps holds App values


def get_app(hub: Hub, req: Request) -> Response:
    return ok(render_app(hub, _app(hub, req).bot_login))


def _installation(hub: Hub, app: App) -> dict[str, Any]:
    base = f"{hub.base_url}/api/v3"
    owner = hub.state.repo.owner
    return {
        "id": app.installation_id,
        "client_id": f"Iv1.{app.id}",
        "account": simple_user(hub, owner),
        "repository_selection": "selected",
        "access_tokens_url": f"{base}/app/installations/{app.installation_id}/access_tokens",
        "repositories_url": f"{base}/installation/repositories",
        "html_url": f"{hub.base_url}/settings/installations/{app.installation_id}",
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": hub.state.users[owner].id if owner in hub.state.users else 1,
        "target_type": "Organization",
        "permissions": dict(app.permissions),
        "events": ["check_run", "issue_comment", "pull_request", "pull_request_review", "push"],
        "created_at": app.created_at,
        "updated_at": app.created_at,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def repo_installation(hub: Hub, req: Request) -> Response:
    return ok(_installation(hub, _app(hub, req)))


def create_installation_token(hub: Hub, req: Request) -> Response:
    app = _app(hub, req)
    if req.int_param("installation_id") != app.installation_id:
        raise not_found()
    token, expires = hub.token_for_installation(app)
    return ok(
        {
            "token": token,
            "expires_at": expires,
            "permissions": dict(app.permissions),
            "repository_selection": "selected",
        },
        201,
    )


ROUTES = [
    Route("GET", "/app", get_app),
    Route("GET", "/repos/{owner}/{repo}/installation", repo_installation),
    Route("POST", "/app/installations/{installation_id}/access_tokens", create_installation_token),
]
APP_ROUTES = frozenset(route.template for route in ROUTES)
