"""Repositories, organisations, teams and permissions as GitHub's REST API returns them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localhub.rest.render.common import node_id, simple_user
from localhub.state import Fork, Team

if TYPE_CHECKING:
    from localhub.hub import Hub

_LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


def repository(hub: Hub, fork: Fork | None = None) -> dict[str, Any]:
    """The full repository (or a user's fork of it): a superset of the minimal, plain and webhook forms, valid
    for each."""
    repo = hub.state.repo
    full_name = fork.full_name if fork else repo.full_name
    api = f"{hub.base_url}/repos/{full_name}"
    html = f"{hub.base_url}/{full_name}"
    open_issues = 0 if fork else sum(1 for issue in hub.state.issues.values() if issue.state == "open")
    owner = simple_user(hub, fork.owner if fork else repo.owner)
    templated = {
        "archive_url": "{archive_format}{/ref}",
        "assignees_url": "{/user}",
        "blobs_url": "{/sha}",
        "branches_url": "{/branch}",
        "collaborators_url": "{/collaborator}",
        "comments_url": "{/number}",
        "commits_url": "{/sha}",
        "compare_url": "{base}...{head}",
        "contents_url": "{+path}",
        "git_commits_url": "{/sha}",
        "git_refs_url": "{/sha}",
        "git_tags_url": "{/sha}",
        "issue_comment_url": "{/number}",
        "issue_events_url": "{/number}",
        "issues_url": "{/number}",
        "keys_url": "{/key_id}",
        "labels_url": "{/name}",
        "milestones_url": "{/number}",
        "notifications_url": "{?since,all,participating}",
        "pulls_url": "{/number}",
        "releases_url": "{/id}",
        "statuses_url": "/{sha}",
        "trees_url": "{/sha}",
    }
    paths = {
        "archive_url": "",
        "assignees_url": "assignees",
        "blobs_url": "git/blobs",
        "branches_url": "branches",
        "collaborators_url": "collaborators",
        "comments_url": "comments",
        "commits_url": "commits",
        "compare_url": "compare/",
        "contents_url": "contents/",
        "git_commits_url": "git/commits",
        "git_refs_url": "git/refs",
        "git_tags_url": "git/tags",
        "issue_comment_url": "issues/comments",
        "issue_events_url": "issues/events",
        "issues_url": "issues",
        "keys_url": "keys",
        "labels_url": "labels",
        "milestones_url": "milestones",
        "notifications_url": "notifications",
        "pulls_url": "pulls",
        "releases_url": "releases",
        "statuses_url": "statuses",
        "trees_url": "git/trees",
    }
    urls = {key: f"{api}/{paths[key]}{suffix}" for key, suffix in templated.items()}
    plain = {
        f"{name}_url": f"{api}/{name}"
        for name in (
            "contributors",
            "deployments",
            "downloads",
            "events",
            "forks",
            "hooks",
            "languages",
            "merges",
            "stargazers",
            "subscribers",
            "subscription",
            "tags",
            "teams",
        )
    }
    return {
        "id": fork.id if fork else repo.id,
        "node_id": node_id("Repository", fork.id if fork else repo.id),
        "name": repo.name,
        "full_name": full_name,
        "owner": owner,
        "organization": owner if not fork and repo.owner in hub.state.orgs else None,
        "private": repo.private,
        "visibility": "private" if repo.private else "public",
        "html_url": html,
        "description": None,
        "fork": fork is not None,
        "url": api,
        **urls,
        **plain,
        "git_url": f"{hub.base_url}/{full_name}.git".replace("http://", "git://", 1),
        "ssh_url": f"git@{hub.host}:{full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers": 0,
        "watchers_count": 0,
        "network_count": 0,
        "subscribers_count": 0,
        "size": 0,
        "default_branch": repo.default_branch,
        "open_issues": open_issues,
        "open_issues_count": open_issues,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "pushed_at": repo.pushed_at,
        "created_at": fork.created_at if fork else repo.created_at,
        "updated_at": repo.pushed_at,
        "allow_rebase_merge": True,
        "allow_squash_merge": True,
        "allow_merge_commit": True,
        "allow_auto_merge": False,
        "delete_branch_on_merge": False,
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "license": None,
    }


def permission(hub: Hub, login: str) -> dict[str, Any]:
    role = hub.state.role_of(login)
    user = {**simple_user(hub, login), "role_name": role}
    return {"permission": _LEGACY_PERMISSION[role], "role_name": role, "user": user}


def organization(hub: Hub, login: str) -> dict[str, Any]:
    org = hub.state.orgs[login]
    api = f"{hub.base_url}/orgs/{login}"
    return {
        "login": login,
        "id": org.id,
        "node_id": node_id("Organization", org.id),
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"{hub.base_url}/avatars/u/{org.id}",
        "description": None,
        "html_url": f"{hub.base_url}/{login}",
        "has_organization_projects": False,
        "has_repository_projects": False,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "type": "Organization",
        "created_at": org.created_at,
        "updated_at": org.created_at,
        "archived_at": None,
    }


def team(hub: Hub, team: Team, full: bool = True) -> dict[str, Any]:
    api = f"{hub.base_url}/orgs/{team.org}/teams/{team.slug}"
    out: dict[str, Any] = {
        "id": team.id,
        "node_id": node_id("Team", team.id),
        "url": api,
        "html_url": f"{hub.base_url}/orgs/{team.org}/teams/{team.slug}",
        "name": team.name,
        "slug": team.slug,
        "description": team.description,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": f"{api}/members{{/member}}",
        "repositories_url": f"{api}/repos",
        "type": "organization",
        "parent": None,
    }
    if full:
        out.update(
            {
                "members_count": len(team.members),
                "repos_count": 1,
                "created_at": team.created_at,
                "updated_at": team.created_at,
                "organization": organization(hub, team.org),
            }
        )
    return out


def team_membership(hub: Hub, team: Team, login: str) -> dict[str, Any]:
    return {
        "url": f"{hub.base_url}/orgs/{team.org}/teams/{team.slug}/memberships/{login}",
        "role": team.members[login],
        "state": "active",
    }
