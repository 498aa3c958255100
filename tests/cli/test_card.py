"""`modelbot card`: a model card from models.yaml, evidence (a report.json, or the version's latest validation
recorded in MLflow), the policy's approvals and the stage history; --record logs it to MLflow with the version.
MLflow here is a real SQLite store whose versions are registered without training (their source is never
loaded)."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from bot import mlflow_record
from bot.validation.record import Evidence, Section


def _evidence(version: str = "2") -> dict:
    ev = Evidence("tumor-malignancy", version, "production", "binary_classification")
    ev.inputs.update({"champion": {"version": "1", "uri": "models:/tumor-malignancy/1"}, "isolation": {"level": "none",
                      "reason": "not root"}})
    auc = {"value": 0.97, "low": 0.95, "high": 0.99}
    ev.add("metrics", Section("Metrics", data={"rows": 200, "metrics": {"roc_auc": {
        "greater_is_better": True, "candidate": auc, "champion": {"value": 0.96}, "baseline": {"value": 0.5},
        "candidate_minus_champion": {"value": 0.01, "low": -0.02, "high": 0.04},
        "candidate_minus_baseline": {"value": 0.47, "low": 0.4, "high": 0.5}}}}))
    ev.add("slices", Section("Slices", data={"metric": "roc_auc", "overall": 0.97, "slices": [
        {"slice": "size_band=large", "rows": 60, "candidate": {"value": 0.8}, "champion": 0.9, "status": "fail"},
        {"slice": "size_band=small", "rows": 12, "candidate": {"value": 0.9}, "champion": 0.9,
         "status": "insufficient data"}]}))
    from bot.evidence import GateResult, Status

    ev.gates += [GateResult("slices.worst_ratio", Status.FAIL, "size_band=large below 0.75 of overall"),
                 GateResult("robustness.nulls", Status.PASS, "answers with nulls")]
    return ev.as_dict()


@pytest.fixture(autouse=True)
def _no_mlflow(monkeypatch):
    """No MLflow unless a test names one (another test's store may have set MLFLOW_TRACKING_URI)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_a_card_from_models_yaml_evidence_policy_and_history(modelbot, repo, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps(_evidence()))
    out = tmp_path / "card" / "card.json"
    assert modelbot("card", "tumor-malignancy", "2", "--repo", repo.path, "--evidence", report, "--json",
                    "--out", out).code == 0
    card = json.loads(out.read_text())
    assert card["intended_use"].startswith("Flags malignant tumours")
    assert card["details"]["owners"] == ["dana-ds", "@acme/diagnostics"] and card["details"]["serves"] == ["staging"]
    assert card["training"]["lineage"]["code_commit"] == "8c4d1e7"
    assert card["evaluation_data"]["sha256"].startswith("a9f8d304")
    assert card["validation"]["status"] == "fail" and card["validation"]["champion"] == "1"
    assert card["metrics"][0]["vs_champion"] == {"value": 0.01, "low": -0.02, "high": 0.04}
    assert card["limits"] == [
        "slices.worst_ratio fail: size_band=large below 0.75 of overall",
        "slice size_band=large (60 rows): fail",
        "slice size_band=small (12 rows): insufficient data",
        "model code ran without isolation during validation (not root)",
    ]
    assert [r["role"] for r in card["approvals"]["required"]["production"]] == ["ml-lead", "risk"]
    assert [(h["stage"], h["to_version"]) for h in card["history"]] == [("staging", "2")]
    text = modelbot("card", "tumor-malignancy", "2", "--repo", repo.path, "--evidence", report).out
    assert "### Model card: `tumor-malignancy` version `2`" in text and "| `size_band=large` | 60 |" in text
    assert "0.97 [0.95, 0.99]" in text and "+0.01 [-0.02, +0.04]" in text


def test_evidence_of_another_version_or_an_unknown_version_is_refused(modelbot, repo, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps(_evidence("1")))
    run = modelbot("card", "tumor-malignancy", "2", "--repo", repo.path, "--evidence", report)
    assert run.code == 2 and "it is the evidence of tumor-malignancy 1, not of tumor-malignancy 2" in run.err
    run = modelbot("card", "tumor-malignancy", "9", "--repo", repo.path)
    assert run.code == 2 and "no version 9" in run.err
    without = modelbot("card", "tumor-malignancy", "1", "--repo", repo.path).out
    assert "no validation evidence was found" in without and "Unknown: there is no evidence" in without


def test_the_card_reads_the_recorded_evidence_and_is_logged_with_the_version(modelbot, repo, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    client = MlflowClient(uri, uri)
    client.create_registered_model("tumor-malignancy")
    for _ in range(2):
        client.create_model_version("tumor-malignancy", (tmp_path / "never-loaded").as_uri())
    origin = mlflow_record.Provenance("a" * 40, 7)
    started = mlflow_record.start(uri, "tumor-malignancy", "2", "production", "models:/tumor-malignancy/2", origin)
    mlflow_record.finish(started, _evidence(), {"report.json": json.dumps(_evidence())}, origin)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    run = modelbot("card", "tumor-malignancy", "2", "--repo", repo.path, "--record", "--json")
    assert run.code == 0, run.err
    card = run.json
    assert card["validation"]["status"] == "fail" and card["recorded"]["mlflow_run"] == started.run_id
    tags = client.get_model_version("tumor-malignancy", "2").tags
    assert tags[mlflow_record.CARD_TAG] == card["recorded"]["card_run"] != started.run_id
    assert {a.path for a in client.list_artifacts(tags[mlflow_record.CARD_TAG])} == set(mlflow_record.CARD_FILES)
    assert tags["modelbot.validation"] == "failed" and tags["modelbot.validation.pull"] == "7"


@pytest.mark.parametrize("uri", ["https://user:secret@mlflow.example/", "http://mlflow.example:5000/path"])
def test_credentials_never_show_in_what_is_said_about_a_tracking_uri(uri):
    assert "secret" not in mlflow_record.safe_uri(uri) and "mlflow.example" in mlflow_record.safe_uri(uri)
