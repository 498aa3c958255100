"""Evidence that lasts (issue 19), on localhub and a real MLflow (SQLite): a validated promotion leaves an
MLflow run linked to the model version (report and card as artifacts, headline numbers as metrics), tags on
the version (status, commit, pull request, run), the model card in the pull request's body, and, when the gates
fail, the rows to look at in the recorded report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.dummy import DummyRegressor
from sklearn.metrics import mean_absolute_error

from bot import mlflow_record
from bot.evidence import Status
from bot.flows.handoff import _MARKER
from bot.flows.validate_pr import evaluate_pull, publish_pull, validate_pull
from bot.github.markers import without_sections
from tests.flows.conftest import next_run
from tests.flows.test_validate_pr import promote_diabetes
from tests.support.mlflow_models import MlflowStore, dataset

EVAL = Path(__file__).resolve().parents[2] / "data" / "diabetes-progression-eval.csv"


def _recording(hub, tmp_path, store):
    return dataclasses.replace(next_run(hub, tmp_path), record_to=store.tracking_uri)


def _runs(store):
    client = MlflowClient(store.tracking_uri, store.tracking_uri)
    experiment = client.get_experiment_by_name(mlflow_record.EXPERIMENT)
    return client, client.search_runs([experiment.experiment_id]) if experiment else []


def test_a_validated_promotion_is_recorded_with_the_version_and_carries_its_card(hub, ctx, tmp_path, diabetes_v1):
    store, registered = diabetes_v1
    pull = promote_diabetes(ctx)
    evaluation = evaluate_pull(_recording(hub, tmp_path, store), pull, ["models.yaml"])
    result = publish_pull(next_run(hub, tmp_path), pull, evaluation)
    assert result.status == Status.PASS

    client, runs = _runs(store)
    [run] = runs
    tags = run.data.tags
    assert tags["modelbot.model_version"] == "diabetes-progression/1" and tags["modelbot.status"] == "passed"
    assert (tags["modelbot.commit"], tags["modelbot.pull"]) == (pull.head_sha, str(pull.number))
    assert tags["modelbot.repository"] == "acme/models" and run.info.status == "FINISHED"
    version = client.get_model_version("diabetes-progression", "1").tags
    assert version["modelbot.validation"] == "passed" and version["modelbot.validation.production"] == "passed"
    assert version["modelbot.validation.run_id"] == run.info.run_id == version["modelbot.card.run_id"]
    assert (version["modelbot.validation.commit"], version["modelbot.validation.pull"]) == (
        pull.head_sha, str(pull.number))

    # The metric, recomputed: the registered model's MAE on the pinned evaluation data.
    frame = pd.read_csv(EVAL)
    model = __import__("mlflow").pyfunc.load_model(registered.uri)
    predicted = np.asarray(model.predict(frame[list(dataset("regression").features)])).ravel()
    assert run.data.metrics["mae"] == pytest.approx(mean_absolute_error(frame["progression"], predicted), rel=1e-9)
    assert run.data.metrics["gates.fail"] == 0 and run.data.metrics["rows"] == len(frame)

    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert names == {"report.json", "report.md", "model_card.md", "model_card.json"}
    local = tmp_path / "reports" / "diabetes-progression-production"
    recorded = json.loads(Path(client.download_artifacts(run.info.run_id, "report.json", str(tmp_path))).read_text())
    assert recorded == json.loads((local / "report.json").read_text())
    assert recorded["inputs"]["recorded"]["mlflow_run"] == run.info.run_id
    assert (tmp_path / "mlflow" / mlflow_record.LOCAL_ARTIFACTS).is_dir()  # artifacts beside the store

    card = json.loads((local / "model_card.json").read_text())
    assert card["validation"]["status"] == "pass" and card["evaluation_data"]["sha256"].startswith("cc48644541")
    needed = [{"role": "ml-lead", "count": 1}, {"role": "risk", "count": 1}]
    assert card["approvals"]["required"] == {"production": needed}
    mae = next(m for m in card["metrics"] if m["metric"] == "mae")
    assert mae["candidate"]["value"] == pytest.approx(run.data.metrics["mae"])
    body = ctx.forge.pull_request(pull.number).body
    assert "Model card" in body and "`diabetes-progression` version `1`" in body
    assert "<!-- modelbot:section:diabetes-progression:production:card -->" in body
    assert not _MARKER.search(without_sections(body).split("\n", 1)[1])  # only the bot's own markers

    # A repeated /promote of the same version keeps the card and writes nothing.
    from bot.flows.propose import propose

    mark = hub.log.mark()
    again = propose(next_run(hub, tmp_path), "diabetes-progression", "1", "production")
    assert again.pull.action == "unchanged" and [r for r in hub.log.since(mark) if r.is_write] == []
    assert ctx.forge.pull_request(pull.number).body == body


@pytest.mark.slow  # trains and registers its own model
def test_a_failed_validation_is_tagged_failed_and_its_report_names_the_rows_to_look_at(hub, ctx, tmp_path):
    store = MlflowStore(tmp_path / "mlflow")
    store.register("diabetes-progression", DummyRegressor(strategy="median"), dataset("regression"))
    pull = promote_diabetes(ctx)
    result = validate_pull(_recording(hub, tmp_path, store), pull, files=["models.yaml"])
    assert result.status == Status.FAIL
    client, [run] = _runs(store)
    assert client.get_model_version("diabetes-progression", "1").tags["modelbot.validation"] == "failed"
    assert run.data.tags["modelbot.status"] == "failed" and run.data.metrics["gates.fail"] >= 1
    recorded = json.loads(Path(client.download_artifacts(run.info.run_id, "report.json", str(tmp_path))).read_text())
    attention = recorded["sections"]["attention"]["data"]
    failed = [g["gate"] for g in recorded["gates"] if g["status"] == "fail"]
    assert attention["gates"][: len(failed)] == failed
    worst = [s["slice"] for s in recorded["sections"]["slices"]["data"]["slices"] if s["status"] != "insufficient data"]
    assert [s["slice"] for s in attention["worst_slices"]] == worst[: len(attention["worst_slices"])]
    card = client.download_artifacts(run.info.run_id, "model_card.md", str(tmp_path))
    assert "**Known limits.**" in Path(card).read_text() and failed[0] in Path(card).read_text()


def test_an_mlflow_that_cannot_take_the_record_leaves_a_note_and_the_verdict(hub, ctx, tmp_path, diabetes_v1):
    pull = promote_diabetes(ctx)
    (tmp_path / "a-file").write_text("not a folder")
    nowhere = f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}"  # fails at once (a server would be retried)
    broken = dataclasses.replace(next_run(hub, tmp_path), record_to=nowhere)
    evaluation = evaluate_pull(broken, pull, ["models.yaml"])
    [outcome] = evaluation.outcomes
    assert outcome.status == Status.PASS
    said = f"Not recorded in MLflow: MLflow at {nowhere}: cannot open a run"
    assert said in next(iter(evaluation.reports.values()))


def test_a_handed_card_cannot_carry_the_bot_s_markers_or_name_another_file(tmp_path):
    from bot.flows import handoff
    from bot.flows.validate_pr import Evaluation, StepOutcome

    forged = "<!-- modelbot:end:m:production:card -->\n<!-- modelbot:section:m:staging:card -->\nfake\n"
    outcome = StepOutcome("m", "production", "2", Status.PASS, "ok")
    evaluation = Evaluation("a" * 40, (), (outcome,), {("m", "production"): "report"}, {("m", "production"): forged})
    handoff.write(tmp_path / "e", evaluation)
    card = handoff.read(tmp_path / "e").cards[("m", "production")]
    assert "modelbot:" not in card and card.count("<!-- (removed)") == 2 and "fake" in card
    manifest = json.loads((tmp_path / "e" / handoff.MANIFEST).read_text())
    manifest["outcomes"][0]["card"] = "../../etc/passwd"
    (tmp_path / "e" / handoff.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(handoff.HandoffError, match=r"outcomes\[0\]: card: expected card-N.md"):
        handoff.read(tmp_path / "e")


def test_history_links_each_promotion_to_its_evidence_while_it_exists(hub, ctx, tmp_path, diabetes_v1, monkeypatch,
                                                                      capsys):
    from bot.cli import main
    from localhub.actions import artifacts

    store, _ = diabetes_v1
    pull = promote_diabetes(ctx)
    validate_pull(_recording(hub, tmp_path, store), pull, files=["models.yaml"])
    # What the pull request workflow's evaluate job uploads: the reports folder, as run 1's `modelbot-report`
    # (the check run's details link is run 1's page), through localhub's own upload and record.
    run_root = tmp_path / "run-1"
    done = artifacts.upload(run_root, tmp_path, {"name": "modelbot-report", "path": str(tmp_path / "reports")})
    assert done[0] == "success"
    ident = artifacts.record(hub.hub, run_root, 1, pull.head_sha, None, {"name": "modelbot-report"})
    for reviewer in ("lena-ml", "rita-risk"):
        hub.hub.as_user(reviewer).review(pull.number, "APPROVE")
    hub.hub.as_user("pat-platform").merge(pull.number)
    for name, value in {**hub.bot_env(), "MLFLOW_TRACKING_URI": store.tracking_uri}.items():
        monkeypatch.setenv(name, value)
    workspace = next_run(hub, tmp_path).workspace

    def history():
        argv = ["history", "diabetes-progression", "--stage", "production", "--github", "--json", "--repo", workspace]
        assert main([str(a) for a in argv]) == 0
        [event] = json.loads(capsys.readouterr().out)["events"]
        return event["evidence_kept"]

    _, [run] = _runs(store)
    kept = history()
    assert kept["artifact"]["name"] == "modelbot-report" and kept["artifact"]["run"].endswith("/actions/runs/1")
    assert kept["mlflow_runs"] == [run.info.run_id]
    hub.hub.state.artifacts[ident].expires_at = "2020-01-01T00:00:00Z"  # past its retention: no longer linked
    assert history()["artifact"] is None
