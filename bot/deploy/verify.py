"""The smoke check after a deployment: the alias the candidate should carry resolves to it, and the model
loaded through that alias answers sample rows of the model's evaluation data (in an isolated model host, with
time limits, like every model the bot runs), one finite answer per row.

With the policy's `deploy.verify.url`, the same pinned rows then go through the live endpoint (a `modelbot
serve` gateway, asked for the candidate with `X-Modelbot-Version`, or a KServe/Seldon URL speaking MLflow's
scoring protocol), waiting for it to be ready up to `timeout_s`, and its answers must equal the offline ones:
a deploy that reached the registry but not the traffic fails here, and the failure path reverts it."""

from __future__ import annotations

import io
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot import gitio
from bot.deploy.base import DeployError, Deployment
from bot.deploy.mlflow_alias import check_reachable, plan_aliases, registry_ref
from bot.evidence import GateResult, Status
from bot.policy.deploy import LiveCheck
from bot.registry.model import Model

VERSION_HEADER = "X-Modelbot-Version"

GATE = "smoke"


def answers_key(model: str, stage: str, version: str) -> str:
    """How the smoke job's answers are keyed (see `bot.deploy.rehearsal`)."""
    return f"{model}/{stage}/{version}"


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
    """`answers`: the model's answers as the deploy workflow's read-only `smoke` job gave them (see
    `rehearsal`), judged here as data; None: the model is loaded here (outside Actions, or a one-job workflow)."""

    def __init__(
        self,
        tracking_uri: str | None,
        repo: Path,
        rows: int = 5,
        timeout_s: float = 120.0,
        answers: Mapping[str, Mapping[str, Any]] | None = None,
        unread: str = "",
    ) -> None:
        self.tracking_uri = tracking_uri
        self.repo = repo
        self.rows = rows
        self.timeout_s = timeout_s
        self.answers = answers
        self.unread = unread  # why the smoke job's answers could not be read, if they could not

    def __call__(self, deployment: Deployment, model: Model, rev: str, live: LiveCheck | None = None) -> GateResult:
        try:
            name, alias, number = candidate_alias(deployment)
            resolved = self._resolve(name, alias)
        except DeployError as exc:
            return GateResult(GATE, Status.FAIL, str(exc))
        observed: dict[str, Any] = {"alias": f"{name}@{alias}", "resolves_to": resolved, "expected": number}
        if resolved != number:
            return GateResult(
                GATE, Status.FAIL, f"{name}@{alias} resolves to version {resolved}, not {number}", observed=observed
            )
        frame = sample_rows(self.repo, rev, model, self.rows)
        if frame is None:
            return GateResult(
                GATE,
                Status.PASS,
                f"{name}@{alias} -> {number}; no sample rows (evaluation data "
                f"{model.evaluation.data} is not in the repository)",
                observed=observed,
            )
        if self.answers is None:
            answered = self.answer(f"models:/{name}@{alias}", frame)
        else:
            handed = self.answers.get(answers_key(deployment.model, deployment.stage, str(deployment.version)))
            answered = (
                {**handed, "from": "the smoke job"}
                if handed is not None
                else {
                    "error": f"the smoke job handed over no answers of version {deployment.version}"
                    + (f" ({self.unread})" if self.unread else "")
                }
            )
        values = answered.pop("values", [])
        observed.update(answered)
        if "error" in answered:
            return GateResult(
                GATE, Status.FAIL, f"models:/{name}@{alias} did not answer: {answered['error']}", observed=observed
            )
        if answered["answers"] != answered["rows"] or not answered["finite"]:
            return GateResult(
                GATE,
                Status.FAIL,
                f"models:/{name}@{alias} gave {answered['answers']} answers "
                f"for {answered['rows']} rows (finite: {answered['finite']})",
                observed=observed,
            )
        if live is not None:
            rows = frame.head(live.rows)
            problem = live_problem(live, deployment, rows, values[: len(rows)])
            observed["live"] = {"url": endpoint(live, deployment), "rows": len(rows), "problem": problem}
            if problem is not None:
                return GateResult(GATE, Status.FAIL, problem, observed=observed)
        return GateResult(
            GATE,
            Status.PASS,
            f"{name}@{alias} -> {number} answered {answered['rows']} sample rows"
            + (f"; the live endpoint gave the same answers for {live.rows}" if live is not None else ""),
            observed=observed,
        )

    def _resolve(self, name: str, alias: str) -> str:
        check_reachable(self.tracking_uri, 10.0)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        try:
            return str(client.get_model_version_by_alias(name, alias).version)
        except Exception as exc:  # MlflowException: the alias is missing or the registry refused
            raise DeployError(f"cannot resolve {name}@{alias}: {str(exc).splitlines()[0][:300]}") from None

    def answer(self, uri: str, frame: Any) -> dict[str, Any]:
        """The model's answers to `frame`, from an isolated model host (the deploy job holds a write token: the
        model runs as every model does, with no token in reach), summarised; or the error."""
        import numpy as np

        from bot.validation import models

        names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
        saved = {name: os.environ.get(name) for name in names}
        if self.tracking_uri:
            os.environ.update(dict.fromkeys(names, self.tracking_uri))
        try:
            model = models.load(uri, timeout_s=self.timeout_s)
            try:
                answers = np.asarray(models.predict(model, frame, timeout_s=self.timeout_s))
            finally:
                model.close()
        except models.ModelProblem as exc:
            return {"error": str(exc)[:500]}
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        count = int(answers.shape[0]) if answers.ndim else 1
        finite = bool(np.isfinite(answers).all()) if np.issubdtype(answers.dtype, np.number) else True
        return {
            "rows": len(frame),
            "answers": count,
            "finite": finite,
            "isolation": models.isolation(),
            "values": answers.tolist(),
        }


