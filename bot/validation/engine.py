"""Orchestration of the offline gates: predict each model once on the whole frame, then measure everything
from the prediction arrays (overall metrics, slices, error analysis), probe robustness and check the data.

`validate` does the I/O (data verified against its pinned sha256, models loaded from registry URIs) and
`assess` the work on loaded values; both return Evidence, and any problem with the data or a model becomes a
gate with its reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot import __version__
from bot.errors import UsageError
from bot.evidence import GateResult, Status
from bot.policy.gates import Gates, Infra
from bot.validation import (
    attention,
    baseline,
    compare,
    datachecks,
    errors_analysis,
    gates,
    interval_chart,
    metrics,
    models,
    outputs,
    robustness,
    slices,
)
from bot.validation.data import DataProblem
from bot.validation.gates import fmt, interval_text
from bot.validation.record import Evidence, Section, Table

if TYPE_CHECKING:
    import pandas as pd

    from bot.registry import Evaluation, Model

CANDIDATE, CHAMPION, BASELINE = "candidate", "champion", "baseline"
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Subject:
    """What is validated: a model version for a stage, its champion there, and the evaluation's columns."""

    model: str
    version: str
    stage: str
    task: str
    target: str
    candidate_uri: str
    champion_version: str | None = None
    champion_uri: str | None = None
    slices: tuple[str, ...] = ()
    crosses: tuple[tuple[str, str], ...] = ()
    training_metrics: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, model: Model, version: str, stage: str) -> Subject:
        """From a models.yaml entry: the champion is the version the stage holds now (none: first deployment)."""
        candidate = model.version(version)
        if candidate is None:
            known = ", ".join(v.id for v in model.versions) or "none"
            raise UsageError(f"model '{model.name}' has no version {version} in models.yaml; registered: {known}")
        held = model.stages.get(stage)
        champion = model.version(held) if held is not None and held != candidate.id else None
        ev = model.evaluation
        return cls(
            model.name,
            candidate.id,
            stage,
            model.task,
            ev.target,
            candidate.uri,
            champion.id if champion else None,
            champion.uri if champion else None,
            ev.slices,
            ev.slice_crosses,
            dict(candidate.training_metrics),
        )


def _evidence(subject: Subject, inputs: Mapping[str, Any] | None) -> Evidence:
    base = {
        "bot_version": __version__,
        "candidate": {"version": subject.version, "uri": subject.candidate_uri},
        "champion": (
            {"version": subject.champion_version, "uri": subject.champion_uri} if subject.champion_uri else None
        ),
    }
    return Evidence(subject.model, subject.version, subject.stage, subject.task, {**base, **(inputs or {})})


def validate(
    subject: Subject,
    spec: Gates,
    evaluation: Evaluation,
    root: Path,
    inputs: Mapping[str, Any] | None = None,
    progress: Progress = _quiet,
) -> Evidence:
    """Load and verify the data, load the models from their registry URIs, then `assess`."""
    from bot.validation import data

    evidence = _evidence(subject, inputs)
    evidence.inputs["evaluation_data"] = {"location": evaluation.data, "sha256": evaluation.sha256}
    uris = [subject.candidate_uri, *([subject.champion_uri] if subject.champion_uri else [])]
    progress(f"loading {' and champion '.join(uris)}")
    started = models.start(uris, set(uris))  # the models load while the data is read and verified
    evidence.inputs["isolation"] = models.isolation()
    progress(f"reading {evaluation.data}")
    try:
        frame, _ = data.load(evaluation.data, evaluation.sha256, root)
    except DataProblem as exc:
        models.discard(started)
        evidence.add("data", Section("Data checks", str(exc)), [gates.failed("data.integrity", str(exc))])
        return evidence
    reference, reference_problem = None, None
    if evaluation.reference is not None:
        evidence.inputs["reference_data"] = {
            "location": evaluation.reference.data,
            "sha256": evaluation.reference.sha256,
        }
        try:
            reference, _ = data.load(evaluation.reference.data, evaluation.reference.sha256, root, "reference data")
        except DataProblem as exc:
            reference_problem = str(exc)
    answers = models.ready(started)
    candidate = answers[0]
    champion: models.LoadedModel | None = None
    champion_problem: str | None = None
    if len(answers) > 1:
        if isinstance(answers[1], models.ModelProblem):
            champion_problem = str(answers[1])
        else:
            champion = answers[1]
    if isinstance(candidate, models.ModelProblem):
        if champion is not None:
            champion.close()
        evidence.add("candidate", None, [gates.failed("candidate.load", str(candidate))])
        return evidence
    try:
        evidence = assess(
            subject,
            spec,
            frame,
            candidate,
            champion,
            reference,
            evidence=evidence,
            champion_problem=champion_problem,
            reference_problem=reference_problem,
            progress=progress,
        )
    finally:
        for loaded in (candidate, champion):
            if loaded is not None:
                loaded.close()
    if spec.infra is not None:
        _infra(subject, spec.infra, frame, evidence, evaluation, root, progress)
    return evidence


