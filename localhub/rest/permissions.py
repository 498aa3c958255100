"""What a workflow job's `GITHUB_TOKEN` may do: the job's `permissions:` (else the workflow's, else the
repository default), and the scope each REST route needs, as GitHub enforces them.

- Scopes: `actions, checks, contents, deployments, issues, pull-requests, statuses` (and GitHub's other
  workflow scopes, which no route here needs), each `read`, `write` or `none`; `metadata: read` always.
  `read-all` / `write-all` set every scope; `{}` sets none; a mapping sets the scopes it lists and none of
  the others. A job's `permissions:` replaces the workflow's (it does not merge with it).
- Default when neither the job nor the workflow says: the repository's default for workflow tokens, taken
  here as GitHub's *restricted* default (`contents: read`, `metadata: read`), the setting GitHub recommends
  and applies to new organisations. (A repository set to "permissive" would give write to most scopes.)
- Routes: the scope comes from the operation's category in GitHub's REST description
  (`schemas/github/rest-api.json`, `x-github.category/subcategory`), with GitHub's exceptions: merging a pull
  request needs `contents: write`; a repository dispatch needs `contents: write`; the commit statuses of a
  ref need `statuses`; a collaborator's permission needs only `metadata`. GET needs `read`, any other method
  `write`. Issue endpoints on a pull request (its comments, labels, reactions) accept `pull-requests` as
  well, as GitHub does.
- Refused: HTTP 403 `Resource not accessible by integration`, GitHub's answer to an integration's token
  lacking the permission. Git smart HTTP: fetching needs `contents: read`, pushing `contents: write`.

People's tokens (`Hub.token_for`) carry no grant: their user's repository role decides, as before. A GitHub App's
installation token carries its app's permissions as a grant. Outside the repository:
- team endpoints need the organisation permission `members: read`, which only an app can hold (a workflow's
  `permissions:` has no such scope): without it GitHub answers 404 Not Found, as it does to a workflow's token;
- `/user` is a person's endpoint: an integration's token gets 403 `Resource not accessible by integration`;
- opening or approving a pull request with a workflow's token needs the repository setting "Allow GitHub Actions
  to create and approve pull requests" (`Repo.actions_may_create_pulls`, off by default as on GitHub): 403
  `GitHub Actions is not permitted to create or approve pull requests.` otherwise. An app's token is not
  concerned.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localhub.errors import DOCS, ApiError

if TYPE_CHECKING:
    from localhub.hub import Hub

LEVELS = ("none", "read", "write")
# The scopes a route here can need, and GitHub's other valid `permissions:` keys (accepted, never needed).
SCOPES = ("actions", "checks", "contents", "deployments", "issues", "pull-requests", "statuses")
OTHER_SCOPES = (
    "attestations",
    "discussions",
    "id-token",
    "models",
    "packages",
    "pages",
    "repository-projects",
    "security-events",
)
RESTRICTED_DEFAULT: Mapping[str, str] = {"contents": "read", "metadata": "read"}
MESSAGE = "Resource not accessible by integration"
ACTIONS_PULLS_MESSAGE = "GitHub Actions is not permitted to create or approve pull requests."
_TEAM_ROUTES = ("/orgs/{org}/teams/",)
_ACTIONS_PULL_ROUTES = {
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
}
REST_DESCRIPTION = Path(__file__).parents[1] / "schemas" / "github" / "rest-api.json"

# (category, subcategory) of GitHub's REST description -> scope; a subcategory of None matches any.
_CATEGORY_SCOPES: dict[tuple[str, str | None], str] = {
    ("pulls", None): "pull-requests",
    ("issues", None): "issues",
    ("reactions", None): "issues",
    ("checks", None): "checks",
    ("git", None): "contents",
    ("actions", None): "actions",
    ("deployments", None): "deployments",
    ("commits", "statuses"): "statuses",
    ("commits", "commits"): "contents",
    ("repos", "contents"): "contents",
    ("repos", "commits"): "contents",
    ("repos", "repos"): "metadata",
    ("branches", "branches"): "contents",
    ("branches", "branch-protection"): "administration",
    ("collaborators", None): "metadata",
}
# Operations whose scope is not their category's: (METHOD, path template) -> (scope, level).
_EXCEPTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"): ("contents", "write"),
    ("POST", "/repos/{owner}/{repo}/dispatches"): ("contents", "write"),
    ("POST", "/repos/{owner}/{repo}/merges"): ("contents", "write"),
}


@dataclass(frozen=True)
class JobGrant:
    """A job's token: what it may do, and which job of which run holds it (for the request log)."""

    permissions: Mapping[str, str] = field(default_factory=dict)
    workflow: str = ""
    job: str = ""
    run_id: int = 0
    installation: bool = False  # an app's installation token, not a workflow job's GITHUB_TOKEN

    @property
    def identity(self) -> str:
        return f"{self.workflow}#{self.run_id}/{self.job}"

    def level(self, scope: str) -> str:
        if scope == "metadata":
            return "read"
        return self.permissions.get(scope, "none")

    def allows(self, scope: str, level: str) -> bool:
        return LEVELS.index(self.level(scope)) >= LEVELS.index(level)


