"""A localhub whose repository is the project's example registry, with people in the policy's roles, and a
bot context acting through the real adapter (PyGithub over HTTP)."""

import shutil
from datetime import UTC, datetime

import pytest
from sklearn.linear_model import Ridge

from bot.flows.context import BotContext
from bot.github.client import GitHubForge
from bot.github.config import GitHubConfig
from localhub.hub import ACTIONS_BOT
from tests.support.gitrepo import example_repo
from tests.support.localhub import git, localhub_factory  # noqa: F401
from tests.support.mlflow_models import MlflowStore, dataset

WEDNESDAY = datetime(2026, 11, 25, 12, tzinfo=UTC)
PEOPLE = {
    "dana-ds": "write",
    "lena-ml": "write",
    "rita-risk": "write",
    "omar-oncall": "write",
    "pat-platform": "admin",
    "rob-reader": "read",
    "wes-writer": "write",
}


@pytest.fixture
def hub(localhub_factory, tmp_path):  # noqa: F811
    return seeded_hub(localhub_factory, tmp_path)


def seeded_hub(localhub_factory, tmp_path):  # noqa: F811
    """A localhub with the example registry and the people and teams of the policy's roles."""
    seed = example_repo(tmp_path / "seed", when="2026-11-02T09:00:00Z")
    return with_people(localhub_factory(seed=seed.path))


def with_people(running):
    """`running` (a localhub) with the people and teams of the policy's roles."""
    for login, role in PEOPLE.items():
        running.hub.add_user(login, role=role)
    running.hub.add_team("acme", "ml-leads", ["lena-ml"])
    running.hub.add_team("acme", "oncall", ["omar-oncall"])
    running.hub.add_team("acme", "diagnostics", ["dana-ds"])
    return running


def bot_context(running, tmp_path, workspace=True, now=WEDNESDAY):
    config = GitHubConfig(running.url, running.hub.state.repo.full_name, running.hub.token_for(ACTIONS_BOT))
    checkout = None
    if workspace:
        checkout = tmp_path / "workspace"
        if not checkout.exists():
            git(tmp_path, "clone", "-q", running.hub.clone_url(), str(checkout))
        else:
            git(checkout, "pull", "-q")
    return BotContext(
        GitHubForge(config, bot_login=ACTIONS_BOT),
        "main",
        now,
        workspace=checkout,
        run_url=f"{running.url.replace('/api/v3', '')}/acme/models/actions/runs/1",
        bot_login=ACTIONS_BOT,
        reports=tmp_path / "reports",
    )


@pytest.fixture
def ctx(hub, tmp_path):
    return bot_context(hub, tmp_path)


@pytest.fixture(scope="session")
def diabetes_seed(tmp_path_factory):
    """diabetes-progression 1 trained and registered once per session: its store's root, and the version."""
    root = tmp_path_factory.mktemp("mlflow-diabetes")
    return root, MlflowStore(root).register("diabetes-progression", Ridge(alpha=1.0), dataset("regression"))


@pytest.fixture
def diabetes_v1(tmp_path, diabetes_seed):
    """diabetes-progression version 1 in MLflow, as models.yaml lists it (models:/diabetes-progression/1): a
    store of the test's own, a copy of the seed's database (what a test writes stays in it; the model's
    artifacts are read where the seed logged them)."""
    seed, version = diabetes_seed
    (tmp_path / "mlflow").mkdir()
    shutil.copy2(seed / "mlflow.db", tmp_path / "mlflow" / "mlflow.db")
    return MlflowStore(tmp_path / "mlflow"), version


def next_run(running, tmp_path):
    """A new workflow run: a new adapter (nothing cached from an earlier run) and a fresh checkout."""
    return bot_context(running, tmp_path)