def _infra(
    subject: Subject,
    spec: Infra,
    frame: pd.DataFrame,
    evidence: Evidence,
    evaluation: Evaluation,
    root: Path,
    progress: Progress,
) -> None:
    """The policy's infrastructure gates (issue 4): the candidate in a sandboxed model server, joined to the
    same evidence record and report."""
    from bot.infra import check

    replay_log = (root / evaluation.replay.data) if evaluation.replay is not None else None
    options = check.Options(workers=spec.workers)
    result = check.run(
        spec,
        subject.candidate_uri,
        frame,
        champion_uri=subject.champion_uri,
        target=subject.target,
        replay_log=replay_log,
        options=options,
        progress=progress,
    )
    evidence.add_figures("infra", "Infrastructure: sandboxed model server", result.figures, result.gates)


@dataclass
class _Run:
    subject: Subject
    spec: Gates
    settings: compare.Settings
    evidence: Evidence
    progress: Progress


def assess(
    subject: Subject,
    spec: Gates,
    frame: pd.DataFrame,
    candidate: models.LoadedModel,
    champion: models.LoadedModel | None,
    reference: pd.DataFrame | None = None,
    *,
    evidence: Evidence | None = None,
    inputs: Mapping[str, Any] | None = None,
    champion_problem: str | None = None,
    reference_problem: str | None = None,
    progress: Progress = _quiet,
) -> Evidence:
    """Every offline gate of `spec` (the policy's `gates` for the stage) on a loaded frame and models."""
    run = _Run(subject, spec, compare.Settings.from_gates(spec), evidence or _evidence(subject, inputs), progress)
    ev = run.evidence
    ev.inputs.setdefault("isolation", models.isolation())
    structure = datachecks.structure(frame, subject.target, candidate.inputs, subject.task)
    if not structure.usable:
        ev.add("data", Section("Data checks", structure.gate.reason), [structure.gate])
        return ev
    features = frame[structure.features]
    columns = {CANDIDATE: structure.features}
    if champion is not None and not champion_problem:
        # The champion gets the columns its own signature asks for, from the same rows (issue 13).
        own = datachecks.structure(frame, subject.target, champion.inputs, subject.task)
        if own.usable:
            columns[CHAMPION] = own.features
        else:
            champion_problem = f"champion {champion.uri}: {own.gate.reason}"
    if champion_problem:
        ev.notes.append(f"champion unusable: {champion_problem}")
    answered = _answers(run, frame, columns, candidate, champion if CHAMPION in columns else None)
    if answered is None:
        ev.add("data", Section("Data checks", structure.gate.reason), [structure.gate])
        return ev
    target, preds, champion_problem = _encode(run, frame, answered, champion_problem)
    del answered  # the raw answers: row-sized arrays no longer needed once encoded
    if target is None:
        return ev
    order = compare.ScoreOrder()
    for role, pred in preds.items():
        order.get(role, target, pred)
    # Slices run in a second thread (NumPy releases the GIL in its loops; the models' own predict used every
    # core too) beside the bootstrap metrics, error analysis, probes and data checks; the overall rank metrics
    # wait for the slices, so two row-sized sorts never hold memory at once.
    names = metrics.for_task(subject.task)
    with ThreadPoolExecutor(max_workers=1) as pool:
        slice_rows = pool.submit(_slice_rows, run, frame, target, preds, order)
        overall = _measure(run, target, preds, [m for m in names if metrics.METRICS[m].family != "rank"], order)
        progress("error analysis")
        described = list(dict.fromkeys([*structure.features, *[c for c in subject.slices if c in frame.columns]]))
        errors = errors_analysis.run(frame, described, target, preds, spec.error_analysis, run.settings.confidence)
        probes = spec.robustness.probes
        robust = (
            robustness.run(
                candidate, features, subject.task, probes, _nullable(candidate, features, reference), progress
            )
            if probes
            else None
        )
        progress("data checks")
        data_gates, data_section = datachecks.run(
            frame, structure.features, reference, spec.data, structure.gate, reference_problem
        )
        measured_slices = slice_rows.result()
    ranked = _measure(run, target, preds, [m for m in names if metrics.METRICS[m].family == "rank"], order)
    overall.single.update(ranked.single)
    overall.paired.update(ranked.paired)
    overall.methods.update(ranked.methods)
    _metrics(run, overall, preds, champion_problem)
    _judge_slices(run, measured_slices, overall, champion_problem)
    ev.add("errors", errors[1], errors[0])
    if robust is not None:
        ev.add("robustness", robust[1], robust[0])
    values = {m: _num(e.value[0]) for (m, role), e in overall.single.items() if role == CANDIDATE}
    data_gates.extend(datachecks.train_eval_gap(spec.data, subject.training_metrics, values))
    ev.add("data", data_section, [structure.gate, *data_gates])
    if ev.status in (Status.FAIL, Status.INCONCLUSIVE):
        _attention(run, frame, target, preds)
    return ev


