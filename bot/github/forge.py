"""What the bot needs from GitHub, as a Protocol and plain values: handlers depend on `Forge`, never on
PyGithub, so they can be handed the real adapter (`bot.github.client.GitHubForge`) or anything else that
speaks the same protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.errors import ModelbotError

CommitState = Literal["error", "failure", "pending", "success"]
DeploymentState = Literal["error", "failure", "inactive", "in_progress", "queued", "pending", "success"]


OnHead = Callable[[str, Sequence[str]], None]
"""Called with a new head commit and the labels its pull request is to carry, once its branch points at it and
before a pull request shows it: the opener's record of it, for whatever finishes a run killed after this."""


class ForgeError(ModelbotError):
    """GitHub refused or kept failing; the message says which operation and what GitHub answered."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    state: str  # open, closed
    merged: bool
    author: str
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    merge_commit_sha: str | None
    html_url: str
    labels: tuple[str, ...] = ()
    updated_at: str | None = None  # ISO 8601, as GitHub gives it
    fork: bool = False  # the head is in another repository (a fork): its own runs get a read-only token


@dataclass(frozen=True)
class BaseTip:
    """The base branch's tip as the caller's checkout holds it (40-hex commit and tree ids). A promotion
    commit put on it needs no read of the branch, and edits the very text the caller computed it from."""

    commit: str
    tree: str


@dataclass(frozen=True)
class Superseded:
    """What a newer proposal replaced on the same (model, stage) pull request."""

    head_sha: str
    title: str


@dataclass(frozen=True)
class PromotionPR:
    pull: PullRequest
    action: Literal["opened", "updated", "unchanged"]
    superseded: Superseded | None = None


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str
    html_url: str


@dataclass(frozen=True)
class CommentResult:
    comment: Comment
    action: Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Review:
    id: int
    author: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    commit_id: str | None
    submitted_at: str | None


@dataclass(frozen=True)
class Deployment:
    id: int
    sha: str
    ref: str
    environment: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    state: str | None = None  # its latest status (None: none yet), as GitHub holds it when it was found


@dataclass(frozen=True)
class WorkflowRun:
    """A run of a workflow, as GitHub lists it: which commit its ref pointed at, and how far it got."""

    id: int
    workflow: str  # its path, `.github/workflows/<file>`
    event: str
    head_sha: str
    status: str | None  # queued, in_progress, completed, ...
    conclusion: str | None
    html_url: str
    actor: str = ""  # who dispatched it (a writer may dispatch a workflow too)
    title: str = ""  # what GitHub lists it as (display_title): the workflow's `run-name:` for its event and inputs


@dataclass(frozen=True)
class Artifact:
    """A workflow run's artifact: kept `retention-days`, then expired (listed, no longer downloadable)."""

    id: int
    name: str
    size_in_bytes: int
    expired: bool
    expires_at: str | None
    url: str  # where a person finds it: the run's page, GitHub lists a run's artifacts there


@dataclass(frozen=True)
class HistoryEntry:
    sha: str
    message: str
    author: str | None  # GitHub login when GitHub knows the author, else None
    author_name: str
    date: str


class Forge(Protocol):
    """The GitHub operations handlers use; every write is idempotent or guarded against duplicates."""

    def made_by_this_run(self, sha: str) -> bool:
        """Whether this run wrote commit `sha` (a promotion head, a merge): GitHub announces it, and under an
        app's identity that event starts the workflows it triggers."""
        ...

    def default_branch(self) -> str: ...

    def pull_request(self, number: int) -> PullRequest: ...

    def pull_files(self, number: int) -> list[str]: ...

    def close_pull(self, number: int, delete_branch: bool = True) -> None: ...

    def open_issue(self, title: str, body: str, marker: str, labels: Sequence[str] = ()) -> int: ...

    def promotion_pr(
        self,
        model: str,
        stage: str,
        files: Mapping[str, str],
        title: str,
        body: str,
        base: str | None = None,
        labels: Sequence[str] = (),
        base_tip: BaseTip | None = None,
        on_head: OnHead | None = None,
    ) -> PromotionPR: ...

    def upsert_comment(self, number: int, marker: str, body: str, known_id: int | None = None) -> CommentResult: ...

    def find_comment(self, number: int, marker: str) -> Comment | None: ...

    def set_pull_section(self, number: int, name: str, text: str) -> bool:
        """Put `text` in the bot's section `name` of a pull request's body (markers.with_section), leaving the
        rest of the body as it is; whether the body changed."""
        ...

    def run_artifacts(self, run_id: int) -> list[Artifact]:
        """The artifacts of a workflow run, as GitHub lists them (expired ones included, marked so)."""
        ...

    def set_status(
        self, sha: str, state: CommitState, context: str, description: str = "", target_url: str | None = None
    ) -> None: ...

    def set_check_run(
        self,
        sha: str,
        name: str,
        conclusion: str | None,
        title: str,
        summary: str,
        details_url: str | None = None,
        external_id: str | None = None,
    ) -> int: ...

    def reviews(self, number: int) -> list[Review]: ...

    def permission(self, login: str) -> str: ...

    def team_members(self, org: str, slug: str) -> frozenset[str]: ...

    def add_labels(self, number: int, labels: Sequence[str]) -> None: ...

    def react(self, comment_id: int, content: str) -> None: ...

    def create_deployment(
        self, ref: str, environment: str, key: str, payload: Mapping[str, Any] | None = None, description: str = ""
    ) -> Deployment: ...

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None: ...

    def history(self, path: str, ref: str | None = None, limit: int = 100) -> list[HistoryEntry]: ...

    def file_text(self, path: str, ref: str | None = None) -> str | None: ...

    def revert_pull(self, number: int, on_head: Callable[[str], None] | None = None) -> PullRequest: ...

    def check_conclusion(self, sha: str, name: str) -> str | None: ...

    def check_run_summary(self, sha: str, name: str) -> tuple[str | None, str] | None: ...

    def check_run_external_id(self, sha: str, name: str) -> str | None:
        """The `external_id` the bot gave its own check run `name` on `sha` (as check_run_summary: 0 or 1
        request), or None."""
        ...

    def check_run_link(self, sha: str, name: str) -> str | None:
        """The details URL of the bot's own check run `name` on `sha` (the workflow run that set it last)."""
        ...

    def open_pulls(self, base: str, limit: int = 100) -> list[PullRequest]: ...

    def open_pull_for(self, branch: str) -> PullRequest | None: ...

    def merge_pull(self, number: int, sha: str, title: str, message: str) -> str: ...

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None: ...

    def dispatched_by_this_run(self, workflow: str, inputs: Mapping[str, str]) -> bool:
        """Whether this run dispatched `workflow` with these very inputs (the run's own memory: no request)."""
        ...

    def dispatched_runs(self, workflow: str, head_sha: str | None = None) -> list[WorkflowRun]: ...

    def dispatch_repository_event(self, event_type: str, client_payload: Mapping[str, Any]) -> None:
        """A `repository_dispatch` event for the team's own workflows (`on: repository_dispatch`); GitHub
        takes at most 10 top-level keys and less than 64KB of JSON in `client_payload`."""
        ...
