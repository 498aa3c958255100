"""A version entry for models.yaml, filled from the MLflow model registry and the run that produced it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.errors import ModelbotError

_URI = re.compile(r"^models:/(?P<name>[^/]+)/(?P<version>\d+)$")


def _iso(millis: int | None) -> str:
    moment = datetime.fromtimestamp((millis or 0) / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(value: str) -> str | int | float | bool | None:
    """MLflow stores params as text; keep numbers and booleans as such in models.yaml."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def author(*recorded: str | None) -> str:
    """Who made a version: the user MLflow recorded, unless that is only this machine's login name (what
    MLflow records when no identity is set), else the git identity; never the login name (issue 13)."""
    import getpass

    login = {getpass.getuser(), "root"}
    for name in recorded:
        if name and name not in login:
            return name
    return git_identity() or "unknown"


def git_identity() -> str | None:
    """`git config user.name` and `user.email`, as "Name <email>" (either alone if only one is set)."""
    import subprocess

    found = []
    for key in ("user.name", "user.email"):
        try:
            done = subprocess.run(
                ["git", "config", "--get", key], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        found.append(done.stdout.strip() if done.returncode == 0 else "")
    name, email = found
    if name and email:
        return f"{name} <{email}>"
    return name or email or None


def version_entry(uri: str, version: str, tracking_uri: str | None = None) -> dict[str, Any]:
    """Metadata and lineage of a registered MLflow model version, as a models.yaml version block."""
    match = _URI.match(uri)
    if not match:
        raise ModelbotError(f"--from-mlflow needs a registry URI such as models:/churn/7; got {uri!r}")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        mv = client.get_model_version(match["name"], match["version"])
        run = client.get_run(mv.run_id) if mv.run_id else None
    except MlflowException as exc:
        raise ModelbotError(f"MLflow has no {uri}: {exc.message}") from None
    entry: dict[str, Any] = {
        "version": int(version) if version.isdigit() else version,
        "uri": uri,
        "created_at": _iso(mv.creation_timestamp),
        "created_by": author(mv.user_id, run.info.user_id if run else None),
    }
    if mv.run_id:
        entry["run_id"] = mv.run_id
    if mv.description:
        entry["description"] = mv.description
    if run is not None:
        entry.update(_run_fields(run))
    return entry


def _run_fields(run: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    metrics = {k: float(v) for k, v in run.data.metrics.items()}
    evaluation = {k: v for k, v in metrics.items() if not k.startswith("training_")}
    training = {k.removeprefix("training_"): v for k, v in metrics.items() if k.startswith("training_")}
    if evaluation:
        fields["metrics"] = evaluation
    if training:
        fields["training_metrics"] = training
    lineage: dict[str, Any] = {}
    tags = run.data.tags
    if tags.get("mlflow.source.git.commit"):
        lineage["code_commit"] = tags["mlflow.source.git.commit"]
    if tags.get("mlflow.source.git.repoURL"):
        lineage["code_repository"] = tags["mlflow.source.git.repoURL"]
    inputs = getattr(run, "inputs", None)
    datasets = getattr(inputs, "dataset_inputs", None) or []
    if datasets:
        dataset = datasets[0].dataset
        lineage["training_data"] = f"{dataset.name}@{dataset.digest}" if dataset.digest else dataset.name
    elif tags.get("training_data"):
        lineage["training_data"] = tags["training_data"]
    if run.data.params:
        lineage["params"] = {k: _scalar(v) for k, v in sorted(run.data.params.items())}
    if lineage:
        fields["lineage"] = lineage
    return fields
