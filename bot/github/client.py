"""`GitHubForge`: the Forge protocol on PyGithub, the only place the bot imports PyGithub.

Configured for a bot that runs in a CI job: no sleeps between requests, PyGithub's own retries off (see
`retry.py`), 100 items per page, lazy objects (a `get_pull` costs nothing until a field is read). One
instance serves one run and remembers what the run established (`runcache.py`). Each method states its
request cost; tests hold them to the budgets in issues 5 and 6.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.github.config import GitHubConfig
from bot.github.forge import (
    Artifact,
    BaseTip,
    Comment,
    CommentResult,
    CommitState,
    Deployment,
    DeploymentState,
    ForgeError,
    HistoryEntry,
    OnHead,
    PromotionPR,
    PullRequest,
    Review,
    WorkflowRun,
)
from bot.github.markers import has_marker, with_marker, with_section
from bot.github.retry import Retrier, data_of, status_of
from bot.github.runcache import RunCache
from bot.github.values import to_comment, to_pull

DEPLOY_KEY = "modelbot_key"


MERGE_ATTEMPTS = 3  # a merge GitHub answers "Base branch was modified" is tried again, up to this many times
MERGE_RACE_WAIT_S = 1.0


def _base_moved(exc: ForgeError) -> bool:
    """GitHub's transient 405 when the base branch moved while it was merging: the same merge may succeed."""
    cause = exc.__cause__ or exc
    return status_of(cause) == 405 and "Base branch was modified" in str(data_of(cause) or cause)