def _attention(
    run: _Run, frame: pd.DataFrame, target: outputs.Target, preds: Mapping[str, outputs.Predictions]
) -> None:
    """A failed or unclear validation names the rows to look at (issue 19): worst slices, flipped rows."""
    ev = run.evidence
    measured = ev.sections.get("slices")
    unclear = [g.gate for g in ev.gates if g.status in (Status.FAIL, Status.INCONCLUSIVE)]
    location = (ev.inputs.get("evaluation_data") or {}).get("location", "the evaluation data")
    ev.add(
        "attention",
        attention.section(
            frame,
            target,
            preds,
            measured.data.get("slices", []) if measured is not None else [],
            run.subject.slices,
            unclear,
            str(location),
        ),
    )


def _num(x: Any) -> float | None:
    value = float(x)
    return value if np.isfinite(value) else None


def _answers(
    run: _Run,
    frame: pd.DataFrame,
    columns: Mapping[str, list[str]],
    candidate: models.LoadedModel,
    champion: models.LoadedModel | None,
) -> dict[str, tuple[outputs.Answer | str, models.LoadedModel]] | None:
    """Each model's parsed answer on the whole frame, each given its own columns (the champion's problem as
    text); None when the candidate cannot answer, after recording the failed gate."""
    found: dict[str, tuple[outputs.Answer | str, models.LoadedModel]] = {}
    # One after the other: models such as gradient boosting already use every core while they predict.
    for role, model in ((CANDIDATE, candidate), (CHAMPION, champion)):
        if model is None:
            continue
        features = frame[columns[role]]
        run.progress(f"predicting {role} {model.uri} on {features.shape[0]} rows")
        try:
            found[role] = (outputs.parse(models.predict(model, features), run.subject.task, features.shape[0]), model)
        except (models.ModelProblem, outputs.OutputProblem) as exc:
            reason = str(exc) if role == CANDIDATE else f"champion {model.uri}: {exc}"
            if role == CANDIDATE:
                run.evidence.add("candidate", None, [gates.failed("candidate.predict", f"{model.uri}: {reason}")])
                return None
            found[role] = (reason, model)
    return found


def _encode(
    run: _Run,
    frame: pd.DataFrame,
    answered: Mapping[str, tuple[outputs.Answer | str, models.LoadedModel]],
    champion_problem: str | None,
) -> tuple[outputs.Target | None, dict[str, outputs.Predictions], str | None]:
    subject, ev = run.subject, run.evidence
    raw_y = frame[subject.target].to_numpy()
    usable = {role: (a, m) for role, (a, m) in answered.items() if isinstance(a, outputs.Answer)}
    for role, (answer, _) in answered.items():
        if isinstance(answer, str):
            champion_problem = answer
            ev.notes.append(f"{role} unusable: {answer}")
    if subject.task == "regression":
        target = outputs.Target(subject.task, np.asarray(raw_y, dtype=np.float64))
    else:
        y = outputs.canonical(raw_y)
        found = np.unique(y)
        if subject.task == "binary_classification" and found.shape[0] > 2:
            reason = (
                f"the task is binary_classification but the target '{subject.target}' has "
                f"{found.shape[0]} classes ({', '.join(map(str, found[:5]))}...)"
            )
            ev.add("data", Section("Data checks", reason), [gates.failed("data.schema", reason)])
            return None, {}, champion_problem
        classes = outputs.classes_of(y, [a for a, _ in usable.values()], [m.classes for _, m in usable.values()])
        positive = classes.index(found.tolist()[-1]) if subject.task == "binary_classification" else None
        target = outputs.Target(subject.task, outputs.codes(y, classes), classes, positive)
        if positive is not None:
            ev.inputs["positive_class"] = str(classes[positive])
    preds: dict[str, outputs.Predictions] = {}
    for role, (answer, model) in usable.items():
        try:
            preds[role] = outputs.encode(answer, target, model.classes)
        except outputs.OutputProblem as exc:
            if role == CANDIDATE:
                ev.add("candidate", None, [gates.failed("candidate.predict", f"{model.uri}: {exc}")])
                return None, {}, champion_problem
            champion_problem = f"champion {model.uri}: {exc}"
    preds[BASELINE] = baseline.predict(target)
    return target, preds, champion_problem


def _measure(
    run: _Run,
    target: outputs.Target,
    preds: Mapping[str, outputs.Predictions],
    names: Sequence[str],
    order: compare.ScoreOrder,
) -> compare.Measurements:
    run.progress(f"overall {', '.join(names)} with intervals")
    pairs = [(CANDIDATE, CHAMPION), (CANDIDATE, BASELINE)]
    return compare.measure(target, preds, names, compare.Grouping.whole(target.n), pairs, run.settings, order)


def _metrics(
    run: _Run, overall: compare.Measurements, preds: Mapping[str, outputs.Predictions], champion_problem: str | None
) -> None:
    """Floors, champion and baseline gates, and the metric table."""
    names = metrics.for_task(run.subject.task)
    level = run.settings.confidence
    results: list[GateResult] = []
    for name, bounds in run.spec.metrics.items():
        estimate = _single(overall, name, CANDIDATE)
        if estimate is None:
            results.append(gates.failed(f"metric.{name}", _unavailable(run.subject.task, name)))
        else:
            results.extend(gates.floors(name, estimate, bounds, level))
    champion_spec = run.spec.champion
    if run.subject.champion_uri is None:
        results.extend(gates.no_champion(run.subject.stage, champion_spec))
    for name, margins in champion_spec.items():
        if run.subject.champion_uri is None:
            continue
        if champion_problem:
            results.extend(
                GateResult(f"champion.{name}.{k}", Status.INCONCLUSIVE, champion_problem, None, margin)
                for k, margin in margins.margins()
            )
            continue
        reference = _single(overall, name, CHAMPION)
        results.extend(
            gates.versus(
                "champion",
                name,
                _paired(overall, name, CHAMPION),
                reference["value"] if reference else None,
                margins,
                level,
            )
        )
    for name, gain in run.spec.baseline.items():
        reference = _single(overall, name, BASELINE)
        results.extend(
            gates.versus(
                "baseline",
                name,
                _paired(overall, name, BASELINE),
                reference["value"] if reference else None,
                gain,
                level,
            )
        )
    section = _metric_section(run, overall, names, preds)
    section.charts = interval_chart.charts(results)
    run.evidence.add("metrics", section, results)


def _unavailable(task: str, name: str) -> str:
    if name not in metrics.for_task(task):
        return f"{name} does not apply to a {task} model; use one of {', '.join(metrics.for_task(task))}"
    return f"{metrics.METRICS[name].title} needs class probabilities, but the candidate answers labels only"


def _single(m: compare.Measurements, name: str, role: str) -> dict[str, float | None] | None:
    estimate = m.single.get((name, role))
    return None if estimate is None else estimate.at(0)


def _paired(m: compare.Measurements, name: str, other: str) -> dict[str, float | None] | None:
    estimate = m.paired.get((name, CANDIDATE, other))
    return None if estimate is None else estimate.at(0)


