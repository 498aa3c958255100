"""Validations recorded where the model lives (issue 19): one MLflow run per validation, linked to the model
version both ways (the run's `modelbot.model_version` tag; the version's `modelbot.validation.run_id` tag),
holding the report (report.json, report.md) and the model card as artifacts and the headline numbers as
metrics; and tags on the model version saying how its latest validation ended (`modelbot.validation`:
passed, failed or inconclusive), for which stage, at which commit and pull request.

A record, never an authority: nothing the bot decides is read back from MLflow (the check runs decide). The
writer is the job that holds MLflow's credentials and loads the models (see README, "Security model"); a
failure to record is reported and never changes a verdict.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.errors import ModelbotError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

EXPERIMENT = "modelbot-validations"
TAG = "modelbot.validation"
CARD_TAG = "modelbot.card.run_id"  # on the model version: the run holding its latest model card
CARD_FILES = ("model_card.md", "model_card.json")
WORDS = {"pass": "passed", "fail": "failed", "inconclusive": "inconclusive", "skipped": "skipped"}
LOCAL_ARTIFACTS = "modelbot-evidence"  # beside a local store's database: where its runs' artifacts go
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


class RecordProblem(ModelbotError):
    """MLflow could not take the record (unreachable, no permission, ...)."""


@dataclass(frozen=True)
class Provenance:
    """Where a validation comes from: the commit judged, its pull request, the repository and workflow run."""

    commit: str | None = None
    pull: int | None = None
    repository: str | None = None
    run_url: str | None = None


@dataclass(frozen=True)
class Started:
    tracking_uri: str
    experiment_id: str
    run_id: str
    model_version: tuple[str, str] | None  # (registered name, version) the record is linked to


@dataclass(frozen=True)
class Recorded:
    run_id: str
    experiment_id: str
    model_version: tuple[str, str] | None
    artifacts: tuple[str, ...]
    metrics: Mapping[str, float]


def registry_version(uri: str) -> tuple[str, str] | None:
    """(name, version) of a `models:/NAME/VERSION` URI; None for an alias or a `runs:/` URI (no version to tag)."""
    match = _VERSION_URI.match(uri)
    return (match["name"], match["version"]) if match else None


def _client(tracking_uri: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _local_artifacts(tracking_uri: str) -> str | None:
    """For a database file store (sqlite:///path/mlflow.db), artifacts beside it, so the evidence lasts as long
    as the store and never lands in whatever folder the job runs in; servers choose their own."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]).resolve()
    return (database.parent / LOCAL_ARTIFACTS).as_uri()


def experiment_id(client: MlflowClient, tracking_uri: str, name: str = EXPERIMENT) -> str:
    """The experiment validations go to, created on first use (a concurrent creation is found again)."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=_local_artifacts(tracking_uri)))
    except MlflowException:
        again = client.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)


def safe_uri(uri: str) -> str:
    """A tracking URI as it may be shown: without credentials in it (user:password@host)."""
    parts = urlsplit(uri)
    if parts.password is None and parts.username is None:
        return uri
    return parts._replace(netloc=parts.hostname or "").geturl()


def start(
    tracking_uri: str,
    model: str,
    version: str,
    stage: str,
    candidate_uri: str,
    provenance: Provenance,
    experiment: str = EXPERIMENT,
) -> Started:
    """Open the validation's run (tags only), so that its id can go in the report before the report is kept."""
    linked = registry_version(candidate_uri)
    tags = {
        "modelbot.model": model,
        "modelbot.version": version,
        "modelbot.stage": stage,
        "modelbot.candidate_uri": candidate_uri,
        "modelbot.commit": provenance.commit or "",
        "modelbot.pull": "" if provenance.pull is None else str(provenance.pull),
        "modelbot.repository": provenance.repository or "",
        "modelbot.run_url": provenance.run_url or "",
        "modelbot.model_version": f"{linked[0]}/{linked[1]}" if linked else "",
    }
    try:
        client = _client(tracking_uri)
        experiment_found = experiment_id(client, tracking_uri, experiment)
        run = client.create_run(
            experiment_found,
            tags={k: v for k, v in tags.items() if v},
            run_name=f"validate {model} {version} to {stage}",
        )
    except Exception as exc:  # MLflow raises its own, requests' and sqlalchemy's errors: all mean "not recorded"
        raise RecordProblem(f"MLflow at {safe_uri(tracking_uri)}: cannot open a run: {_said(exc)}") from None
    return Started(tracking_uri, experiment_found, run.info.run_id, linked)


def headline(record: Mapping[str, Any]) -> dict[str, float]:
    """The numbers worth a metric: each metric's candidate value and interval, the champion's and baseline's
    values and the differences to them, the gate counts, the rows, the worst slice and the flip rate."""
    out: dict[str, float] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
            out[key] = float(value)

    for status, count in (record.get("counts") or {}).items():
        put(f"gates.{status}", count)
    sections = record.get("sections") or {}
    measured = (sections.get("metrics") or {}).get("data") or {}
    put("rows", measured.get("rows"))
    for name, found in (measured.get("metrics") or {}).items():
        candidate = found.get("candidate") or {}
        put(name, candidate.get("value"))
        put(f"{name}.low", candidate.get("low"))
        put(f"{name}.high", candidate.get("high"))
        put(f"{name}.champion", (found.get("champion") or {}).get("value"))
        put(f"{name}.baseline", (found.get("baseline") or {}).get("value"))
        for other in ("champion", "baseline"):
            difference = found.get(f"candidate_minus_{other}") or {}
            for end in ("value", "low", "high"):
                put(f"{name}.vs_{other}" + ("" if end == "value" else f".{end}"), difference.get(end))
    sliced = (sections.get("slices") or {}).get("data") or {}
    judged = [s for s in sliced.get("slices") or [] if s.get("status") not in ("insufficient data", "undefined")]
    if judged:
        put(f"slices.worst.{sliced.get('metric')}", (judged[0].get("candidate") or {}).get("value"))
    errors = (sections.get("errors") or {}).get("data") or {}
    put("flip_rate", (errors.get("flip_rate") or {}).get("value"))
    return out


def finish(started: Started, record: Mapping[str, Any], files: Mapping[str, str], provenance: Provenance) -> Recorded:
    """Log the headline metrics and the files (name -> text) to the run, tag the model version, close the run."""
    from mlflow.entities import Metric

    status = str(record.get("status") or "")
    word = WORDS.get(status, status)
    numbers = headline(record)
    client = _client(started.tracking_uri)
    now = int(time.time() * 1000)
    try:
        client.log_batch(started.run_id, metrics=[Metric(k, v, now, 0) for k, v in numbers.items()])
        for name, text in files.items():
            client.log_text(started.run_id, text, name)
        note = (
            f"modelbot validation of {record.get('model')} {record.get('version')} for {record.get('stage')}: "
            f"{word} ({', '.join(f'{n} {s}' for s, n in (record.get('counts') or {}).items() if n)}). "
            f"The evidence is report.md and report.json; the model card model_card.md."
        )
        client.set_tag(started.run_id, "modelbot.status", word)
        client.set_tag(started.run_id, "mlflow.note.content", note)
        if started.model_version is not None:
            name, version = started.model_version
            stage = str(record.get("stage") or "")
            tags = {
                TAG: word,
                f"{TAG}.{stage}": word,
                f"{TAG}.stage": stage,
                f"{TAG}.commit": provenance.commit or "",
                f"{TAG}.pull": "" if provenance.pull is None else str(provenance.pull),
                f"{TAG}.run_id": started.run_id,
                f"{TAG}.at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            if CARD_FILES[0] in files:
                tags[CARD_TAG] = started.run_id
            for key, value in tags.items():
                client.set_model_version_tag(name, version, key, value)
        client.set_terminated(started.run_id, "FINISHED")
    except Exception as exc:  # as in start: anything MLflow's stack raises means the record is incomplete
        abandon(started)
        raise RecordProblem(
            f"MLflow at {safe_uri(started.tracking_uri)}: run {started.run_id} is incomplete: {_said(exc)}"
        ) from None
    return Recorded(started.run_id, started.experiment_id, started.model_version, tuple(files), numbers)


def latest_evidence(tracking_uri: str, name: str, version: str) -> tuple[str, dict[str, Any]] | None:
    """(run id, report.json) of the version's latest recorded validation, or None when none was recorded."""
    import json
    import tempfile

    try:
        client = _client(tracking_uri)
        run_id = client.get_model_version(name, version).tags.get(f"{TAG}.run_id")
        if not run_id:
            return None
        with tempfile.TemporaryDirectory(prefix="modelbot-evidence-") as folder:
            path = client.download_artifacts(run_id, "report.json", folder)
            found = json.loads(Path(path).read_text(encoding="utf-8"))
    except Exception as exc:  # as in start
        raise RecordProblem(
            f"MLflow at {safe_uri(tracking_uri)}: no evidence for {name} {version}: {_said(exc)}"
        ) from None
    if not isinstance(found, dict):
        raise RecordProblem(f"MLflow run {run_id}: report.json is not a JSON object")
    return str(run_id), found


def runs_for(tracking_uri: str, model: str, version: str, commit: str) -> list[str]:
    """The recorded validations of `model` `version` at `commit` (run ids, newest first): evidence that exists."""
    try:
        client = _client(tracking_uri)
        found = client.get_experiment_by_name(EXPERIMENT)
        if found is None:
            return []
        quoted = [v.replace("'", "") for v in (model, version, commit)]
        query = (
            f"tags.`modelbot.model` = '{quoted[0]}' and tags.`modelbot.version` = '{quoted[1]}' "
            f"and tags.`modelbot.commit` = '{quoted[2]}'"
        )
        runs = client.search_runs([found.experiment_id], query, order_by=["attributes.start_time DESC"])
    except Exception as exc:  # as in start
        raise RecordProblem(f"MLflow at {safe_uri(tracking_uri)}: cannot search the records: {_said(exc)}") from None
    return [r.info.run_id for r in runs]


def log_card(tracking_uri: str, name: str, version: str, files: Mapping[str, str], experiment: str = EXPERIMENT) -> str:
    """Log a model card (name -> text) to a run of its own linked to the version, and point the version's
    CARD_TAG at it; returns the run id."""
    try:
        client = _client(tracking_uri)
        run = client.create_run(
            experiment_id(client, tracking_uri, experiment),
            tags={"modelbot.model_version": f"{name}/{version}", "modelbot.kind": "card"},
            run_name=f"model card {name} {version}",
        )
        for file, text in files.items():
            client.log_text(run.info.run_id, text, file)
        client.set_model_version_tag(name, version, CARD_TAG, run.info.run_id)
        client.set_terminated(run.info.run_id, "FINISHED")
    except Exception as exc:  # as in start
        raise RecordProblem(f"MLflow at {safe_uri(tracking_uri)}: cannot log the card: {_said(exc)}") from None
    return str(run.info.run_id)


def abandon(started: Started) -> None:
    """Mark a run that will not be completed as failed (best effort: MLflow may be what failed)."""
    with contextlib.suppress(Exception):  # the record is already lost; the caller says so
        _client(started.tracking_uri).set_terminated(started.run_id, "FAILED")


def _said(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:300]
