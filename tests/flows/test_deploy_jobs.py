"""The deploy workflow's two jobs: `smoke`, whose token cannot write, runs the models a push deploys and hands
their answers over as a file; `deploy` (write) moves the aliases and judges those answers, loading no model. A
model's code never runs in a job that holds a write token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import Ridge

from bot.deploy import rehearsal
from bot.deploy.base import DeployError
from bot.registry.edit import set_stage
from tests.flows.conftest import next_run, seeded_hub
from tests.flows.test_crash_deploy import store_copy
from tests.support.handler_runs import push, run_handler
from tests.support.mlflow_models import MlflowStore, dataset

MODEL = "diabetes-progression"
KEY = f"{MODEL}/production/1"


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mlflow-deploy-jobs")
    MlflowStore(root).register(MODEL, Ridge(alpha=1.0), dataset("regression"))
    return root / "mlflow.db"


def _merged_promotion(running: Any) -> tuple[str, str]:
    pat = running.hub.as_user("pat-platform")
    git = running.hub.git
    before = git.resolve_commit("refs/heads/main")
    entry = git.file_at(before, "models.yaml")
    text, _ = set_stage(git.read_blob(entry.sha).decode(), MODEL, "production", "1")
    pat.push("promote", {"models.yaml": text}, f"Promote {MODEL} 1 to production")
    return before, pat.merge(pat.open_pull("promote", "main", f"Promote {MODEL} 1 to production"))


def _job(running: Any, where: Path, part: str, evidence: Path, before: str, after: str, tracking: str) -> Any:
    from bot.actions.deploys import on_push

    env = {"MLFLOW_TRACKING_URI": tracking, "MODELBOT_JOB": part, "MODELBOT_EVIDENCE": str(evidence)}
    where.mkdir(parents=True)
    return run_handler(next_run(running, where), on_push, push("pat-platform", before, after), env)


def _smoke_status(running: Any) -> tuple[str, ...]:
    (deployment,) = running.hub.state.deployments.values()
    return tuple(s.state for s in deployment.statuses)


@pytest.mark.slow
def test_the_deploy_job_judges_the_answers_the_smoke_job_handed_over(localhub_factory, tmp_path, seed_store):
    running = seeded_hub(localhub_factory, tmp_path / "hub")
    tracking = store_copy(seed_store, tmp_path / "mlflow")
    before, after = _merged_promotion(running)
    evidence = tmp_path / "handed"
    mark = running.log.mark()
    smoke = _job(running, tmp_path / "smoke", "smoke", evidence, before, after, tracking)
    assert smoke.outputs["result"] == "evaluated"
    writes = [r for r in running.log.since(mark) if r.method not in ("GET", "HEAD")]
    answers = json.loads((evidence / rehearsal.ANSWERS_FILE).read_text())
    assert list(answers) == [KEY]
    assert (answers[KEY]["rows"], answers[KEY]["answers"], answers[KEY]["finite"]) == (5, 5, True)
    assert running.hub.state.deployments == {} and writes == []  # the smoke job wrote nothing to GitHub
    done = _job(running, tmp_path / "deploy", "deploy", evidence, before, after, tracking)
    assert done.outputs["result"] == "success", done
    assert _smoke_status(running) == ("in_progress", "success")


@pytest.mark.slow
def test_answers_that_do_not_hold_fail_the_smoke_check_and_no_model_is_asked_again(
    localhub_factory, tmp_path, seed_store
):
    """Answers for 4 of the 5 rows: the deploy job fails the check on what it was handed (the model itself would
    answer all 5), and answers the failure as every failed smoke check is answered, with the revert."""
    running = seeded_hub(localhub_factory, tmp_path / "hub")
    tracking = store_copy(seed_store, tmp_path / "mlflow")
    before, after = _merged_promotion(running)
    evidence = tmp_path / "handed"
    _job(running, tmp_path / "smoke", "smoke", evidence, before, after, tracking)
    answers = json.loads((evidence / rehearsal.ANSWERS_FILE).read_text())
    answers[KEY]["answers"] = 4
    (evidence / rehearsal.ANSWERS_FILE).write_text(json.dumps(answers))
    done = _job(running, tmp_path / "deploy", "deploy", evidence, before, after, tracking)
    assert done.outputs["result"] == "failure"
    (deployment,) = running.hub.state.deployments.values()
    told = [s.description for s in deployment.statuses] + [i.body or "" for i in running.hub.state.issues.values()]
    assert _smoke_status(running)[-1] == "failure"
    assert any("gave 4 answers for 5 rows" in t for t in told), told
    assert any(i.pull and i.title.startswith("Revert") for i in running.hub.state.issues.values())


def test_answers_handed_over_are_read_as_untrusted_data(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="cannot be read"):
        rehearsal.read(tmp_path / "nothing")
    for bad, why in (
        ("[1]", "keyed by model/stage/version"),
        ('{"a/b": {}}', "keyed by model/stage/version"),
        ('{"m/s/1": {"rows": "5", "answers": 5, "finite": true}}', "expected rows, answers"),
        ('{"m/s/1": {"error": 3}}', "'error' must be text"),
        ("{NaN", "cannot be read"),
    ):
        (tmp_path / rehearsal.ANSWERS_FILE).write_text(bad)
        with pytest.raises(DeployError, match=why):
            rehearsal.read(tmp_path)
    rehearsal.write(tmp_path, {"m/s/1": {"rows": 2, "answers": 2, "finite": True, "values": [1.0, 2.0]}})
    assert rehearsal.read(tmp_path)["m/s/1"]["values"] == [1.0, 2.0]
