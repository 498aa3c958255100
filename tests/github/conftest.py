"""The shared localhub fixtures, and a hub with the people the adapter's tests need."""

from collections.abc import Callable

import pytest

from bot.github.client import GitHubForge
from tests.support.localhub import RunningHub, localhub, localhub_factory  # noqa: F401

MODELS = "models:\n  churn:\n    stages: {staging: 6, production: 5}\n"


@pytest.fixture
def hub(localhub_factory: Callable[..., RunningHub]) -> RunningHub:  # noqa: F811
    """A hub with a models repository, a maintainer (bob), a writer (alice) and two teams."""
    running = localhub_factory(files={"README.md": "# models\n", "models.yaml": MODELS})
    running.hub.add_user("alice", role="write")
    running.hub.add_user("bob", role="maintain")
    running.hub.add_team("acme", "ml-leads", ["bob", "erin"], repo_role="write")
    running.hub.add_team("acme", "risk", ["frank"], repo_role="read")
    return running


@pytest.fixture
def forge(hub: RunningHub) -> GitHubForge:
    return hub.forge()  # type: ignore[no-any-return]