def _metric_section(
    run: _Run, overall: compare.Measurements, names: Sequence[str], preds: Mapping[str, outputs.Predictions]
) -> Section:
    level = run.settings.confidence
    rows, data = [], {}
    for name in names:
        cand, champ, base = (_single(overall, name, r) for r in (CANDIDATE, CHAMPION, BASELINE))
        vs_champ, vs_base = _paired(overall, name, CHAMPION), _paired(overall, name, BASELINE)
        arrow = "↑" if metrics.METRICS[name].greater_is_better else "↓"
        rows.append(
            [
                f"{metrics.METRICS[name].title} {arrow}",
                _cell(cand),
                _cell(champ, False),
                _cell(base, False),
                _cell(vs_champ, True, True),
                _cell(vs_base, True, True),
            ]
        )
        data[name] = {
            "greater_is_better": metrics.METRICS[name].greater_is_better,
            "method": overall.methods.get(name),
            CANDIDATE: cand,
            CHAMPION: champ,
            BASELINE: base,
            "candidate_minus_champion": vs_champ,
            "candidate_minus_baseline": vs_base,
        }
    averaging = (
        "positive class " + str(run.evidence.inputs.get("positive_class", ""))
        if run.subject.task == "binary_classification"
        else f"{run.settings.averaging} averaging"
    )
    note = (
        f"Intervals at {level:.0%}. Counting and loss metrics: paired Poisson bootstrap "
        f"({run.settings.resamples} resamples, seed {run.settings.seed}); ROC AUC: DeLong; PR AUC: influence "
        f"function. Baseline: {baseline.DESCRIPTION[_family(run.subject.task)]}."
        + ("" if run.subject.task == "regression" else f" Precision, recall, F1: {averaging}.")
    )
    champ_text = (
        f"champion version {run.subject.champion_version}" + ("" if CHAMPION in preds else " (unusable: see the notes)")
        if run.subject.champion_uri
        else f"no champion: first deployment to {run.subject.stage}"
    )
    table = Table(
        "Metrics", ["Metric", "Candidate", "Champion", "Baseline", "Δ vs champion", "Δ vs baseline"], rows, note
    )
    labels_only = [r for r, p in preds.items() if p.scores is None and run.subject.task != "regression"]
    summary = f"Candidate version {run.subject.version} against {champ_text} and the naive baseline."
    if labels_only:
        summary += f" Labels only (no probability metrics): {', '.join(labels_only)}."
    return Section("Metrics", summary, tables=[table], data={"rows": int(overall.rows[0]), "metrics": data})


def _family(task: str) -> str:
    return "regression" if task == "regression" else "classification"


def _cell(e: Mapping[str, float | None] | None, with_interval: bool = True, signed: bool = False) -> str:
    if e is None:
        return "n/a"
    text = fmt(e["value"], signed)
    return f"{text} {interval_text(e['low'], e['high'], signed)}" if with_interval else text


def _slice_metric(run: _Run) -> str:
    if run.spec.slices is not None:
        return run.spec.slices.metric
    return "mae" if run.subject.task == "regression" else "accuracy"


def _slice_rows(
    run: _Run,
    frame: pd.DataFrame,
    target: outputs.Target,
    preds: Mapping[str, outputs.Predictions],
    order: compare.ScoreOrder,
) -> tuple[list[slices.Row], list[str]] | None:
    """Every declared slice measured (no judging yet: that needs the overall value)."""
    metric = _slice_metric(run)
    if (
        not run.subject.slices
        or not metrics.available(metric, preds[CANDIDATE])
        or metric not in metrics.for_task(run.subject.task)
    ):
        return None
    run.progress(f"slices on {metric}")
    return slices.measure(frame, run.subject.slices, run.subject.crosses, metric, target, preds, run.settings, order)


def _judge_slices(
    run: _Run,
    measured: tuple[list[slices.Row], list[str]] | None,
    overall: compare.Measurements,
    champion_problem: str | None = None,
) -> None:
    subject, spec = run.subject, run.spec.slices
    if not subject.slices:
        if spec is not None:
            run.evidence.add(
                "slices",
                None,
                [GateResult("slices.columns", Status.SKIPPED, "models.yaml declares no slice columns for this model")],
            )
        return
    metric = _slice_metric(run)
    if measured is None:
        run.evidence.add("slices", None, [gates.failed("slices.metric", _unavailable(subject.task, metric))])
        return
    rows, missing = measured
    overall_value = float(overall.single[(metric, CANDIDATE)].value[0])
    results: list[GateResult] = []
    if missing:
        results.append(
            gates.failed(
                "slices.columns",
                f"declared slice columns missing from the evaluation data: {', '.join(missing)}",
                missing=missing,
            )
        )
    if spec is not None:
        has_champion = CHAMPION in {role for _, role in overall.single}
        problem = (champion_problem or "the champion gave no usable answer") if subject.champion_uri else None
        rows, judged = slices.judge(
            rows, metric, overall_value, spec, run.settings.confidence, has_champion, None if has_champion else problem
        )
        results.extend(judged)
    run.evidence.add("slices", slices.section(rows, metric, overall_value, missing, run.settings.confidence), results)


def _nullable(candidate: models.LoadedModel, features: pd.DataFrame, reference: pd.DataFrame | None) -> list[str]:
    """Columns that may be null in production: optional in the signature, or seen null in the data."""
    optional = {c.name for c in candidate.inputs or () if not c.required}
    seen = {c for c in features.columns if features[c].isna().any()}
    if reference is not None:
        seen |= {c for c in features.columns if c in reference.columns and reference[c].isna().any()}
    return [c for c in features.columns if c in optional or c in seen]