class GitHubForge:
    def __init__(
        self, config: GitHubConfig, retrier: Retrier | None = None, bot_login: str | None = None, timeout: int = 30
    ) -> None:
        from github import Auth, Github

        self.config = config
        self.retrier = retrier or Retrier()
        self.bot_login = bot_login
        self.acts_as_app = False  # set by `connect` for a GitHub App's installation token: its events start runs
        self._check_runs_read: set[str] = set()  # commits whose every check run this run has read
        self.gh = Github(
            auth=Auth.Token(config.token),
            base_url=config.api_url,
            timeout=timeout,
            retry=None,
            per_page=100,
            seconds_between_requests=0,
            seconds_between_writes=0,
            lazy=True,
        )
        self.repo = self.gh.get_repo(config.repository)
        self._teams: dict[tuple[str, str], frozenset[str]] = {}
        self._roles: dict[str, str] = {}
        self._default_branch: str | None = None
        self.cache = RunCache()

    # --- reads -------------------------------------------------------------------------------------------
    def default_branch(self) -> str:
        """1 request, once per run."""
        if self._default_branch is None:
            self._default_branch = self.retrier.call("read the repository", lambda: self.repo.default_branch)
        return self._default_branch

    def pull_request(self, number: int) -> PullRequest:
        """1 request. The run now looks at a later moment of the PR: its reviews are read again."""
        self.cache.forget_reviews(number)
        return self.retrier.call(f"read pull request #{number}", lambda: to_pull(self.repo.get_pull(number)))

    def pull_files(self, number: int) -> list[str]:
        """The paths a pull request changes (both sides of a rename). 1 request per 100 files."""

        def read() -> list[str]:
            paths: list[str] = []
            for changed in self.repo.get_pull(number).get_files():
                paths.append(changed.filename)
                if getattr(changed, "previous_filename", None):
                    paths.append(changed.previous_filename)
            return paths

        return self.retrier.call(f"list the files of #{number}", read)

    def close_pull(self, number: int, delete_branch: bool = True) -> None:
        """Close a pull request and delete its head branch; closing a closed one is harmless. 2-3 requests."""
        pull = self.repo.get_pull(number)
        self.retrier.call(f"close #{number}", lambda: pull.edit(state="closed"))
        if delete_branch:
            url = f"{self.repo.url}/git/refs/heads/{pull.head.ref}"

            def delete() -> None:
                try:
                    self.gh.requester.requestJsonAndCheck("DELETE", url)
                except Exception as exc:
                    if status_of(exc) not in (404, 422):
                        raise

            self.retrier.call(f"delete the branch of #{number}", delete)

    def open_issue(self, title: str, body: str, marker: str, labels: Sequence[str] = ()) -> int:
        """The open issue carrying `marker`, or a new one: one incident per cause, never two. 1-2 requests."""
        text = with_marker(body, marker)

        def find() -> Any:
            # only an issue the bot opened: anyone may open an issue carrying the marker, and one of theirs
            # would take the incident (its author edits the body, closes it, and so reopens the breach's actions)
            for issue in self.repo.get_issues(state="open"):
                if issue.pull_request is None and has_marker(issue.body, marker) and self._by_bot(issue):
                    return issue
            return None

        existing = self.retrier.call("look for the issue", find)
        if existing is not None:
            return int(existing.number)
        created = self.retrier.create_once(
            f"open the issue {title!r}",
            lambda: self.repo.create_issue(title=title, body=text, labels=list(labels)),
            find,
        )
        return int(created.number)

    def open_pulls(self, base: str, limit: int = 100) -> list[PullRequest]:
        """Open pull requests into `base`, least recently updated first, at most `limit`. 1 request per 100."""

        def read() -> list[PullRequest]:
            found = self.repo.get_pulls(state="open", base=base, sort="updated", direction="asc")
            return [to_pull(p) for _, p in zip(range(limit), found, strict=False)]

        return self.retrier.call(f"list the open pull requests into {base}", read)

    def open_pull_for(self, branch: str) -> PullRequest | None:
        """The open pull request whose head is `branch` in this repository. 1 request."""
        head = f"{self.config.owner}:{branch}"

        def find() -> PullRequest | None:
            found = [to_pull(p) for p in self.repo.get_pulls(state="open", head=head)]
            return found[0] if found else None

        return self.retrier.call(f"look for the pull request of {branch}", find)

    def file_text(self, path: str, ref: str | None = None) -> str | None:
        """A file's text at a ref (default branch by default), None if absent. 1 request."""

        def read() -> str | None:
            try:
                content = self.repo.get_contents(path, ref=ref) if ref else self.repo.get_contents(path)
            except Exception as exc:
                if status_of(exc) == 404:
                    return None
                raise
            if isinstance(content, list):
                raise ForgeError(f"{path} is a directory at {ref or 'the default branch'}, not a file")
            return content.decoded_content.decode("utf-8")

        return self.retrier.call(f"read {path}", read)

    def reviews(self, number: int) -> list[Review]:
        """Every review of a pull request, oldest first. 1 request per 100 reviews; none for the first read
        of a pull request this run opened."""
        if self.cache.first_review_read(number):
            return []

        def read() -> list[Review]:
            return [
                Review(
                    r.id,
                    r.user.login if r.user else "",
                    r.state,
                    r.commit_id,
                    r.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r.submitted_at else None,
                )
                for r in self.repo.get_pull(number).get_reviews()
            ]

        return self.retrier.call(f"read the reviews of #{number}", read)

    def permission(self, login: str) -> str:
        """The user's role on the repository (admin, maintain, write, triage, read or none); cached per run."""
        if login not in self._roles:

            def read() -> str:
                try:
                    return str(self.repo.get_collaborator_role_name(login))
                except Exception as exc:
                    if status_of(exc) == 404:
                        return "none"
                    raise

            self._roles[login] = self.retrier.call(f"read the permission of {login}", read)
        return self._roles[login]

    def team_members(self, org: str, slug: str) -> frozenset[str]:
        """Logins of a team's members; 1 request per team (per 100 members), cached for the run."""
        key = (org.lower(), slug.lower())
        if key not in self._teams:

            def read() -> frozenset[str]:
                team = self.gh.get_organization(org).get_team_by_slug(slug)
                return frozenset(member.login for member in team.get_members())

            try:
                self._teams[key] = self.retrier.call(f"read the members of team {org}/{slug}", read)
            except ForgeError as exc:
                if status_of(exc.__cause__ or exc) in (403, 404) and not self.acts_as_app:
                    raise ForgeError(
                        f"{exc}. The workflow's GITHUB_TOKEN cannot read team membership, so a role given to "
                        f"@{org}/{slug} cannot be checked: run modelbot as a GitHub App with the organisation "
                        "permission Members: read (action inputs app-id and private-key; README, 'Use it in your "
                        "repository'), or name the role's members as users"
                    ) from exc
                raise ForgeError(
                    f"{exc} (does the team {org}/{slug} exist, and may the bot's app read its members?)"
                ) from exc
        return self._teams[key]

    def history(self, path: str, ref: str | None = None, limit: int = 100) -> list[HistoryEntry]:
        """Commits touching `path`, newest first. 1 request per 100 commits."""

        def read() -> list[HistoryEntry]:
            commits = self.repo.get_commits(path=path, sha=ref) if ref else self.repo.get_commits(path=path)
            out: list[HistoryEntry] = []
            for commit in itertools.islice(commits, limit):
                author = commit.commit.author
                out.append(
                    HistoryEntry(
                        commit.sha,
                        commit.commit.message,
                        commit.author.login if commit.author else None,
                        author.name,
                        author.date.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    )
                )
            return out

        return self.retrier.call(f"read the history of {path}", read)

    # --- comments ------------------------------------------------------------------------------------------
    def _comments(self, number: int, fresh: bool = False) -> list[Any]:
        """The issue's comments: listed once per run (1 request per 100), then kept current by our writes."""
        if fresh or number not in self.cache.comments:
            self.cache.comments[number] = list(self.repo.get_issue(number).get_comments())
        return self.cache.comments[number]

    def _by_bot(self, item: Any) -> bool:
        """Whether an issue or comment was written by the bot's identity (any author when it is not known)."""
        return self.bot_login is None or bool(item.user and item.user.login == self.bot_login)

    def _comment_with(self, number: int, marker: str, fresh: bool = False) -> Any:
        for comment in self._comments(number, fresh):
            if has_marker(comment.body, marker) and self._by_bot(comment):
                return comment
        return None

    def find_comment(self, number: int, marker: str) -> Comment | None:
        """The bot's comment carrying `marker`. 1 request per 100 comments, the first time in a run."""
        found = self.retrier.call(
            f"look for the comment {marker} on #{number}", lambda: self._comment_with(number, marker)
        )
        return to_comment(found) if found is not None else None

    def upsert_comment(self, number: int, marker: str, body: str, known_id: int | None = None) -> CommentResult:
        """Edit the comment carrying `marker`, or post it once. Requests: the issue's first listing in the run
        (none on a pull request this run opened), then 1 to post or edit, 0 if unchanged. With `known_id` (the
        comment's id, as a record only the bot writes keeps it) and no listing yet in this run: 1 edit of that
        comment, no listing; the listing only if it is gone."""
        text = with_marker(body, marker)
        if known_id is not None and number not in self.cache.comments:
            edited = self._edit_by_id(known_id, text, f"edit the comment {marker} on #{number}")
            if edited is not None:
                return CommentResult(edited, "updated")
        return self._upsert(number, marker, text, relisted=False)

    def _edit_by_id(self, comment_id: int, text: str, what: str) -> Comment | None:
        url = f"{self.repo.url}/issues/comments/{comment_id}"

        def edit() -> Comment | None:
            try:
                _, data = self.gh.requester.requestJsonAndCheck("PATCH", url, input={"body": text})
            except Exception as exc:
                if status_of(exc) == 404:
                    return None
                raise
            user = (data.get("user") or {}).get("login", "")
            return Comment(int(data["id"]), data.get("body") or "", user, data.get("html_url", ""))

        return self.retrier.call(what, edit)

    def _upsert(self, number: int, marker: str, text: str, relisted: bool) -> CommentResult:
        what = f"comment {marker} on #{number}"
        existing = self.retrier.call(f"look for the {what}", lambda: self._comment_with(number, marker, relisted))
        if existing is not None:
            if existing.body == text:
                return CommentResult(to_comment(existing), "unchanged")
            try:
                self.retrier.call(f"edit the {what}", lambda: existing.edit(text))
            except ForgeError as exc:
                if relisted or status_of(exc.__cause__ or exc) != 404:
                    raise
                return self._upsert(number, marker, text, relisted=True)  # deleted since we listed: list again
            return CommentResult(to_comment(existing), "updated")
        created = self.retrier.create_once(
            f"post the {what}",
            lambda: self.repo.get_issue(number).create_comment(text),
            lambda: self._comment_with(number, marker, fresh=True),
        )
        self.cache.remember_comment(number, created)
        return CommentResult(to_comment(created), "created")

    def react(self, comment_id: int, content: str) -> None:
        """Add a reaction to an issue comment (GitHub keeps one per user and content). 1 request."""
        url = f"{self.repo.url}/issues/comments/{comment_id}/reactions"
        self.retrier.call(
            f"react {content} to comment {comment_id}",
            lambda: self.gh.requester.requestJsonAndCheck("POST", url, input={"content": content}),
        )

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        """Add labels (idempotent on GitHub's side). 1 request."""
        if labels:
            self.retrier.call(f"label #{number}", lambda: self.repo.get_issue(number).add_to_labels(*labels))

    # --- statuses and checks ----------------------------------------------------------------------------------
    def set_status(
        self, sha: str, state: CommitState, context: str, description: str = "", target_url: str | None = None
    ) -> None:
        """A commit status; GitHub keeps the latest per context, so a repeat is harmless. 1 request."""
        fields: dict[str, Any] = {"state": state, "context": context, "description": description[:140]}
        if target_url:
            fields["target_url"] = target_url
        self.retrier.call(
            f"set status {context} on {sha[:12]}", lambda: self.repo.get_commit(sha).create_status(**fields)
        )

    def set_check_run(
        self,
        sha: str,
        name: str,
        conclusion: str | None,
        title: str,
        summary: str,
        details_url: str | None = None,
        external_id: str | None = None,
    ) -> int:
        """Create or update the check run `name` on `sha`: in progress while conclusion is None. 2 requests;
        1 on a commit this run created (nothing to look for) or once the run knows the check run."""
        output = {"title": title, "summary": summary[:65535]}
        fields: dict[str, Any] = {"output": output}
        if conclusion is None:
            fields["status"] = "in_progress"
        else:
            fields["conclusion"] = conclusion
        if details_url:
            fields["details_url"] = details_url
        if external_id is not None:
            fields["external_id"] = external_id

        def find() -> Any:
            runs = list(self.repo.get_commit(sha).get_check_runs(check_name=name))
            return next((run for run in runs if self._own_app(run)), None)

        key = (sha, name)
        known = self.cache.check_runs.get(key)
        if known is None and sha not in self.cache.own_commits and sha not in self._check_runs_read:
            known = self.retrier.call(f"look for check run {name}", find)
        if known is None:
            known = self.retrier.create_once(
                f"create check run {name}", lambda: self.repo.create_check_run(name=name, head_sha=sha, **fields), find
            )
        else:
            existing = known
            self.retrier.call(f"update check run {name}", lambda: existing.edit(**fields))
        self.cache.check_runs[key] = known
        return int(known.id)

    # --- deployments -------------------------------------------------------------------------------------------
    def _deployment_with(self, ref: str, environment: str, key: str) -> Any:
        for item in self.repo.get_deployments(ref=ref, environment=environment):
            payload = item.payload if isinstance(item.payload, dict) else {}
            if payload.get(DEPLOY_KEY) == key:
                return item
        return None

    def create_deployment(
        self, ref: str, environment: str, key: str, payload: Mapping[str, Any] | None = None, description: str = ""
    ) -> Deployment:
        """The deployment identified by `key` (e.g. `churn:production:7`), created once, with its latest status
        when it existed (a re-run of a killed deploy finds it). 2 requests: the look-up, then the creation or
        the read of its statuses."""
        what = f"deployment {key} to {environment}"
        existing = self.retrier.call(f"look for the {what}", lambda: self._deployment_with(ref, environment, key))
        state = None
        if existing is not None:
            found = existing
            latest = self.retrier.call(
                f"read the statuses of the {what}", lambda: next(iter(found.get_statuses()), None)
            )
            state = None if latest is None else str(latest.state)
        else:
            body = {**(payload or {}), DEPLOY_KEY: key}
            existing = self.retrier.create_once(
                f"create the {what}",
                lambda: self.repo.create_deployment(
                    ref=ref,
                    environment=environment,
                    payload=body,
                    description=description,
                    auto_merge=False,
                    required_contexts=[],
                    transient_environment=False,
                    production_environment=environment == "production",
                ),
                lambda: self._deployment_with(ref, environment, key),
            )
        return Deployment(
            int(existing.id), existing.sha, existing.ref, existing.environment, dict(existing.payload or {}), state
        )

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """Add a status to a deployment unless its latest status already says the same. 2 requests."""
        deployment = self.repo.get_deployment(deployment_id)
        fields: dict[str, Any] = {"state": state, "description": description[:140]}
        if environment_url:
            fields["environment_url"] = environment_url
        if log_url:
            fields["target_url"] = log_url  # PyGithub's name for it; GitHub takes target_url as log_url

        def latest_same() -> Any:
            latest = next(iter(deployment.get_statuses()), None)
            same = latest is not None and (latest.state, latest.description or "") == (state, fields["description"])
            return latest if same else None

        what = f"set deployment {deployment_id} {state}"
        if self.retrier.call(f"{what} (look-up)", latest_same) is None:
            self.retrier.create_once(what, lambda: deployment.create_status(**fields), latest_same)

    # --- git data ---------------------------------------------------------------------------------------------
    def create_commit(self, message: str, tree: str, parents: Sequence[str]) -> str:
        """A commit object (content-addressed, so a retry is harmless). 1 request.

        Raw POST: PyGithub's create_git_commit wants loaded parent objects, one extra GET each."""
        url = f"{self.repo.url}/git/commits"
        _, data = self.retrier.call(
            "write the commit",
            lambda: self.gh.requester.requestJsonAndCheck(
                "POST", url, input={"message": message, "tree": tree, "parents": list(parents)}
            ),
        )
        sha = str(data["sha"])
        self.cache.own_commits.add(sha)
        return sha

    # --- pull requests --------------------------------------------------------------------------------------------
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
    ) -> PromotionPR:
        """See `promotion.py`; `base_tip` (the base's commit and tree as the caller's checkout has them) saves
        reading the base branch and puts the edit on the revision it was computed from."""
        from bot.github.promotion import find_or_create

        base = base or self.default_branch()
        return find_or_create(self, model, stage, files, title, body, base, labels, base_tip, on_head)

    def check_conclusion(self, sha: str, name: str) -> str | None:
        """The conclusion of check run `name` on `sha` (None while absent or running). 0 requests when this run
        set it, else 1."""
        known = self.cache.check_runs.get((sha, name))
        if known is None:
            runs = self.retrier.call(
                f"read check run {name}", lambda: list(self.repo.get_commit(sha).get_check_runs(check_name=name))
            )
            known = next((run for run in runs if self._own_app(run)), None)  # only the bot's own counts
        return None if known is None else known.conclusion

    def check_run_summary(self, sha: str, name: str) -> tuple[str | None, str] | None:
        """(conclusion, summary) of the bot's own check run `name` on `sha`, or None. Only a check run the
        bot's identity created counts: it is the one record on a commit that no other writer can edit.
        0 requests when this run set it, else 1."""
        known = self.cache.check_runs.get((sha, name))
        if known is None:
            self._read_check_runs(sha)
            known = self.cache.check_runs.get((sha, name))
            if known is None:
                return None
        output = known.output
        return known.conclusion, (getattr(output, "summary", None) or "")

    def own_check_runs(self, sha: str) -> tuple[str, ...]:
        """The names of the bot's own check runs on `sha`: the bot recorded that commit (no other writer can
        create a check run under its identity). As check_run_summary: 0 or 1 request."""
        self._read_check_runs(sha)
        return tuple(sorted(name for commit, name in self.cache.check_runs if commit == sha))

    def _read_check_runs(self, sha: str) -> None:
        """Every check run of the bot on `sha`, read once into the run cache (GitHub lists newest first); none
        read for a commit this run made, or whose check runs it read already. 0 or 1 request."""
        if sha in self.cache.own_commits or sha in self._check_runs_read:
            return
        runs = self.retrier.call(
            f"read the check runs of {sha[:12]}", lambda: list(self.repo.get_commit(sha).get_check_runs())
        )
        for run in runs:
            if self._own_app(run):
                self.cache.check_runs.setdefault((sha, run.name), run)
        self._check_runs_read.add(sha)

    def check_run_external_id(self, sha: str, name: str) -> str | None:
        """The `external_id` the bot gave its own check run `name` on `sha`, or None. As check_run_summary: 0 or
        1 request."""
        if self.check_run_summary(sha, name) is None:
            return None
        return getattr(self.cache.check_runs.get((sha, name)), "external_id", None) or None

    def check_run_link(self, sha: str, name: str) -> str | None:
        """The details URL of the bot's own check run `name` on `sha`, or None. As check_run_summary: 0 or 1
        request."""
        if self.check_run_summary(sha, name) is None:
            return None
        url = getattr(self.cache.check_runs.get((sha, name)), "details_url", None)
        return str(url) if url else None

    def _own_app(self, run: Any) -> bool:
        app = getattr(run, "app", None)
        slug = getattr(app, "slug", None)
        expected = (self.bot_login or "github-actions[bot]").removesuffix("[bot]")
        return slug == expected

    def merge_pull(self, number: int, sha: str, title: str, message: str) -> str:
        """Merge #number only if its head is still `sha` (GitHub refuses otherwise); a merge commit, so the
        history names the pull request. Returns the merge commit (remembered as this run's own when this call
        made it). 1 request; 2 when the answer was lost and the pull request has to be read to learn whether
        the merge happened."""
        url = f"{self.repo.url}/pulls/{number}/merge"
        fields = {"sha": sha, "merge_method": "merge", "commit_title": title, "commit_message": message}
        for attempt in range(1, MERGE_ATTEMPTS + 1):
            try:
                _, data = self.retrier.call(
                    f"merge #{number}", lambda: self.gh.requester.requestJsonAndCheck("PUT", url, input=fields)
                )
                self.cache.own_commits.add(str(data["sha"]))  # the merge commit this run made
                return str(data["sha"])
            except ForgeError as exc:
                if _base_moved(exc) and attempt < MERGE_ATTEMPTS:
                    self.retrier.sleep(MERGE_RACE_WAIT_S * attempt)  # GitHub merged something else meanwhile
                    continue
                pull = self.pull_request(number)
                if pull.merged and pull.merge_commit_sha and pull.head_sha == sha:
                    return pull.merge_commit_sha
                reason = "its head moved" if pull.head_sha != sha else str(exc)
                raise ForgeError(f"#{number} cannot be merged: {reason}") from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None:
        """Start `workflow` (its file name) on `ref`: the one kind of run a workflow's own token may start.
        1 request."""
        url = f"{self.repo.url}/actions/workflows/{workflow}/dispatches"
        self.retrier.call(
            f"dispatch {workflow}",
            lambda: self.gh.requester.requestJsonAndCheck("POST", url, input={"ref": ref, "inputs": dict(inputs)}),
        )
        self.cache.dispatches.add((workflow, tuple(sorted(inputs.items()))))

    def dispatched_by_this_run(self, workflow: str, inputs: Mapping[str, str]) -> bool:
        """Whether this run dispatched `workflow` with these very inputs. No request."""
        return (workflow, tuple(sorted(inputs.items()))) in self.cache.dispatches

    def dispatch_repository_event(self, event_type: str, client_payload: Mapping[str, Any]) -> None:
        """`POST /repos/{owner}/{repo}/dispatches`: starts the workflows whose `on: repository_dispatch` names
        `event_type`, on the default branch, with `client_payload` as `github.event.client_payload`. GitHub keeps
        no record to look for afterwards, so a transient failure is retried: at least once, possibly twice after
        a lost answer (the payload should carry a key the receiver can drop a repeat by). 1 request."""
        url = f"{self.repo.url}/dispatches"
        body = {"event_type": event_type, "client_payload": dict(client_payload)}
        self.retrier.call(
            f"send the repository_dispatch event {event_type}",
            lambda: self.gh.requester.requestJsonAndCheck("POST", url, input=body),
        )

    def made_by_this_run(self, sha: str) -> bool:
        return sha in self.cache.own_commits

    def dispatched_runs(self, workflow: str, head_sha: str | None = None) -> list[WorkflowRun]:
        """The runs of `workflow` (its file name) that a dispatch started while its ref pointed at `head_sha`,
        newest first: how a run learns that a dispatch it cannot remember (its killed predecessor's) happened.
        GitHub creates the run when it accepts the dispatch and lists it within seconds. Only the bot's own
        dispatches count: any writer may dispatch the same workflow (with other inputs), and that must not make
        a re-run believe its deploy or validation was started. Without `head_sha`, the bot's latest 100
        wherever the ref pointed (a run is then told by its title). 1 request; none for a commit this run made
        (no earlier run can have dispatched on it)."""
        if head_sha is not None and head_sha in self.cache.own_commits:
            return []
        from github.GithubObject import NotSet

        # By commit; or a page of the bot's runs, not of everyone's
        actor = self.bot_login if head_sha is None and self.bot_login else NotSet
        by_sha = head_sha if head_sha is not None else NotSet

        def read() -> list[WorkflowRun]:
            runs = self.repo.get_workflow(workflow).get_runs(event="workflow_dispatch", head_sha=by_sha, actor=actor)
            return [
                WorkflowRun(
                    run.id,
                    run.path,
                    run.event,
                    run.head_sha,
                    run.status,
                    run.conclusion,
                    run.html_url,
                    run.actor.login if run.actor else "",
                    run.display_title or "",
                )
                for _, run in zip(range(100), runs, strict=False)
            ]

        where = f" on {head_sha[:12]}" if head_sha is not None else ""
        found = self.retrier.call(f"list the dispatched runs of {workflow}{where}", read)
        return [run for run in found if self.bot_login is None or run.actor.lower() == self.bot_login.lower()]

    def set_pull_section(self, number: int, name: str, text: str) -> bool:
        """Put `text` in the bot's section `name` of the pull request's body, the rest as it is. 1 request to
        read the body (none on a pull request this run opened: its body is what the run wrote), 1 more to edit
        it when the section changes (a PATCH of the body: idempotent)."""
        current = self.cache.bodies.get(number)
        if current is None:
            read = self.retrier.call(f"read pull request #{number}", lambda: self.repo.get_pull(number))
            current = read.body or ""
        body = with_section(current, name, text)
        if body == current:
            return False
        url = f"{self.repo.url}/pulls/{int(number)}"
        self.retrier.call(
            f"edit section {name} of #{number}",
            lambda: self.gh.requester.requestJsonAndCheck("PATCH", url, input={"body": body}),
        )
        self.cache.bodies[number] = body
        return True

    def run_artifacts(self, run_id: int) -> list[Artifact]:
        """A workflow run's artifacts (GET /repos/{o}/{r}/actions/runs/{id}/artifacts). 1 request per 100."""
        url = f"{self.repo.url}/actions/runs/{int(run_id)}/artifacts"

        def read() -> list[Artifact]:
            found: list[Artifact] = []
            for page in itertools.count(1):
                _, data = self.gh.requester.requestJsonAndCheck("GET", url, parameters={"per_page": 100, "page": page})
                listed = data.get("artifacts") or []
                found += [
                    Artifact(
                        int(a["id"]),
                        str(a["name"]),
                        int(a.get("size_in_bytes") or 0),
                        bool(a.get("expired")),
                        a.get("expires_at"),
                        str(a.get("archive_download_url") or a.get("url") or ""),
                    )
                    for a in listed
                ]
                if len(listed) < 100 or len(found) >= int(data.get("total_count") or 0):
                    return found
            return found

        return self.retrier.call(f"list the artifacts of run {run_id}", read)

    def revert_pull(self, number: int, on_head: Callable[[str], None] | None = None) -> PullRequest:
        from bot.github.revert import revert_pull

        return revert_pull(self, number, on_head)
