"""`modelbot monitor` on the example registry: a prediction log written by the gateway's own PredictionLog (and
a Parquet table), the report with its charts, and bad input refused with a message naming it (exit 1)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from bot.policy import monitor as monitor_policy
from bot.policy import parse_files
from bot.serving.predlog import PredictionLog

MODEL, STAGE = "tumor-malignancy", "production"
START = datetime(2026, 11, 1, tzinfo=UTC)
SINCE, UNTIL = "2026-11-01T00:00:00Z", "2026-11-01T04:00:00Z"


def _frame(repo) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.read_csv(repo.path / "data/tumor-malignancy-reference.csv")


def _log(tmp_path, reference: pd.DataFrame, shifted_hour: int | None = 3, labels: int = 0) -> tuple:  # type: ignore[no-untyped-def]
    """Four hours of requests of 4 rows each, resampled from the reference; the shifted hour's mean_radius x 1.6."""
    rng = np.random.default_rng(7)
    log = PredictionLog(tmp_path / "gateway")
    features = [c for c in reference.columns if c not in ("malignant", "size_band", "texture_band")]
    ids = []
    for hour in range(4):
        for i in range(60):
            rows = reference.iloc[rng.integers(0, reference.shape[0], 4)]
            data = rows[features].to_numpy().copy()
            if hour == shifted_hour:
                data[:, features.index("mean_radius")] *= 1.6
            request_id = str(uuid.uuid4())
            ids.append(request_id)
            when = START + timedelta(hours=hour, seconds=i * 50)
            log.write(
                {
                    "ts": when.isoformat().replace("+00:00", "Z"),
                    "request_id": request_id,
                    "model": MODEL,
                    "stage": STAGE,
                    "version": "1",
                    "arm": "stable",
                    "served_by": "1",
                    "fallback": False,
                    "shadow": False,
                    "inputs": {"columns": features, "data": data.tolist()},
                    "prediction": rows["malignant"].tolist(),
                    "latency_ms": float(rng.exponential(15.0)),
                    "error": False,
                    "reason": None,
                    "status": 200,
                }
            )
            if len(ids) <= labels:
                log.write({"ts": when.isoformat(), "kind": "feedback", "request_id": request_id, "model": MODEL,
                           "stage": STAGE, "truth": rows["malignant"].tolist()})
    log.flush()
    return tmp_path / "gateway", ids


