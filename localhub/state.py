"""localhub's state: what GitHub stores beside git (users, teams, issues, pull requests, reviews, ...).

Plain mutable records guarded by one lock held for the length of a request, so every API call sees and
leaves a consistent state, as GitHub's own transactions do.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Repository roles, weakest first. GitHub's API names team permissions pull/triage/push/maintain/admin.
ROLES = ("none", "read", "triage", "write", "maintain", "admin")
TEAM_PERMISSION = {"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain", "admin": "admin"}
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def role_at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # User, Bot, Organization
    name: str | None = None
    email: str | None = None
    created_at: str = field(default_factory=now)


@dataclass
class Team:
    id: int
    org: str
    slug: str
    name: str
    description: str | None = None
    members: dict[str, str] = field(default_factory=dict)  # login -> member | maintainer
    created_at: str = field(default_factory=now)


@dataclass
class Org:
    login: str
    id: int
    members: dict[str, str] = field(default_factory=dict)  # login -> member | admin
    teams: dict[str, Team] = field(default_factory=dict)
    created_at: str = field(default_factory=now)


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class Reaction:
    id: int
    user: str
    content: str
    created_at: str = field(default_factory=now)


@dataclass
class Comment:
    id: int
    issue_number: int
    user: str
    body: str
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Review:
    id: int
    number: int
    user: str
    body: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    commit_id: str
    submitted_at: str = field(default_factory=now)


@dataclass
class Pull:
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    draft: bool = False
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    maintainer_can_modify: bool = False
    reviews: list[Review] = field(default_factory=list)
    head_owner: str | None = None  # the fork's owner when the head branch lives in a fork, else None
    requested_reviewers: list[str] = field(default_factory=list)


@dataclass
class Issue:
    """An issue or, when `pull` is set, a pull request: GitHub numbers both from one sequence."""

    number: int
    id: int
    title: str
    body: str | None
    user: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    closed_at: str | None = None
    pull: Pull | None = None
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Status:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str = field(default_factory=now)


@dataclass
class CheckRun:
    id: int
    head_sha: str
    name: str
    status: str = "queued"
    conclusion: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    started_at: str | None = field(default_factory=now)
    completed_at: str | None = None
    output: dict[str, Any] = field(default_factory=dict)
    creator: str = ""


@dataclass
class DeploymentStatus:
    id: int
    deployment_id: int
    state: str
    creator: str
    description: str = ""
    environment: str = ""
    environment_url: str = ""
    log_url: str = ""
    created_at: str = field(default_factory=now)


@dataclass
class Deployment:
    id: int
    sha: str
    ref: str
    task: str
    environment: str
    payload: Any
    description: str | None
    creator: str
    transient_environment: bool = False
    production_environment: bool = False
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    statuses: list[DeploymentStatus] = field(default_factory=list)


@dataclass
class WorkflowRun:
    """A run of a workflow. localhub records the runs a `workflow_dispatch` creates (GitHub creates one per
    accepted dispatch, `queued` until a runner takes it); `delivery` is the dispatch event that starts it."""

    id: int
    workflow: str  # its path, `.github/workflows/<file>`
    event: str
    head_branch: str | None
    head_sha: str
    actor: str
    run_number: int
    delivery: int = 0
    status: str = "queued"  # queued, in_progress, completed
    title: str | None = None  # its `run-name:` as evaluated when it was created (GitHub's display_title)
    conclusion: str | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)


@dataclass
class Artifact:
    """A file set a workflow run uploaded (actions/upload-artifact), listed under the run until it expires
    (`retention-days`, 90 by default); its files stay in the runner's folder for the run."""

    id: int
    run_id: int  # the run's GITHUB_RUN_ID
    name: str
    size_in_bytes: int
    digest: str  # sha256:<hex> of its files, as upload-artifact v4 records it
    folder: str
    head_branch: str | None
    head_sha: str
    created_at: str = field(default_factory=now)
    expires_at: str = field(default_factory=now)


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    default_branch: str
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> role (ROLES)
    team_roles: dict[str, str] = field(default_factory=dict)  # team slug (owner org) -> role
    private: bool = False
    created_at: str = field(default_factory=now)
    pushed_at: str = field(default_factory=now)
    # Settings > Actions > General > "Allow GitHub Actions to create and approve pull requests": off by default
    # for new repositories and organisations, so a workflow's GITHUB_TOKEN may not open or approve a PR.
    actions_may_create_pulls: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Fork:
    """A user's fork of the hub's repository. Its branches live in the hub's git under `refs/forks/<owner>/`
    (GitHub keeps a fork network's objects together too), never as the repository's own branches."""

    owner: str
    name: str
    id: int
    created_at: str = field(default_factory=now)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def ref(self, branch: str) -> str:
        return f"refs/forks/{self.owner}/{branch}"


@dataclass
class State:
    """Everything localhub remembers, for one repository and the people and organisations around it."""

    repo: Repo
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> login
    grants: dict[str, Any] = field(default_factory=dict)  # job token -> permissions.JobGrant (people's: none)
    apps: dict[int, Any] = field(default_factory=dict)  # app id -> apps.App (installed on the repository)
    orgs: dict[str, Org] = field(default_factory=dict)
    forks: dict[str, Fork] = field(default_factory=dict)  # owner -> their fork of the repository
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    statuses: list[Status] = field(default_factory=list)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    workflow_runs: dict[int, WorkflowRun] = field(default_factory=dict)
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    protected: dict[str, tuple[str, ...]] = field(default_factory=dict)  # branch -> required status checks
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def next_id(self) -> int:
        return next(self._ids)

    def next_number(self) -> int:
        return max(self.issues, default=0) + 1

    def role_of(self, login: str) -> str:
        """A user's effective role on the repository: owner, org admin, collaborator or team, the highest."""
        repo = self.repo
        if login == repo.owner:
            return "admin"
        roles = ["read" if not repo.private and login in self.users else "none"]
        org = self.orgs.get(repo.owner)
        if org and org.members.get(login) == "admin":
            roles.append("admin")
        roles.append(repo.collaborators.get(login, "none"))
        if org:
            roles += [
                role for slug, role in repo.team_roles.items() if slug in org.teams and login in org.teams[slug].members
            ]
        return max(roles, key=ROLES.index)
