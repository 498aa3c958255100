"""The Python API for tests: act on the hub as any user, with the same effects (and webhooks) as the UI.

alice = hub.as_user("alice")
alice.push("feature", {"models.yaml": text}, "bump churn")
number = alice.open_pull("feature", "main", "Promote churn")
hub.as_user("bob").review(number, "APPROVE")
hub.as_user("bob").merge(number, "squash")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localhub.gitrepo import ZERO_SHA
from localhub.rest.ops import checks, deployments, issues, pulls, reviews
from localhub.rest.ops.commits import commit_changes
from localhub.rest.ops.refs import move_ref, sync_fork_pulls

if TYPE_CHECKING:
    from localhub.hub import Hub
    from localhub.state import Comment, Issue, Review


@dataclass(frozen=True)
class Actor:
    hub: Hub
    login: str

    def _pull(self, number: int) -> Issue:
        issue = issues.get_issue(self.hub, number)
        assert issue.pull is not None, f"#{number} is an issue, not a pull request"
        return issue

    def push(self, branch: str, files: dict[str, str | bytes | None], message: str, base: str | None = None) -> str:
        """Commit `files` (None deletes) on `branch` (created from `base`, default branch by default)."""
        hub = self.hub
        with hub.state.lock:
            parent = hub.git.resolve_commit(f"refs/heads/{branch}")
            if parent is None:
                parent = hub.git.resolve_commit(f"refs/heads/{base or hub.state.repo.default_branch}")
            data = {path: (v.encode() if isinstance(v, str) else v) for path, v in files.items()}
            sha = commit_changes(hub, self.login, parent, data, message)
            move_ref(hub, self.login, f"refs/heads/{branch}", sha)
            return sha

    def push_to_fork(self, branch: str, files: dict[str, str | bytes | None], message: str) -> str:
        """Commit `files` on `branch` of this user's fork (forked now if need be; a new branch starts from the
        repository's default branch). An open pull request from that branch is synchronized, as on GitHub."""
        hub = self.hub
        fork = hub.fork(self.login)
        with hub.state.lock:
            old = hub.git.resolve(fork.ref(branch))
            parent = hub.git.resolve_commit(fork.ref(branch)) or hub.git.resolve_commit(
                f"refs/heads/{hub.state.repo.default_branch}"
            )
            data = {path: (v.encode() if isinstance(v, str) else v) for path, v in files.items()}
            sha = commit_changes(hub, self.login, parent, data, message)
            hub.git.update_ref(fork.ref(branch), sha, old or ZERO_SHA)
            sync_fork_pulls(hub, self.login, self.login, branch, sha)
            return sha

    def open_pull(self, head: str, base: str, title: str, body: str = "", draft: bool = False) -> int:
        """`head` is a branch of the repository, or `owner:branch` for a branch of that user's fork."""
        with self.hub.state.lock:
            return pulls.create_pull(self.hub, self.login, title, head, base, body, draft).number

    def open_issue(self, title: str, body: str = "") -> int:
        with self.hub.state.lock:
            return issues.create_issue(self.hub, self.login, title, body).number

    def comment(self, number: int, body: str) -> Comment:
        with self.hub.state.lock:
            return issues.create_comment(self.hub, self.login, number, body)

    def edit_comment(self, comment_id: int, body: str) -> Comment:
        with self.hub.state.lock:
            return issues.update_comment(self.hub, self.login, issues.get_comment(self.hub, comment_id), body)

    def react(self, comment_id: int, content: str) -> None:
        with self.hub.state.lock:
            issues.add_reaction(self.hub, self.login, issues.get_comment(self.hub, comment_id).reactions, content)

    def review(self, number: int, event: str = "APPROVE", body: str = "", commit_id: str | None = None) -> Review:
        with self.hub.state.lock:
            return reviews.create_review(self.hub, self.login, self._pull(number), event, body, commit_id)

    def dismiss(self, number: int, review_id: int, message: str = "dismissed") -> Review:
        with self.hub.state.lock:
            issue = self._pull(number)
            assert issue.pull is not None
            review = next(r for r in issue.pull.reviews if r.id == review_id)
            return reviews.dismiss_review(self.hub, self.login, issue, review, message)

    def merge(self, number: int, method: str = "merge") -> str:
        with self.hub.state.lock:
            return pulls.merge_pull(self.hub, self.login, self._pull(number), method)

    def edit_pull(
        self, number: int, title: str | None = None, body: str | None = None, base: str | None = None
    ) -> None:
        with self.hub.state.lock:
            pulls.update_pull(self.hub, self.login, self._pull(number), title=title, body=body, base=base)

    def close(self, number: int) -> None:
        with self.hub.state.lock:
            pulls.update_pull(self.hub, self.login, self._pull(number), state="closed")

    def label(self, number: int, *names: str) -> None:
        with self.hub.state.lock:
            issues.add_labels(self.hub, self.login, issues.get_issue(self.hub, number), list(names))

    def set_status(self, sha: str, state: str, context: str, description: str = "") -> None:
        with self.hub.state.lock:
            checks.create_status(self.hub, self.login, sha, state, context, description)

    def deploy(self, ref: str, environment: str, **fields: Any) -> int:
        with self.hub.state.lock:
            return deployments.create_deployment(
                self.hub, self.login, {"ref": ref, "environment": environment, **fields}
            ).id
