"""The adapter's pure parts: configuration, retry decisions, markers and branch names."""

from __future__ import annotations

import pytest
from github import GithubException

from bot.errors import UsageError
from bot.github.config import resolve
from bot.github.forge import ForgeError
from bot.github.markers import BODY_LIMIT, fit, has_marker, marker, markers_in, promotion_branch, with_marker
from bot.github.retry import Failure, Retrier, RetryPolicy, delay_for

POLICY = RetryPolicy(attempts=5, base_delay=0.5, max_backoff=4.0, max_wait=60.0)
NOW = 1_700_000_000.0


def test_config_comes_from_the_actions_environment() -> None:
    env = {"GITHUB_API_URL": "http://127.0.0.1:9/", "GITHUB_REPOSITORY": "acme/models", "GITHUB_TOKEN": "t"}
    config = resolve(environ=env)
    assert (config.api_url, config.owner, config.name, config.token) == ("http://127.0.0.1:9", "acme", "models", "t")
    assert "t'" not in repr(config) and "***" in repr(config)


def test_explicit_values_win_over_the_environment() -> None:
    env = {"GITHUB_REPOSITORY": "acme/models", "GITHUB_TOKEN": "env"}
    config = resolve(api_url="http://127.0.0.1:1", repository="other/repo", token="flag", environ=env)
    assert (config.api_url, config.repository, config.token) == ("http://127.0.0.1:1", "other/repo", "flag")
    assert resolve(environ=env).api_url == "https://api.github.com"


@pytest.mark.parametrize(("env", "names"), [
    ({"GITHUB_TOKEN": "t"}, "GITHUB_REPOSITORY"),
    ({"GITHUB_REPOSITORY": "acme/models"}, "GITHUB_TOKEN"),
    ({"GITHUB_REPOSITORY": "acme", "GITHUB_TOKEN": "t"}, "owner/name"),
    ({"GITHUB_REPOSITORY": "acme/models", "GITHUB_TOKEN": "t", "GITHUB_API_URL": "ftp://x"}, "GITHUB_API_URL"),
])
def test_missing_or_malformed_config_says_what_to_set(env: dict[str, str], names: str) -> None:
    with pytest.raises(UsageError, match=names):
        resolve(environ=env)


@pytest.mark.parametrize(("attempt", "failure", "wait"), [
    (0, Failure(502, {}, "Server Error"), 0.5),
    (2, Failure(503, {}, ""), 2.0),
    (4, Failure(502, {}, ""), None),  # the fifth attempt was the last
    (3, Failure(None, {}, "connection reset"), 4.0),  # capped backoff
    (0, Failure(403, {"Retry-After": "7"}, "You have exceeded a secondary rate limit"), 7.0),
    (0, Failure(403, {"Retry-After": "600"}, "secondary rate limit"), None),  # beyond the cap: give up
    (0, Failure(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 30)}, "API rate limit"),
     31.0),
    (0, Failure(403, {}, "You have exceeded a secondary rate limit."), 60.0),  # no Retry-After: a minute
    (0, Failure(429, {"Retry-After": "2"}, ""), 2.0),
    (0, Failure(403, {}, "Must have admin rights to Repository."), None),  # a real 403
    (0, Failure(404, {}, "Not Found"), None),
    (0, Failure(422, {}, "Validation Failed"), None),
])
def test_retry_waits_only_for_transient_failures_and_honours_the_server(attempt: int, failure: Failure,
                                                                       wait: float | None) -> None:
    assert delay_for(POLICY, attempt, failure, NOW) == wait


def _fail(status: int, message: str = "Server Error") -> GithubException:
    return GithubException(status, {"message": message}, {})


def test_create_once_looks_before_posting_again() -> None:
    posted: list[int] = []
    store: list[str] = []

    def create() -> str:
        posted.append(1)
        store.append("comment")  # GitHub created it...
        raise _fail(502)  # ...but the proxy answered 502

    retrier = Retrier(POLICY, sleep=lambda s: None)
    assert retrier.create_once("post", create, lambda: store[0] if store else None) == "comment"
    assert len(posted) == 1 and store == ["comment"]


def test_create_once_posts_again_only_when_the_thing_is_absent() -> None:
    attempts = iter([_fail(502), _fail(502), "created"])

    def create() -> str:
        outcome = next(attempts)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    waits: list[float] = []
    assert Retrier(POLICY, sleep=waits.append).create_once("post", create, lambda: None) == "created"
    assert waits == [0.5, 1.0]


def test_a_refusal_is_not_retried_and_names_the_operation() -> None:
    calls: list[int] = []

    def refuse() -> None:
        calls.append(1)
        raise _fail(403, "Resource not accessible by integration")

    with pytest.raises(ForgeError, match=r"label #3: GitHub answered 403 Resource not accessible"):
        Retrier(POLICY, sleep=lambda s: None).call("label #3", refuse)
    assert calls == [1]


def test_a_bug_is_not_mistaken_for_a_transient_failure() -> None:
    with pytest.raises(KeyError):
        Retrier(POLICY, sleep=lambda s: None).call("read", lambda: {}["missing"])


def test_markers_are_hidden_unique_and_found_again() -> None:
    mark = marker("churn", "production", "report")
    assert mark == "<!-- modelbot:churn:production:report -->"
    body = with_marker(f"# Report\n{mark}\ntext", mark)
    assert body.count(mark) == 1 and body.startswith(mark)
    assert has_marker(body, mark) and not has_marker(body, marker("churn", "staging", "report"))
    assert markers_in(body) == [mark]
    with pytest.raises(ValueError, match="model"):
        marker("churn -->", "production", "report")


@pytest.mark.parametrize("bad", ["", "..", "a..b", "-x", "x/", "a b"])
def test_promotion_branches_refuse_names_git_would_refuse(bad: str) -> None:
    assert promotion_branch("churn", "staging") == "modelbot/promote/churn/staging"
    with pytest.raises(ValueError):
        promotion_branch(bad, "staging")


def test_a_body_keeps_within_githubs_limit_marker_included() -> None:
    mark = marker("m", "production", "report")
    exact = "x" * 100 + "\n" + "y" * (BODY_LIMIT - 101)  # exactly the limit before the marker is prefixed
    body = with_marker(exact, mark)
    assert len(exact) == BODY_LIMIT and len(body) <= BODY_LIMIT
    assert body.startswith(mark) and body.endswith("character limit.") and "y" not in body  # cut at a line
    assert fit("short") == "short" and with_marker(exact[:1000], mark) == f"{mark}\n{exact[:1000]}"
