"""The hub: one repository (a real bare git repository), its people, and the webhook deliveries it emits.

HTTP routes and the Python API for tests (`Hub.as_user`) both act on a Hub through `localhub.rest.ops`, so a
comment posted by a test and one posted by the bot over HTTP are the same change with the same webhook.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localhub.errors import LocalhubUsageError
from localhub.gitrepo import GitRepo
from localhub.state import ROLES, Fork, Org, Repo, State, Team, User

if TYPE_CHECKING:
    from localhub.actors import Actor
    from localhub.apps import App
    from localhub.rest.permissions import JobGrant

ACTIONS_BOT = "github-actions[bot]"


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: the event name, the payload GitHub would POST, and who caused it."""

    id: int
    event: str
    payload: dict[str, Any]
    sender: str


@dataclass
class Hub:
    state: State
    git: GitRepo
    base_url: str = "http://127.0.0.1"
    deliveries: list[Delivery] = field(default_factory=list)
    listeners: list[Callable[[Delivery], None]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # repository secrets, `secrets.*` in workflow runs
    variables: dict[str, str] = field(default_factory=dict)  # repository variables, `vars.*` in workflow runs

    @classmethod
    def create(
        cls,
        workdir: Path,
        owner: str = "acme",
        name: str = "models",
        seed: Path | None = None,
        default_branch: str = "main",
        owner_is_org: bool = True,
    ) -> Hub:
        """A hub whose repository starts as a bare clone of `seed` (a git repository or a plain directory)."""
        bare = workdir / f"{owner}/{name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        if seed is not None and _is_git_repository(seed):
            git = GitRepo.clone_bare(seed, bare)
            head = git.git("symbolic-ref", "--short", "HEAD").strip()
            default_branch = head or default_branch
        else:
            git = GitRepo.init_bare(bare, default_branch)
            if seed is not None:
                _commit_directory(git, seed, default_branch)
        state = State(repo=Repo(owner=owner, name=name, id=0, default_branch=default_branch))
        state.repo.id = state.next_id()
        hub = cls(state=state, git=git)
        if owner_is_org:
            hub.add_org(owner)
        else:
            hub.add_user(owner)
        hub.add_user(ACTIONS_BOT, user_type="Bot", role="write")
        return hub

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1]

    # --- people -----------------------------------------------------------------------------------------
    def add_user(self, login: str, role: str | None = None, user_type: str = "User", name: str | None = None) -> User:
        """A user (idempotent); `role` makes them a collaborator with that repository role."""
        with self.state.lock:
            user = self.state.users.get(login)
            if user is None:
                uid = self.state.next_id()
                user = User(
                    login=login,
                    id=uid,
                    type=user_type,
                    name=name or login,
                    email=f"{uid}+{login}@users.noreply.localhub",
                )
                self.state.users[login] = user
            if role is not None:
                if role not in ROLES:
                    raise LocalhubUsageError(f"role {role!r}: expected one of {', '.join(ROLES)}")
                self.state.repo.collaborators[login] = role
            return user

    def add_org(self, login: str) -> Org:
        with self.state.lock:
            if login not in self.state.orgs:
                self.add_user(login, user_type="Organization")
                self.state.orgs[login] = Org(login=login, id=self.state.users[login].id)
            return self.state.orgs[login]

    def add_org_member(self, org: str, login: str, role: str = "member") -> None:
        with self.state.lock:
            self.add_user(login)
            self.add_org(org).members[login] = role

    def add_team(
        self,
        org: str,
        slug: str,
        members: list[str] | dict[str, str] | None = None,
        repo_role: str | None = None,
        name: str | None = None,
    ) -> Team:
        """A team of `org`; `repo_role` grants the team that role on the hub's repository."""
        with self.state.lock:
            organisation = self.add_org(org)
            team = organisation.teams.get(slug)
            if team is None:
                team = Team(id=self.state.next_id(), org=org, slug=slug, name=name or slug)
                organisation.teams[slug] = team
            roles = members if isinstance(members, dict) else {login: "member" for login in members or []}
            for login, team_role in roles.items():
                if login not in organisation.members:
                    self.add_org_member(org, login)
                team.members[login] = team_role
            if repo_role is not None and org == self.state.repo.owner:
                self.state.repo.team_roles[slug] = repo_role
            return team

    def token_for(self, login: str) -> str:
        """A personal access token acting as `login` (a new one each call, like a freshly issued token)."""
        with self.state.lock:
            if login not in self.state.users:
                raise LocalhubUsageError(f"no user {login!r} on this hub")
            token = f"ghp_{secrets.token_hex(18)}"
            self.state.tokens[token] = login
            return token

    def token_for_job(self, grant: JobGrant) -> str:
        """A workflow job's GITHUB_TOKEN: acts as github-actions[bot], but may do only what the job's
        `permissions:` grant (`localhub.rest.permissions`)."""
        with self.state.lock:
            token = f"ghs_{secrets.token_hex(18)}"
            self.state.tokens[token] = ACTIONS_BOT
            self.state.grants[token] = grant
            return token

    def add_app(self, slug: str, permissions: dict[str, str], name: str | None = None) -> App:
        """Register a GitHub App with a fresh key pair and install it on the repository: its bot user
        `<slug>[bot]` exists, and its installation tokens may do what `permissions` allow (GitHub's app
        permission names: checks, contents, pull_requests, issues, statuses, deployments, actions, ...)."""
        from localhub.apps import App, key_pair
        from localhub.state import now

        private, public = key_pair()
        with self.state.lock:
            app = App(
                self.state.next_id(),
                slug,
                name or slug,
                dict(permissions),
                private,
                public,
                self.state.next_id(),
                now(),
            )
            self.state.apps[app.id] = app
        self.add_user(app.bot_login, user_type="Bot", role="write")
        return app

    def token_for_installation(self, app: App) -> tuple[str, str]:
        """An installation token of `app` (acting as its bot, holding its permissions) and when it expires."""
        from datetime import UTC, datetime, timedelta

        from localhub.apps import TOKEN_LIFETIME_S
        from localhub.rest.permissions import JobGrant

        with self.state.lock:
            token = f"ghs_{secrets.token_hex(18)}"
            self.state.tokens[token] = app.bot_login
            self.state.grants[token] = JobGrant(
                app.scopes(), workflow=f"app {app.slug}", job="installation", installation=True
            )
            expires = datetime.now(UTC) + timedelta(seconds=TOKEN_LIFETIME_S)
            return token, expires.strftime("%Y-%m-%dT%H:%M:%SZ")

    def app_of(self, login: str) -> App | None:
        """The app whose bot `login` is, if any."""
        return next((a for a in self.state.apps.values() if a.bot_login == login), None)

    def fork(self, login: str) -> Fork:
        """`login`'s fork of the repository (idempotent). Forking needs no role: anyone who can read a public
        repository can fork it. Its branches start from nothing; `Actor.push_to_fork` commits to them."""
        with self.state.lock:
            self.add_user(login)
            found = self.state.forks.get(login)
            if found is None:
                found = Fork(login, self.state.repo.name, self.state.next_id())
                self.state.forks[login] = found
            return found

    def as_user(self, login: str) -> Actor:
        from localhub.actors import Actor

        self.add_user(login)
        return Actor(self, login)

    # --- events ------------------------------------------------------------------------------------------
    def emit(self, event: str, payload: dict[str, Any], sender: str) -> Delivery:
        delivery = Delivery(self.state.next_id(), event, payload, sender)
        self.deliveries.append(delivery)
        for listener in list(self.listeners):
            listener(delivery)
        return delivery

    def protect_branch(self, branch: str, required_checks: list[str]) -> None:
        """Branch protection with required status checks: a merge into `branch` needs each context (a commit
        status or a check run of that name) to be successful on the PR's head, as GitHub enforces it."""
        self.state.protected[branch] = tuple(required_checks)

    def clone_url(self) -> str:
        return f"{self.base_url}/{self.state.repo.full_name}.git"


def _is_git_repository(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def _commit_directory(git: GitRepo, source: Path, branch: str) -> None:
    """Seed an empty repository with the files of a plain directory, as one initial commit."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(source, work, ignore=shutil.ignore_patterns(".git"))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
            "GIT_AUTHOR_NAME": "localhub",
            "GIT_AUTHOR_EMAIL": "localhub@localhost",
            "GIT_COMMITTER_NAME": "localhub",
            "GIT_COMMITTER_EMAIL": "localhub@localhost",
        }
        for args in (
            ["init", "-q", f"--initial-branch={branch}"],
            ["add", "-A"],
            ["commit", "-q", "--allow-empty", "-m", "Initial commit"],
            ["push", "-q", str(git.path), f"HEAD:refs/heads/{branch}"],
        ):
            subprocess.run(["git", *args], cwd=work, check=True, capture_output=True, env=env)
