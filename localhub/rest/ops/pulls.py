"""Pull requests: open, edit, close, and merge (merge commit or squash) with git's own conflict detection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.errors import ApiError, invalid
from localhub.rest import webhooks
from localhub.rest.ops.commits import signature
from localhub.rest.ops.refs import close_pull, move_ref
from localhub.rest.queries import latest_statuses
from localhub.state import Issue, Pull, now

if TYPE_CHECKING:
    from localhub.hub import Hub


def _head(hub: Hub, spec: str) -> tuple[str | None, str, str | None]:
    """(fork owner or None, branch, its commit) of a `head` as GitHub takes it: `branch`, `owner:branch` for
    the repository's own, or `user:branch` for a branch of that user's fork."""
    owner, _, branch = spec.rpartition(":")
    if not owner or owner == hub.state.repo.owner:
        return None, branch, hub.git.resolve_commit(f"refs/heads/{branch}")
    fork = hub.state.forks.get(owner)
    return owner, branch, hub.git.resolve_commit(fork.ref(branch)) if fork else None


def create_pull(
    hub: Hub, actor: str, title: str, head: str, base: str, body: str | None = None, draft: bool = False
) -> Issue:
    state, git = hub.state, hub.git
    head_owner, head, head_sha = _head(hub, head)
    base_sha = git.resolve_commit(f"refs/heads/{base}")
    if base_sha is None:
        raise invalid("PullRequest", "base", "invalid")
    if head_sha is None:
        raise invalid("PullRequest", "head", "invalid")
    for issue in state.issues.values():
        pr = issue.pull
        if pr and issue.state == "open" and (pr.head_owner, pr.head_ref, pr.base_ref) == (head_owner, head, base):
            raise ApiError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {head_owner or state.repo.owner}:{head}.",
                    }
                ],
            )
    if git.is_ancestor(head_sha, base_sha):
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {head}"}],
        )
    issue = Issue(
        number=state.next_number(),
        id=state.next_id(),
        title=title,
        body=body,
        user=actor,
        pull=Pull(
            head_ref=head, base_ref=base, head_sha=head_sha, base_sha=base_sha, draft=draft, head_owner=head_owner
        ),
    )
    state.issues[issue.number] = issue
    git.update_ref(f"refs/pull/{issue.number}/head", head_sha)  # as GitHub keeps every PR's head, forks' too
    hub.emit("pull_request", webhooks.pull_request(hub, "opened", issue, actor), actor)
    return issue


def update_pull(
    hub: Hub,
    actor: str,
    issue: Issue,
    title: str | None = None,
    body: str | None = None,
    state: str | None = None,
    base: str | None = None,
) -> Issue:
    pr = issue.pull
    assert pr is not None
    changes: dict[str, dict[str, str | None]] = {}
    if title is not None and title != issue.title:
        changes["title"] = {"from": issue.title}
        issue.title = title
    if body is not None and body != issue.body:
        changes["body"] = {"from": issue.body}
        issue.body = body
    if base is not None and base != pr.base_ref:
        base_sha = hub.git.resolve_commit(f"refs/heads/{base}")
        if base_sha is None:
            raise invalid("PullRequest", "base", "invalid")
        changes["base"] = {"from": pr.base_ref}
        pr.base_ref, pr.base_sha = base, base_sha
    if changes:
        issue.updated_at = now()
        hub.emit("pull_request", webhooks.pull_request(hub, "edited", issue, actor, changes=changes), actor)
    if state == "closed" and issue.state == "open":
        close_pull(hub, actor, issue)
    elif state == "open" and issue.state == "closed" and not pr.merged:
        issue.state, issue.closed_at, issue.updated_at = "open", None, now()
        pr.head_sha = hub.git.resolve_commit(f"refs/heads/{pr.head_ref}") or pr.head_sha
        hub.emit("pull_request", webhooks.pull_request(hub, "reopened", issue, actor), actor)
    return issue


def merge_pull(
    hub: Hub,
    actor: str,
    issue: Issue,
    method: str = "merge",
    sha: str | None = None,
    title: str | None = None,
    message: str | None = None,
) -> str:
    """Merge for real: a merge commit (two parents) or a squash commit (one), moving the base branch."""
    pr = issue.pull
    assert pr is not None
    if pr.merged or issue.state != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    if sha is not None and sha != pr.head_sha:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    if method not in ("merge", "squash"):
        raise invalid(
            "PullRequest",
            "merge_method",
            "invalid",
            f"merge_method {method!r} is not supported by localhub (merge, squash)",
        )
    _required_checks(hub, pr.base_ref, pr.head_sha)
    git = hub.git
    base_sha = git.resolve_commit(f"refs/heads/{pr.base_ref}")
    assert base_sha is not None
    result = git.merge_tree(base_sha, pr.head_sha)
    if result.tree is None:
        raise ApiError(405, "Pull Request is not mergeable")
    if method == "merge":
        default_title = f"Merge pull request #{issue.number} from {pr.head_owner or hub.state.repo.owner}/{pr.head_ref}"
        text = f"{title or default_title}\n\n{message if message is not None else issue.title}"
        parents = [base_sha, pr.head_sha]
    else:
        commits = git.log(f"{base_sha}..{pr.head_sha}")
        listing = "\n\n".join(f"* {git.commit(c).message}" for c in reversed(commits))
        text = f"{title or f'{issue.title} (#{issue.number})'}\n\n{message if message is not None else listing}"
        parents = [base_sha]
    sig = signature(hub, actor)
    merged = git.commit_tree(result.tree, parents, text.rstrip() + "\n", sig, sig)
    pr.merged, pr.merged_at, pr.merged_by, pr.merge_commit_sha = True, now(), actor, merged
    issue.state, issue.closed_at, issue.updated_at = "closed", pr.merged_at, pr.merged_at
    move_ref(hub, actor, f"refs/heads/{pr.base_ref}", merged, expected_old=base_sha)
    pr.base_sha = base_sha
    hub.emit("pull_request", webhooks.pull_request(hub, "closed", issue, actor), actor)
    return merged


def _required_checks(hub: Hub, branch: str, sha: str) -> None:
    """GitHub's answer to a merge that branch protection blocks: 405 naming the first unmet context."""
    states = {s.context: s.state for s in latest_statuses(hub, sha)}
    runs = sorted((r for r in hub.state.check_runs.values() if r.head_sha == sha), key=lambda r: r.id)
    states.update({r.name: (r.conclusion or "pending") for r in runs})
    for context in hub.state.protected.get(branch, ()):
        state = states.get(context)
        if state is None:
            raise ApiError(405, f'Required status check "{context}" is expected.')
        if state not in ("success", "neutral", "skipped"):
            how = "in progress" if state == "pending" else "failing"
            raise ApiError(405, f'Required status check "{context}" is {how}.')
