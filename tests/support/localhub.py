"""A running localhub for tests, with every REST answer and webhook checked against GitHub's own schemas.

Use it from a test directory whose conftest.py puts the repository root on sys.path and re-exports the
fixtures (as tests/github/conftest.py does):

    from tests.support.localhub import localhub, localhub_factory  # noqa: F401  (the fixtures)

    def test_something(localhub: RunningHub) -> None:
        localhub.hub.add_user("alice", role="write")
        gh = localhub.github("alice")                 # PyGithub acting as alice, no sleeps, no retries
        forge = localhub.forge()                      # the bot's adapter, acting as github-actions[bot]
        localhub.hub.as_user("bob").comment(1, "hi")  # act directly, as any user (webhooks included)
        mark = localhub.log.mark(); ...; assert localhub.log.writes(mark) == []

`localhub_factory(files={...})` or `localhub_factory(seed=path)` seeds the repository; `faults=Faults(...)`
(or `localhub.faults.error_rate = 0.2` later) injects failures. The hub runs strict: it checks each answer and
webhook against rest-api.json / webhooks.json itself (and that absolute URLs stay on its own address), and at
teardown the fixture fails the test if it recorded any problem.
`localhub.actions.runner.ActionsRunner(localhub.server, tmp_path)` runs workflows.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localhub.faults import Faults
from localhub.hub import Hub
from localhub.rest.requestlog import RequestLog
from localhub.rest.server import LocalHubServer


@dataclass
class RunningHub:
    server: LocalHubServer

    @property
    def problems(self) -> list[str]:
        """What the strict hub found outside GitHub's schemas so far."""
        return self.server.conformance.problems

    @property
    def checked_responses(self) -> int:
        return self.server.conformance.checked_responses

    @property
    def checked_webhooks(self) -> int:
        return self.server.conformance.checked_webhooks

    @property
    def hub(self) -> Hub:
        return self.server.hub

    @property
    def url(self) -> str:
        return self.server.url

    def bot_env(self) -> dict[str, str]:
        """What `bot.github.connect` reads to act as the workflow's bot on this hub."""
        from localhub.hub import ACTIONS_BOT

        return {"GITHUB_API_URL": self.url, "GITHUB_REPOSITORY": self.hub.state.repo.full_name,
                "GITHUB_TOKEN": self.hub.token_for(ACTIONS_BOT)}

    @property
    def log(self) -> RequestLog:
        return self.server.log

    @property
    def faults(self) -> Faults:
        return self.server.faults

    def github(self, login: str, per_page: int = 100) -> Any:
        """A PyGithub client acting as `login`, with no sleeps and no retries of its own."""
        from github import Auth, Github

        return Github(auth=Auth.Token(self.hub.token_for(login)), base_url=self.url, retry=None,
                      seconds_between_requests=0, seconds_between_writes=0, per_page=per_page)

    def forge(self, login: str = "github-actions[bot]", waits: list[float] | None = None) -> Any:
        """The bot's adapter (bot.github) acting as `login`; retry waits are recorded in `waits`, not slept."""
        from bot.github import connect
        from bot.github.retry import Retrier, RetryPolicy

        sleeps = waits if waits is not None else []
        retrier = Retrier(RetryPolicy(attempts=8, base_delay=0.01, max_backoff=0.05), sleep=sleeps.append)
        return connect(api_url=self.url, repository=self.hub.state.repo.full_name,
                       token=self.hub.token_for(login), environ={}, retrier=retrier, bot_login=login)

    def request(self, method: str, path: str, login: str | None = None, body: Any = None,
                token: str | None = None) -> tuple[int, dict[str, str], Any]:
        """A raw REST call (status, headers, JSON body), as `login` or anonymous."""
        import json
        import urllib.error
        import urllib.request

        headers = {"Accept": "application/vnd.github+json"}
        if login or token:
            headers["Authorization"] = f"Bearer {token or self.hub.token_for(login or '')}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                raw, status, got = answer.read(), answer.status, dict(answer.headers)
        except urllib.error.HTTPError as exc:
            raw, status, got = exc.read(), exc.code, dict(exc.headers)
        return status, got, json.loads(raw) if raw else None


def start_hub(workdir: Path, files: dict[str, str] | None = None, seed: Path | None = None,
              faults: Faults | None = None, owner: str = "acme", name: str = "models",
              actions_may_create_pulls: bool = True) -> RunningHub:
    """A served hub whose repository starts with `files` (one commit on main) or a copy of `seed`. Its
    repository is set up as the README asks for the workflow token's mode: Actions may open pull requests
    (GitHub's default for a new repository is off; pass False to test that)."""
    if files is not None:
        seed = workdir / "seed"
        for path, text in files.items():
            (seed / path).parent.mkdir(parents=True, exist_ok=True)
            (seed / path).write_text(text, encoding="utf-8")
    hub = Hub.create(workdir / "hub", owner=owner, name=name, seed=seed)
    hub.state.repo.actions_may_create_pulls = actions_may_create_pulls
    running = RunningHub(LocalHubServer(hub, faults=faults, strict=True))
    running.server.start()
    return running


@pytest.fixture
def localhub_factory(tmp_path: Path) -> Iterator[Callable[..., RunningHub]]:
    started: list[RunningHub] = []

    def make(**kwargs: Any) -> RunningHub:
        running = start_hub(tmp_path / f"localhub{len(started)}", **kwargs)
        started.append(running)
        return running

    yield make
    for running in started:
        running.server.stop()
    problems = [p for running in started for p in running.problems]
    assert not problems, "localhub answered outside GitHub's schemas:\n" + "\n".join(problems[:20])


@pytest.fixture
def localhub(localhub_factory: Callable[..., RunningHub]) -> RunningHub:
    return localhub_factory(files={"README.md": "# models\n", "models.yaml": "models: {}\n"})


def git(cwd: Path, *args: str) -> str:
    """Run git in a test's own checkout (identity set, no global config)."""
    env = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test",
           "GIT_COMMITTER_EMAIL": "test@example.com", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd),
           "PATH": "/usr/local/bin:/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout
