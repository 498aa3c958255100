"""The smoke check after a deployment: the alias the candidate should carry resolves to it, and the model
loaded through that alias answers sample rows of the model's evaluation data (in a child process, with a
timeout), one finite answer per row."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot import gitio
from bot.deploy.base import DeployError, Deployment
from bot.deploy.mlflow_alias import check_reachable, plan_aliases, registry_ref
from bot.evidence import GateResult, Status
from bot.registry.model import Model

GATE = "smoke"


def candidate_alias(deployment: Deployment) -> tuple[str, str, str]:
    """(registered name, alias, MLflow version) the deployment's version should now be reachable by."""
    plan = plan_aliases(deployment)
    _, number = registry_ref(deployment.uri, deployment.version)
    alias = next(a for a, v in plan.set.items() if v == number and not a.endswith("-previous"))
    return plan.name, alias, number


def sample_rows(repo: Path, rev: str, model: Model, count: int) -> Any:
    """The first rows of the model's evaluation data at `rev`, without the target; None if it is not in git."""
    import pandas as pd

    raw = gitio.show(repo, rev, model.evaluation.data)
    if raw is None:
        return None
    frame = pd.read_csv(io.BytesIO(raw), nrows=count)
    return frame.drop(columns=[model.evaluation.target], errors="ignore")


class SmokeCheck:
    def __init__(self, tracking_uri: str | None, repo: Path, rows: int = 5, timeout_s: float = 120.0) -> None:
        self.tracking_uri = tracking_uri
        self.repo = repo
        self.rows = rows
        self.timeout_s = timeout_s

    def __call__(self, deployment: Deployment, model: Model, rev: str) -> GateResult:
        try:
            name, alias, number = candidate_alias(deployment)
            resolved = self._resolve(name, alias)
        except DeployError as exc:
            return GateResult(GATE, Status.FAIL, str(exc))
        observed: dict[str, Any] = {"alias": f"{name}@{alias}", "resolves_to": resolved, "expected": number}
        if resolved != number:
            return GateResult(GATE, Status.FAIL, f"{name}@{alias} resolves to version {resolved}, not {number}",
                              observed=observed)
        frame = sample_rows(self.repo, rev, model, self.rows)
        if frame is None:
            return GateResult(GATE, Status.PASS, f"{name}@{alias} -> {number}; no sample rows (evaluation data "
                              f"{model.evaluation.data} is not in the repository)", observed=observed)
        answered = self._answer(f"models:/{name}@{alias}", frame)
        observed.update(answered)
        if "error" in answered:
            return GateResult(GATE, Status.FAIL, f"models:/{name}@{alias} did not answer: {answered['error']}",
                              observed=observed)
        if answered["answers"] != answered["rows"] or not answered["finite"]:
            return GateResult(GATE, Status.FAIL, f"models:/{name}@{alias} gave {answered['answers']} answers "
                              f"for {answered['rows']} rows (finite: {answered['finite']})", observed=observed)
        return GateResult(GATE, Status.PASS, f"{name}@{alias} -> {number} answered {answered['rows']} sample rows",
                          observed=observed)

    def _resolve(self, name: str, alias: str) -> str:
        check_reachable(self.tracking_uri, 10.0)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        try:
            return str(client.get_model_version_by_alias(name, alias).version)
        except Exception as exc:  # MlflowException: the alias is missing or the registry refused
            raise DeployError(f"cannot resolve {name}@{alias}: {str(exc).splitlines()[0][:300]}") from None

    def _answer(self, uri: str, frame: Any) -> dict[str, Any]:
        env = {**os.environ, "MLFLOW_TRACKING_URI": self.tracking_uri or "",
               "MLFLOW_REGISTRY_URI": self.tracking_uri or ""}
        with tempfile.TemporaryDirectory(prefix="modelbot-smoke-") as tmp:
            rows = Path(tmp) / "rows.json"
            frame.to_json(rows, orient="split", index=False)
            try:
                proc = subprocess.run([sys.executable, "-m", "bot.deploy.smoke", uri, str(rows)], env=env,
                                      capture_output=True, timeout=self.timeout_s, check=False)
            except subprocess.TimeoutExpired:
                return {"error": f"no answer within {self.timeout_s:g}s"}
        if proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            return {"error": (lines[-1] if lines else f"exit {proc.returncode}")[:500]}
        result: dict[str, Any] = json.loads(proc.stdout)
        return result