class PermissionsError(ValueError):
    """A `permissions:` value GitHub would reject."""


def parse(value: Any) -> dict[str, str]:
    """The scopes a `permissions:` value grants (`read-all`, `write-all`, `{}` or a mapping)."""
    if value in ("read-all", "write-all"):
        level = value.removesuffix("-all")
        return {scope: level for scope in (*SCOPES, *OTHER_SCOPES)}
    if not isinstance(value, Mapping):
        raise PermissionsError(f"permissions: expected read-all, write-all or a mapping of scopes, got {value!r}")
    granted: dict[str, str] = {}
    for scope, level in value.items():
        if scope not in (*SCOPES, *OTHER_SCOPES, "metadata"):
            raise PermissionsError(f"permissions: unknown scope {scope!r}")
        if level not in LEVELS:
            raise PermissionsError(f"permissions: {scope}: expected read, write or none, got {level!r}")
        if scope != "metadata":
            granted[str(scope)] = str(level)
    return granted


def for_job(workflow_permissions: Any, job_permissions: Any) -> dict[str, str]:
    """The job's permissions: its own `permissions:`, else the workflow's, else the restricted default.
    `None` means "not set" (a YAML `permissions:` left empty is not a valid value on GitHub either)."""
    if job_permissions is not None:
        return parse(job_permissions)
    if workflow_permissions is not None:
        return parse(workflow_permissions)
    return parse(dict(RESTRICTED_DEFAULT))


@functools.cache
def _operations() -> dict[tuple[str, str], tuple[str, str, str]]:
    """(METHOD, path template) -> (category, subcategory, documentation URL), from the vendored REST
    description."""
    paths = json.loads(REST_DESCRIPTION.read_text(encoding="utf-8"))["paths"]
    found = {}
    for template, operations in paths.items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "x-github" in operation:
                extra = operation["x-github"]
                docs = (operation.get("externalDocs") or {}).get("url") or DOCS
                found[(method.upper(), template)] = (extra.get("category", ""), extra.get("subcategory", ""), docs)
    return found


def needed(method: str, template: str) -> tuple[str, str] | None:
    """(scope, level) a job token needs for an operation; None for endpoints outside the repository."""
    if (method, template) in _EXCEPTIONS:
        return _EXCEPTIONS[(method, template)]
    if not template.startswith("/repos/{owner}/{repo}"):
        return None
    if template == "/repos/{owner}/{repo}/installation":
        return None  # an app's JWT, never a token: `routes/apps.py` refuses every other credential
    category, subcategory, _ = _operations().get((method, template), ("", "", DOCS))
    scope = _CATEGORY_SCOPES.get((category, subcategory)) or _CATEGORY_SCOPES.get((category, None))
    if scope is None:
        raise KeyError(f"no permission scope known for {method} {template} ({category}/{subcategory})")
    return scope, "read" if method in ("GET", "HEAD") else "write"


def authorize(
    hub: Hub, grant: JobGrant, method: str, template: str, params: Mapping[str, str], body: Any = None
) -> None:
    """Raise GitHub's 403 (or 404, where GitHub hides what the token may not see) unless the token may perform
    the operation."""
    docs = _operations().get((method, template), ("", "", DOCS))[2]
    if template.startswith(_TEAM_ROUTES) and not grant.allows("members", "read"):
        raise ApiError(404, "Not Found", documentation_url=docs)
    if template == "/user":
        raise ApiError(403, MESSAGE, documentation_url=docs)
    actions_barred = not grant.installation and not hub.state.repo.actions_may_create_pulls
    if (method, template) in _ACTIONS_PULL_ROUTES and actions_barred:
        approving = template.endswith("/reviews") and isinstance(body, Mapping) and body.get("event") == "APPROVE"
        if template.endswith("/pulls") or approving:
            raise ApiError(403, ACTIONS_PULLS_MESSAGE, documentation_url=docs)
    need = needed(method, template)
    if need is None:
        return
    scope, level = need
    if grant.allows(scope, level):
        return
    if scope == "issues" and _on_pull_request(hub, params) and grant.allows("pull-requests", level):
        return
    raise ApiError(403, MESSAGE, documentation_url=docs)


def _on_pull_request(hub: Hub, params: Mapping[str, str]) -> bool:
    """Whether an issue endpoint acts on a pull request (by its number, or through one of its comments)."""
    state = hub.state
    try:
        if "issue_number" in params:
            issue = state.issues.get(int(params["issue_number"]))
        elif "comment_id" in params:
            comment = state.comments.get(int(params["comment_id"]))
            issue = state.issues.get(comment.issue_number) if comment else None
        else:
            return False
    except ValueError:
        return False
    return issue is not None and issue.pull is not None
