"""Crash consistency of the deploy run's failure path (issue 20): production serves diabetes-progression 1;
pat-platform merges the promotion of version 2, which cannot answer a row of the evaluation data (its signature
wants a column the data lacks), so the push's deploy run moves the alias, fails its smoke check, and answers it:
the revert pull request (labelled `rollback`), a comment on the promotion's pull request, an incident issue, and
the revert's validation asked for. That run killed right after each of its requests and re-run ("Re-run job")
ends where an uninterrupted run ends: one GitHub deployment with one `in_progress` and one `failure` (the re-run
tries the deploy again, fails alike, and adds none), the aliases and the version's tags as the uninterrupted run
leaves them, one revert labelled `rollback` with its validation asked for once (the pending record, one
dispatch), one comment on the promotion, one incident. The validation itself is left to its own run: what it
does is not this run's (the sync and advance families run theirs), and it would double each story's time.

The MLflow store (versions 1 and 2) is made once for the module; each story deploys into a copy of it.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import Ridge

from bot.registry.edit import add_version, set_stage
from localhub.hub import ACTIONS_BOT
from tests.flows.conftest import WEDNESDAY, next_run
from tests.flows.test_crash_advance import hub_of
from tests.flows.test_crash_consistency import assert_same, end_state
from tests.flows.test_crash_deploy import MODEL, deploy, store_copy
from tests.flows.test_crash_pull_request import validations
from tests.support.baselines import baseline
from tests.support.crash_states import commit_names, normalized, on_text, pull_bodies
from tests.support.gitrepo import example_repo
from tests.support.jobs import run_job
from tests.support.mlflow_models import MlflowStore, dataset

TITLE = f"Promote {MODEL} 2 to production"
FAILURE_REQUESTS = 22  # API requests of an uninterrupted deploy run that fails (measured by the first test)


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Version 1 (ridge regression) and version 2, fitted on three features and a column the evaluation data
    does not have: it cannot answer the smoke check's rows."""
    root = tmp_path_factory.mktemp("mlflow-deploy-failure")
    store = MlflowStore(root)
    data = dataset("regression")
    store.register(MODEL, Ridge(alpha=1.0), data)
    columns = [*data.features[:3], "not_in_the_data"]
    frame = data.train[list(data.features[:3])].assign(not_in_the_data=1.0)
    store.log(MODEL, Ridge(alpha=1.0).fit(frame[columns], data.train[data.target]), frame[columns])
    return root / "mlflow.db"


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example registry with diabetes-progression 2 registered and 1 in production."""
    repo = example_repo(tmp_path_factory.mktemp("deploy-failure-seed") / "repo")
    entry = {"version": 2, "uri": f"models:/{MODEL}/2", "created_at": "2026-11-20T10:00:00Z",
             "created_by": "dana-ds"}
    text, _ = add_version(repo.read("models.yaml"), MODEL, entry)
    text, _ = set_stage(text, MODEL, "production", "1")
    repo.write("models.yaml", text)
    repo.commit(f"Register {MODEL} 2; 1 in production", when="2026-11-20T11:00:00Z")
    return repo.path


def failure_story(running: Any, tmp_path: Path, seed_store: Path, kill_after: int | None
                  ) -> tuple[dict[str, Any], int]:
    """pat-platform merges the promotion of version 2; the push's deploy run, killed after `kill_after`
    requests and re-run (or not). Returns the end state and the first run's requests."""
    tracking = store_copy(seed_store, tmp_path / "mlflow")
    MlflowStore(tmp_path / "mlflow")  # this process's MLflow too: the re-run's smoke check loads the model from it
    pat = running.hub.as_user("pat-platform")
    git = running.hub.git
    before = git.resolve_commit("refs/heads/main")
    entry = git.file_at(before, "models.yaml")
    assert before is not None and entry is not None
    text, _ = set_stage(git.read_blob(entry.sha).decode(), MODEL, "production", "2")
    pat.push("promote", {"models.yaml": text}, TITLE)
    after = pat.merge(pat.open_pull("promote", "main", TITLE))
    mark = running.log.mark()
    job = run_job(running, tmp_path / "deploy-job", deploy, before, after, tracking, now=WEDNESDAY,
                  env={"MLFLOW_TRACKING_URI": tracking}, kill_after=kill_after)
    requests = len([r for r in running.log.since(mark) if r.user == ACTIONS_BOT])
    if kill_after is None:
        assert job.outcome == "failure", job
    else:
        assert job.killed and requests == kill_after, (job, requests)
        assert deploy(next_run(running, tmp_path), before, after, tracking).outcome == "failure"  # "Re-run job"
    state = {**end_state(running), "mlflow": validations(tracking), "pull bodies": pull_bodies(running)}
    return _sets_sorted(_merged_at(normalized(state, commit_names(running)), git, after)), requests


def _merged_at(state: dict[str, Any], git: Any, merge: str) -> dict[str, Any]:
    """The time of the story's merge (the revert's model card lists it in the stage's history) as <merged at>."""
    when = git.git("show", "-s", "--format=%cI", merge).strip()
    minute = datetime.fromisoformat(when).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    return on_text(state, lambda text: text.replace(minute, "<merged at>"))


def _sets_sorted(state: dict[str, Any]) -> dict[str, Any]:
    """MLflow's message for a missing input names the extra ones as a Python set, in an order that differs from
    one process to another: sorted here."""

    def sort(found: re.Match[str]) -> str:
        return f"extra inputs: {sorted(ast.literal_eval(found[1]))}"

    return on_text(state, lambda text: re.sub(r"extra inputs: (\[[^\]]*\])", sort, text))


def uninterrupted(localhub_factory: Any, tmp_path: Path, seed: Path, seed_store: Path) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        state, requests = failure_story(hub_of(localhub_factory, seed), tmp_path / "baseline", seed_store, None)
        return {"state": state, "requests": requests}

    return baseline(__name__, tell)


@pytest.mark.slow
def test_an_uninterrupted_failed_deploy_makes_the_requests_the_kill_points_cover(
    localhub_factory, tmp_path, seed, seed_store
):
    found = uninterrupted(localhub_factory, tmp_path, seed, seed_store)
    state = found["state"]
    assert found["requests"] == FAILURE_REQUESTS
    assert [i[1:5] for i in state["issues"]] == [
        ("pull", TITLE, "closed", ()),
        ("pull", f'Revert "{TITLE}"', "open", ("rollback",)),
        ("issue", f"Incident: {MODEL} 2 failed its verify in production", "open", ("incident",))]
    assert state["workflow dispatches"] == [
        ((".github/workflows/modelbot-pull-request.yml",
          (("head", "head of #2"), ("pull", "2"), ("task", "validate"))), 1)]
    assert state["deployments"] == [(("merge of #1", f"{MODEL}/production", ("in_progress", "failure")), 1)]
    assert state["mlflow"]["aliases"] == {"production": "2", "production-previous": "1"}
    assert [c[0][:5] for c in state["check runs"]] == [
        ("head of #2", "modelbot/validation", "in_progress", None, ACTIONS_BOT)]
    assert [(k[0], k[2]) for k, n in state["bot comments"] if n == 1] == [
        (1, f"<!-- modelbot:{MODEL}:production:deploy-failure -->")]


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, FAILURE_REQUESTS + 1))
def test_a_failed_deploy_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, tmp_path, seed, seed_store, k
):
    expected = uninterrupted(localhub_factory, tmp_path, seed, seed_store)["state"]
    got, _ = failure_story(hub_of(localhub_factory, seed), tmp_path, seed_store, k)
    assert_same(got, expected, "after the re-run of the failed deploy and the validation it dispatched")
