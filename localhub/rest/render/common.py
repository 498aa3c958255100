"""Pieces every representation shares: the hub's own address, node ids, users and associations.

Every URL is built on the hub's base address, because PyGithub refuses absolute URLs on any other host.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localhub.hub import Hub


def node_id(kind: str, ident: int | str) -> str:
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode().rstrip("=")


def simple_user(hub: Hub, login: str) -> dict[str, Any]:
    user = hub.state.users[login]
    api = f"{hub.base_url}/users/{login}"
    return {
        "login": login,
        "id": user.id,
        "node_id": node_id(user.type, user.id),
        "avatar_url": f"{hub.base_url}/avatars/u/{user.id}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{hub.base_url}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": user.type,
        "site_admin": False,
        "user_view_type": "public",
    }


def nullable_user(hub: Hub, login: str | None) -> dict[str, Any] | None:
    return simple_user(hub, login) if login else None


def author_association(hub: Hub, login: str) -> str:
    """OWNER, MEMBER, COLLABORATOR or NONE, as GitHub labels an author beside a comment."""
    state = hub.state
    if login == state.repo.owner:
        return "OWNER"
    org = state.orgs.get(state.repo.owner)
    if org and login in org.members:
        return "MEMBER"
    if state.repo.collaborators.get(login, "none") != "none":
        return "COLLABORATOR"
    return "NONE"


def reaction_rollup(hub: Hub, url: str, reactions: list[Any]) -> dict[str, Any]:
    counts = {content: 0 for content in ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")}
    for reaction in reactions:
        counts[reaction.content] += 1
    return {"url": f"{url}/reactions", "total_count": len(reactions), **counts}


ACTIONS_APP_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "deployments": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}


def app(hub: Hub, creator: str | None = None) -> dict[str, Any]:
    """The GitHub App a check run or deployment is attributed to: the app whose bot `creator` is, else GitHub
    Actions itself (a workflow's token)."""
    registered = hub.app_of(creator) if creator else None
    if registered is not None:
        return _app(
            hub,
            registered.id,
            registered.slug,
            registered.name,
            "",
            f"{hub.base_url}/apps/{registered.slug}",
            (registered.created_at, registered.created_at),
            {"metadata": "read", **registered.permissions},
            ["check_run", "issue_comment", "pull_request", "pull_request_review", "push"],
        ) | {"client_id": f"Iv1.{registered.id}"}
    return _app(
        hub,
        15368,
        "github-actions",
        "GitHub Actions",
        "Automate your workflow from idea to production",
        f"{hub.base_url}/features/actions",
        ("2018-07-30T09:30:17Z", "2019-12-10T19:04:12Z"),
        ACTIONS_APP_PERMISSIONS,
        ["check_run", "deployment", "issue_comment", "pull_request", "push", "status"],
    )


def _app(
    hub: Hub,
    ident: int,
    slug: str,
    name: str,
    description: str,
    external_url: str,
    times: tuple[str, str],
    permissions: dict[str, str],
    events: list[str],
) -> dict[str, Any]:
    return {
        "id": ident,
        "slug": slug,
        "node_id": node_id("Integration", ident),
        "owner": simple_user(hub, hub.state.repo.owner),
        "name": name,
        "description": description,
        "external_url": external_url,
        "html_url": f"{hub.base_url}/apps/{slug}",
        "created_at": times[0],
        "updated_at": times[1],
        "permissions": permissions,
        "events": events,
    }