def test_a_shifted_hour_of_gateway_traffic_is_reported_with_its_charts(repo, modelbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder, _ = _log(tmp_path, _frame(repo), labels=50)
    out = tmp_path / "report"
    result = modelbot(
        "monitor", MODEL, STAGE, "--log", folder, "--window", "1h", "--since", SINCE, "--until", UNTIL,
        "--out", out, "--repo", repo.path, "--json",
    )
    assert result.code == 0, result.err
    # x 1.6 moves mean_radius's distribution (drift) and past the reference's largest value (quality)
    assert result.json["breaches"] == ["drift", "quality"]
    document = json.loads((out / "monitor.json").read_text())
    quality = next(c for c in document["checks"] if c["kind"] == "quality")
    assert "outside the reference's range above 0.05 in: mean_radius" in quality["windows"][3]["reason"]
    drift = next(c for c in document["checks"] if c["kind"] == "drift")
    assert [w["verdict"] for w in drift["windows"]] == ["pass", "pass", "pass", "fail"]
    assert "mean_radius" in drift["windows"][3]["reason"]
    assert document["rows"] == 4 * 60 * 4 and document["requests"] == 240 and document["labelled"] == 200
    text = (out / "monitor.md").read_text()
    assert "```mermaid\nxychart-beta" in text and '"mean_radius"' in text
    assert "<!-- modelbot:monitor model=tumor-malignancy stage=production -->" in text


def test_a_table_without_a_needed_column_is_refused_naming_it(repo, modelbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = _frame(repo).drop(columns=["mean_texture"])
    frame["ts"] = pd.Timestamp(START) + pd.to_timedelta(np.arange(frame.shape[0]), unit="s")
    frame["prediction"] = frame["malignant"]
    frame.to_parquet(tmp_path / "traffic.parquet")
    result = modelbot(
        "monitor", MODEL, STAGE, "--log", tmp_path / "traffic.parquet", "--since", SINCE, "--until", UNTIL,
        "--repo", repo.path, "--out", tmp_path / "r",
    )
    assert result.code == 1
    assert "missing column(s) mean_texture" in result.err and "traffic.parquet" in result.err


def test_labels_clients_send_never_refuse_the_run(repo, modelbot, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """Anyone who can reach the gateway can send feedback: a label the gateway matched with no answer (it has no
    model), one whose answer rotated away, or one that does not give a label per row is left out (with a
    warning), never a refusal: one anonymous POST /feedback would otherwise stop the monitoring of every model."""
    folder, ids = _log(tmp_path, _frame(repo), shifted_hour=None, labels=10)
    log = PredictionLog(folder)
    log.write({"ts": UNTIL, "kind": "feedback", "request_id": "no-such-request", "truth": 1, "counted": False})
    log.write({"ts": UNTIL, "kind": "feedback", "request_id": "rotated-away", "model": MODEL, "stage": STAGE,
               "truth": [1, 0, 1, 0], "counted": True})
    log.write({"ts": UNTIL, "kind": "feedback", "request_id": ids[20], "model": MODEL, "stage": STAGE,
               "truth": [1, 0], "counted": True})  # 2 labels for a request of 4 rows
    log.flush()
    result = modelbot(
        "monitor", MODEL, STAGE, "--log", folder, "--since", SINCE, "--until", UNTIL, "--repo", repo.path,
        "--out", tmp_path / "r", "--json",
    )
    assert result.code == 0, result.err
    document = json.loads((tmp_path / "r" / "monitor.json").read_text())
    assert document["labelled"] == 10 * 4 and document["requests"] == 240
    said = caplog.text
    assert "2 feedback label(s) of tumor-malignancy/production left out" in said
    assert "1 name a request no answer in the log carries" in said and "1 do not give one label per row" in said


def test_an_empty_range_is_no_data_and_exits_1(repo, modelbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder, _ = _log(tmp_path, _frame(repo), shifted_hour=None)
    result = modelbot(
        "monitor", MODEL, STAGE, "--log", folder, "--since", "2026-12-01T00:00:00Z", "--until", "2026-12-02T00:00:00Z",
        "--repo", repo.path, "--out", tmp_path / "r",
    )
    assert result.code == 1
    assert "nothing to monitor" in result.err and "no data is never a pass" in result.err


def test_the_policy_monitor_section_parses_with_stage_overrides_and_bad_keys_are_refused() -> None:
    policy = b"""version: 1
stages: {staging: {}, production: {}}
monitor:
  window: 6h
  drift: {ks: 0.1, js: null}
  performance: {metric: roc_auc, min: 0.8, min_rows: 200}
  action: [issue, rollback]
  stages:
    production: {window: 1h, slo: {p95_ms: 250}}
"""
    policies = parse_files({"policies/default.yaml": policy})
    staging = monitor_policy.for_model(policies, "default", "m", "staging")
    production = monitor_policy.for_model(policies, "default", "m", "production")
    assert staging.window == timedelta(hours=6) and production.window == timedelta(hours=1)
    assert staging.drift.ks == 0.1 and staging.drift.js is None and staging.drift.psi == 0.25
    assert staging.performance.metric == "roc_auc" and staging.performance.min_rows == 200
    assert production.slo.p95_ms == 250 and staging.slo.p95_ms is None
    assert production.actions == ("issue", "rollback")
    from bot.errors import InvalidFile

    with pytest.raises(InvalidFile, match="windw"):
        parse_files({"policies/default.yaml": policy.replace(b"window: 6h", b"windw: 6h")})


def test_with_github_a_breach_opens_one_incident_per_check_and_a_rerun_opens_none(  # type: ignore[no-untyped-def]
    repo, modelbot, tmp_path, localhub_factory, monkeypatch
) -> None:
    hub = localhub_factory(files={"README.md": "# models\n"})
    for key, value in hub.bot_env().items():
        monkeypatch.setenv(key, value)
    folder, _ = _log(tmp_path, _frame(repo))
    argv = ["monitor", MODEL, STAGE, "--log", folder, "--window", "1h", "--since", SINCE, "--until", UNTIL,
            "--repo", repo.path, "--out", tmp_path / "r", "--github", "--json"]
    first = modelbot(*argv)
    assert first.code == 0, first.err
    second = modelbot(*argv)
    assert [i["kind"] for i in first.json["incidents"]] == ["drift", "quality"]
    assert [i["issue"] for i in second.json["incidents"]] == [i["issue"] for i in first.json["incidents"]]
    # edited in place: "unchanged" when both runs fell in the same second (the comment's time is to the second)
    assert all(i["comment"] in ("updated", "unchanged") for i in second.json["incidents"])
    for incident in second.json["incidents"]:
        latest = [c for c in hub.hub.state.comments.values() if c.issue_number == incident["issue"]]
        assert len([c for c in latest if "monitor-latest" in c.body]) == 1
    issues = hub.hub.state.issues
    assert len(issues) == 2 and all("@dana-ds @acme/diagnostics" in i.body for i in issues.values())
