"""The infrastructure check, step by step: API consistency, then the candidate in its sandbox (load, query,
parity, load test, replay), then the champion measured the same way in the same run. Returns the gates and a
JSON-able record of every figure, for the validation report.

One server runs at a time, so the candidate and the champion do not compete for the same cores.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot import sandboxing
from bot.evidence import GateResult
from bot.infra import gates, loadtest, parity, query, replay, sandbox, signature
from bot.infra.client import encode_split, prepare
from bot.infra.results import InfraResults, ReplayOutcome, ServerRun
from bot.policy.gates import Infra, LoadTest

SAMPLE_ROWS = 200
QUERY_BATCH = 50
LOAD_PAYLOADS = 100
ANSWERS_FILE = "replay-candidate-answers.jsonl"


@dataclass(frozen=True)
class Options:
    """How the check runs, beyond what the policy sets."""

    workers: int = 1
    request_timeout_s: float = 30.0
    load_budget_s: float = 300.0
    sample_rows: int = SAMPLE_ROWS
    batch: int = QUERY_BATCH
    env: Mapping[str, str] | None = None
    artifacts: Path | None = None


@dataclass(frozen=True)
class InfraCheck:
    gates: list[GateResult]
    figures: dict[str, Any]
    results: InfraResults


@dataclass(frozen=True)
class _Plan:
    infra: Infra
    options: Options
    sample: Any
    recorded: Sequence[replay.Recorded] | None

    @property
    def mode(self) -> str:
        return self.infra.mode

    @property
    def load_test(self) -> loadtest.LoadSpec | None:
        if not self.infra.measures_load:
            return None
        spec = loadtest.LoadSpec.from_policy(self.infra.load_test or LoadTest(), self.options.request_timeout_s + 2)
        return replace(spec, max_s=(spec.duration_s or 0) + self.options.load_budget_s)


def run(
    infra: Infra,
    candidate_uri: str,
    frame: Any,
    *,
    champion_uri: str | None = None,
    target: str | None = None,
    replay_log: Path | None = None,
    options: Options = Options(),
    progress: Callable[[str], None] = lambda _: None,
) -> InfraCheck:
    """Every infrastructure gate the policy's `gates.infra` asks for. A bad replay log raises InvalidFile;
    everything a model or its server does wrong becomes a failed gate."""
    options = replace(options, env=dict(options.env) if options.env is not None else tracking_env())
    features = frame.drop(columns=[target]) if target and target in frame.columns else frame
    recorded = replay.read_log(replay_log) if infra.replay and replay_log is not None else None
    sample = features.sample(n=min(options.sample_rows, len(features)), random_state=0)
    plan = _Plan(infra, options, sample, recorded)
    progress("infra: reading the signatures")
    api = _api(candidate_uri, champion_uri, features)
    progress(f"infra: serving the candidate {candidate_uri}")
    mine = _serve(plan, candidate_uri, api.candidate, candidate=True)
    results = InfraResults(plan.mode, api.report, mine.run, mine.query, mine.parity, mine.parity_error)
    if plan.mode == "query" and mine.run.loaded:
        theirs = None
        if champion_uri and (infra.sla.max_p95_vs_champion is not None or recorded is not None):
            progress(f"infra: serving the champion {champion_uri} for comparison")
            theirs = _serve(plan, champion_uri, None, candidate=False)
        outcome = _replay_outcome(plan, mine, theirs) if infra.replay else None
        results = replace(results, champion=theirs.run if theirs else None, replay=outcome)
    # The level the model's code ran at is part of the evidence, never silent (issue 12).
    figures = {**results.figures(), "isolation": sandboxing.current().level}
    return InfraCheck(gates.evaluate(infra, results), figures, results)


def tracking_env() -> dict[str, str]:
    """The MLflow store this process uses, passed on so the server resolves the same `models:/` URIs."""
    import mlflow

    return {"MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(), "MLFLOW_REGISTRY_URI": mlflow.get_registry_uri()}


@dataclass(frozen=True)
class _Api:
    report: signature.ApiReport
    candidate: signature.Signature | None


def _api(candidate_uri: str, champion_uri: str | None, features: Any) -> _Api:
    mine, notes = _signature(candidate_uri)
    theirs, more = _signature(champion_uri) if champion_uri else (None, [])
    report = signature.check(mine, signature.data_types(features), theirs)
    return _Api(replace(report, notes=(*report.notes, *notes, *more)), mine)


def _signature(uri: str) -> tuple[signature.Signature | None, list[str]]:
    try:
        return signature.fetch(uri), []
    except Exception as exc:  # MLflow raises many types for a missing or unreadable model
        text = str(exc).strip()
        return None, [f"{uri}: the signature could not be read: {text.splitlines()[0][:200] if text else exc}"]


@dataclass(frozen=True)
class _Served:
    """One model's time in the sandbox."""

    run: ServerRun
    query: query.QueryResult | None = None
    parity: parity.ParityResult | None = None
    parity_error: str | None = None
    answers: list[replay.Answer] | None = None


@dataclass
class _Steps:
    query: query.QueryResult | None = None
    parity: parity.ParityResult | None = None
    parity_error: str | None = None
    load: loadtest.LoadResult | None = None
    answers: list[replay.Answer] | None = None
    death: str | None = None


def _serve(plan: _Plan, uri: str, sig: signature.Signature | None, candidate: bool) -> _Served:
    infra, options = plan.infra, plan.options
    spec = sandbox.SandboxSpec(
        uri,
        float(infra.load_deadline_s),
        infra.tries,
        infra.memory_mb,
        options.workers,
        max(1, round(options.request_timeout_s)),
        env=options.env or {},
    )
    steps = _Steps()
    try:
        with contextlib.ExitStack() as stack:
            local = None
            if candidate and plan.mode == "query":
                deadline = spec.load_deadline_s + options.request_timeout_s
                local = stack.enter_context(parity.LocalRun(uri, plan.sample, deadline, options.env))
            server = stack.enter_context(sandbox.serve(spec))
            if plan.mode == "query":
                _steps(plan, server, sig, local, steps)
            steps.death = server.death()
    except sandbox.SandboxError as exc:
        return _Served(
            ServerRun(
                uri,
                exc.attempts,
                failure=str(exc),
                log_tail=tuple(exc.log_tail),
                memory_exceeded="memory limit" in exc.reason,
            )
        )
    trouble = steps.death or (steps.query and not steps.query.ok) or (steps.load and steps.load.aborted)
    run = ServerRun(
        uri,
        server.attempts,
        server.load_s,
        death=steps.death,
        log_tail=tuple(server.log_tail()) if trouble else (),
        peak_rss_mb=server.peak_rss_bytes / 2**20,
        memory_exceeded=bool(steps.death and "memory limit" in steps.death),
        load=steps.load,
        replay=replay.summary(steps.answers) if steps.answers is not None else None,
    )
    return _Served(run, steps.query, steps.parity, steps.parity_error, steps.answers)


def _steps(
    plan: _Plan, server: sandbox.Server, sig: signature.Signature | None, local: parity.LocalRun | None, steps: _Steps
) -> None:
    """Query and parity (candidate only), load test, replay: each only while the server is still up."""
    timeout = plan.options.request_timeout_s + 2
    if local is not None:
        steps.query = query.run(server.port, plan.sample, sig.outputs if sig else None, plan.options.batch, timeout)
        if steps.query.ok:
            _parity(plan, local, steps)
    spec = plan.load_test
    if spec is not None and server.alive():
        steps.load = loadtest.run(server.port, _payloads(server.port, plan.sample), spec, server.death)
    if plan.recorded and server.alive():
        steps.answers = replay.replay(server.port, plan.recorded, timeout)


def _parity(plan: _Plan, run: parity.LocalRun, steps: _Steps) -> None:
    tolerance = float(plan.infra.parity_tolerance)
    assert steps.query is not None
    try:
        local = run.result()
    except parity.ParityError as exc:
        steps.parity_error = str(exc)
        return
    steps.parity = parity.compare(steps.query.served, local, tolerance)


def _payloads(port: int, sample: Any) -> list[loadtest.Payload]:
    """Single-row requests, as online callers send them, encoded once before the test."""
    rows = sample.head(LOAD_PAYLOADS)
    return [loadtest.Payload(prepare(port, encode_split(rows.iloc[[i]])), 1) for i in range(len(rows))]


def _replay_outcome(plan: _Plan, mine: _Served, theirs: _Served | None) -> ReplayOutcome:
    if plan.recorded is None:
        return ReplayOutcome(
            0,
            problem="the policy asks for a warm-up replay, but models.yaml declares no "
            "evaluation.replay log for this model",
        )
    if not plan.recorded:
        return ReplayOutcome(0, problem="the replay log holds no requests")
    if mine.answers is None:
        return ReplayOutcome(len(plan.recorded), problem="the candidate's server was not up for the replay")
    artifact = None
    if plan.options.artifacts is not None:
        artifact = plan.options.artifacts / ANSWERS_FILE
        replay.write_answers(artifact, mine.answers)
    agreement = None
    if theirs is not None and theirs.answers is not None:
        tolerance = float(plan.infra.parity_tolerance)
        agreement = replay.agreement(mine.answers, theirs.answers, tolerance)
    return ReplayOutcome(len(plan.recorded), agreement, artifact)
