"""Crash consistency of the deploy run (issue 20): the push of a merged promotion to main deploys it (the deploy
runner: the GitHub deployment, the MLflow alias, the smoke check through that alias, the ledger). That run killed
right after each of its requests and re-run ("Re-run job") ends where an uninterrupted run ends: one GitHub
deployment with one `in_progress` and one `success`, the alias and the version's tags as the uninterrupted run
leaves them, and nothing else written.

The MLflow store (diabetes-progression 1) is made once for the module; each story deploys into a copy of it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import Ridge

from bot.registry.edit import set_stage
from localhub.hub import ACTIONS_BOT
from tests.flows.conftest import WEDNESDAY, next_run, seeded_hub
from tests.flows.test_crash_consistency import assert_same, end_state
from tests.support.baselines import baseline
from tests.support.handler_runs import Ran, push, run_handler
from tests.support.jobs import run_job
from tests.support.mlflow_models import MlflowStore, dataset

MODEL = "diabetes-progression"
DEPLOY_REQUESTS = 7  # API requests of an uninterrupted deploy run (measured by the first test)


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mlflow-deploy")
    MlflowStore(root).register(MODEL, Ridge(alpha=1.0), dataset("regression"))
    return root / "mlflow.db"  # artifacts stay where they are: a copy of the database reads them there


def store_copy(seed: Path, where: Path) -> str:
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy2(seed, where / "mlflow.db")
    return f"sqlite:///{where / 'mlflow.db'}"


def deploy(ctx: Any, before: str, after: str, tracking_uri: str) -> Ran:
    """A job's flow: the deploy workflow's run for the push before..after to main."""
    from bot.actions.deploys import on_push

    outcome = run_handler(ctx, on_push, push("pat-platform", before, after), {"MLFLOW_TRACKING_URI": tracking_uri})
    return Ran(outcome.outputs.get("result", ""))


def mlflow_state(tracking_uri: str, merge: str) -> dict[str, Any]:
    """The model's aliases and the bot's tags on its versions (the merge commit as <merge>, run links on the
    hub's address as <hub>)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    aliases = {a: str(v) for a, v in client.get_registered_model(MODEL).aliases.items()}

    def named(value: str) -> str:
        value = value.replace(merge, "<merge>").replace(merge[:12], "<merge>")
        return re.sub(r"http://127\.0\.0\.1:\d+", "<hub>", value)

    tags = {
        (str(v.version), k): named(val)
        for v in client.search_model_versions(f"name = '{MODEL}'")
        for k, val in v.tags.items()
        if k.startswith("modelbot.")
    }
    return {"aliases": aliases, "tags": sorted(tags.items())}


def deploy_story(running: Any, tmp_path: Path, seed: Path, kill_after: int | None) -> tuple[dict[str, Any], int]:
    """pat-platform merges the promotion of diabetes-progression 1 to production; the push's deploy run,
    killed after `kill_after` requests and re-run (or not). Returns the end state and the first run's requests."""
    tracking = store_copy(seed, tmp_path / "mlflow")
    pat = running.hub.as_user("pat-platform")
    git = running.hub.git
    before = git.resolve_commit("refs/heads/main")
    entry = git.file_at(before, "models.yaml")
    assert before is not None and entry is not None
    text, _ = set_stage(git.read_blob(entry.sha).decode(), MODEL, "production", "1")
    pat.push("promote", {"models.yaml": text}, f"Promote {MODEL} 1 to production")
    number = pat.open_pull("promote", "main", f"Promote {MODEL} 1 to production")
    after = pat.merge(number)
    mark = running.log.mark()
    job = run_job(running, tmp_path / "deploy-job", deploy, before, after, tracking, now=WEDNESDAY,
                  kill_after=kill_after)
    requests = len([r for r in running.log.since(mark) if r.user == ACTIONS_BOT])
    if kill_after is None:
        assert job.outcome == "success", job
    else:
        assert job.killed and requests == kill_after, (job, requests)
        assert deploy(next_run(running, tmp_path), before, after, tracking).outcome == "success"  # "Re-run job"
    return {**end_state(running), **mlflow_state(tracking, after)}, requests


def uninterrupted(localhub_factory: Any, tmp_path: Path, seed: Path) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        where = tmp_path / "baseline"
        state, requests = deploy_story(seeded_hub(localhub_factory, where), where, seed, None)
        return {"state": state, "requests": requests}

    return baseline(__name__, tell)


@pytest.mark.slow
def test_an_uninterrupted_deploy_makes_the_requests_the_kill_points_cover(localhub_factory, tmp_path, seed_store):
    found = uninterrupted(localhub_factory, tmp_path, seed_store)
    assert found["requests"] == DEPLOY_REQUESTS
    state = found["state"]
    assert state["deployments"] == [(("merge of #1", f"{MODEL}/production", ("in_progress", "success")), 1)]
    assert state["aliases"] == {"production": "1"}
    assert [k for k, _ in state["tags"]] == [("1", f"modelbot.production.{t}") for t in
                                             ("commit", "deployed", "pr", "run_url")]


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, DEPLOY_REQUESTS + 1))
def test_a_deploy_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, hub, tmp_path, seed_store, k
):
    expected = uninterrupted(localhub_factory, tmp_path, seed_store)["state"]
    got, _ = deploy_story(hub, tmp_path, seed_store, k)
    assert_same(got, expected, "after the re-run of the deploy")