def endpoint(live: LiveCheck, deployment: Deployment) -> str:
    model, stage = (urllib.parse.quote(p, safe="") for p in (deployment.model, deployment.stage))
    return live.url.replace("{model}", model).replace("{stage}", stage)


def _post(url: str, body: bytes, version: str, timeout_s: float) -> tuple[int, Any, str | None]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "modelbot", VERSION_HEADER: version},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return answer.status, json.loads(answer.read()), answer.headers.get(VERSION_HEADER)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode("utf-8", "replace"), None


def live_problem(live: LiveCheck, deployment: Deployment, frame: Any, offline: list[Any]) -> str | None:
    """Why the live endpoint's answers to `frame` differ from `offline`, or None when they match. Connection
    refusals and 502/503/504 (not ready yet) are retried until `live.timeout_s`."""
    import numpy as np

    url = endpoint(live, deployment)
    body = json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}).encode()
    version = deployment.version or ""
    deadline = time.monotonic() + live.timeout_s
    while True:
        left = max(0.1, deadline - time.monotonic())
        try:
            status, found, served_by = _post(url, body, version, min(left, 30.0))
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            status, found, served_by = 0, str(getattr(exc, "reason", exc)), None
        if status == 200 or status not in (0, 502, 503, 504) or time.monotonic() >= deadline:
            break
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    if status != 200:
        return f"the live endpoint {url} did not answer within {live.timeout_s:g}s ({status or 'unreachable'}): {found}"
    if served_by is not None and served_by != version:
        return f"the live endpoint {url} answered with version {served_by}, not the deployed {version}"
    predictions = found.get("predictions") if isinstance(found, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(offline):
        return f"the live endpoint {url} gave {len(predictions or [])} answers for {len(offline)} pinned rows"
    try:
        same = np.allclose(np.asarray(predictions, dtype=float), np.asarray(offline, dtype=float), atol=live.tolerance)
    except (TypeError, ValueError):
        same = predictions == offline
    if not same:
        return (
            f"the live endpoint {url} answers differ from version {version}'s offline predictions on the pinned "
            f"rows (first live {predictions[0]!r}, offline {offline[0]!r})"
        )
    return None
