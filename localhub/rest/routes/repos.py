"""Repository, people and permissions: /repos/{owner}/{repo}, collaborators, orgs, teams, /user, /rate_limit."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from localhub.errors import ApiError, not_found
from localhub.rest.api import Request, Response, Route, ok, page, require
from localhub.rest.render import repos as render
from localhub.rest.render.common import simple_user
from localhub.state import Team

if TYPE_CHECKING:
    from localhub.hub import Hub


def get_repo(hub: Hub, req: Request) -> Response:
    require(hub, req, "read") if hub.state.repo.private else None
    body = render.repository(hub)
    if req.actor:
        role = hub.state.role_of(req.actor)
        order = ("read", "triage", "write", "maintain", "admin")
        have = order.index(role) if role in order else -1
        body["permissions"] = {
            "pull": have >= 0,
            "triage": have >= 1,
            "push": have >= 2,
            "maintain": have >= 3,
            "admin": have >= 4,
        }
    return ok(body)


def collaborator_permission(hub: Hub, req: Request) -> Response:
    login = req.params["username"]
    if login not in hub.state.users:
        raise ApiError(404, f"{login} is not a user")
    return ok(render.permission(hub, login))


def get_org(hub: Hub, req: Request) -> Response:
    if req.params["org"] not in hub.state.orgs:
        raise not_found()
    return ok(render.organization(hub, req.params["org"]))


def _team(hub: Hub, req: Request) -> Team:
    org = hub.state.orgs.get(req.params["org"])
    team = org.teams.get(req.params["team_slug"]) if org else None
    if team is None:
        raise not_found()
    return team


def get_team(hub: Hub, req: Request) -> Response:
    return ok(render.team(hub, _team(hub, req)))


def team_members(hub: Hub, req: Request) -> Response:
    team = _team(hub, req)
    role = req.query.get("role", "all")
    members = [login for login, r in team.members.items() if role == "all" or r == role]
    return page(hub, req, members, lambda login: simple_user(hub, login))


def team_membership(hub: Hub, req: Request) -> Response:
    team = _team(hub, req)
    if req.params["username"] not in team.members:
        raise not_found()
    return ok(render.team_membership(hub, team, req.params["username"]))


def authenticated_user(hub: Hub, req: Request) -> Response:
    if req.actor is None:
        raise ApiError(401, "Requires authentication")
    user = hub.state.users[req.actor]
    body = {
        **simple_user(hub, req.actor),
        "name": user.name,
        "company": None,
        "blog": "",
        "location": None,
        "email": user.email,
        "hireable": None,
        "bio": None,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": user.created_at,
        "updated_at": user.created_at,
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": True,
    }
    return ok(body)


def rate_limit(hub: Hub, req: Request) -> Response:
    core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600, "used": 1}
    return ok({"resources": {"core": core, "search": {**core, "limit": 30, "remaining": 30, "used": 0}}, "rate": core})


ROUTES = [
    Route("GET", "/repos/{owner}/{repo}", get_repo),
    Route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", collaborator_permission),
    Route("GET", "/orgs/{org}", get_org),
    Route("GET", "/orgs/{org}/teams/{team_slug}", get_team),
    Route("GET", "/orgs/{org}/teams/{team_slug}/members", team_members),
    Route("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}", team_membership),
    Route("GET", "/user", authenticated_user),
    Route("GET", "/rate_limit", rate_limit),
]
