"""Performance once labels arrive: the validation's metrics and confidence intervals (`compare.measure`), judged
per window on the interval as validation judges a floor (`gates.judge`: pass when the whole interval clears the
threshold, fail when it wholly misses it, inconclusive otherwise), and per slice with `min_rows`.

Slices are judged at a Bonferroni-adjusted confidence (one test per judged slice), so many slices over many
windows do not turn noise into alarms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bot.evidence import Status
from bot.monitor.accumulate import Labelled, WindowStats
from bot.monitor.keys import keys
from bot.monitor.reference import Reference, _class_order
from bot.monitor.results import Measure, Verdict, WindowCheck
from bot.monitor.windows import Window
from bot.policy.monitor import PerformanceRule
from bot.validation import compare, gates, metrics, slices
from bot.validation.outputs import Predictions, Target

_VERDICT = {Status.PASS: Verdict.PASS, Status.FAIL: Verdict.FAIL, Status.INCONCLUSIVE: Verdict.INCONCLUSIVE}


def encode(labelled: Labelled, reference: Reference) -> tuple[Target, Predictions, str | None]:
    """The labelled rows as validation's Target and Predictions (class codes over the reference's classes and any
    new ones; scores for two classes when every row has one), and a note on rows left out."""
    if not reference.classification:
        y = _floats(labelled.label)
        values = _floats(labelled.prediction)
        keep = np.isfinite(y) & np.isfinite(values)
        note = None if keep.all() else f"{int((~keep).sum())} labelled rows without a numeric label or prediction"
        return Target("regression", y[keep]), Predictions(values=values[keep]), note
    import pyarrow as pa
    import pyarrow.compute as pc

    truth, answered = keys(labelled.label), keys(labelled.prediction)
    both = pc.and_(truth.is_valid(), answered.is_valid())
    keep = np.asarray(both.to_numpy(zero_copy_only=False), dtype=bool)
    truth, answered = truth.filter(both), answered.filter(both)
    found = {*pc.unique(truth).to_pylist(), *pc.unique(answered).to_pylist()}
    classes = tuple(_class_order(sorted({*reference.classes, *found})))
    index = {c: i for i, c in enumerate(classes)}
    positive = index[reference.classes[-1]] if reference.task == "binary_classification" and reference.classes else None
    codes = pa.array(classes, pa.string())  # a key's code is its position among the classes
    y = np.asarray(pc.index_in(truth, value_set=codes).to_numpy(zero_copy_only=False), dtype=np.int32)
    labels = np.asarray(pc.index_in(answered, value_set=codes).to_numpy(zero_copy_only=False), dtype=np.int32)
    scores = None
    if labelled.score is not None and len(classes) == 2 and positive is not None:
        s = np.asarray(labelled.score, dtype=np.float64)[keep]
        if s.size and np.isfinite(s).all():
            scores = np.column_stack([1.0 - s, s]) if positive == 1 else np.column_stack([s, 1.0 - s])
    note = None if keep.all() else f"{int((~keep).sum())} labelled rows without a prediction"
    return Target(reference.task, y, classes, positive), Predictions(labels=labels, scores=scores), note


def _floats(values: Any) -> np.ndarray:
    from bot.monitor.accumulate import to_numbers

    return to_numbers(values)[0]


def _judge(metric: str, estimate: dict[str, float | None], rule: PerformanceRule) -> tuple[Verdict, float | None]:
    """Worst outcome over the rule's floor and ceiling, and the threshold it was judged against."""
    found: list[tuple[Verdict, float]] = []
    for bound, higher_is_good in ((rule.min, True), (rule.max, False)):
        if bound is not None:
            found.append((_VERDICT[gates.judge(estimate["low"], estimate["high"], bound, higher_is_good)], bound))
    order = (Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS)
    worst = min(found, key=lambda v: order.index(v[0]))
    return worst


def measures(labelled: Labelled, reference: Reference, rule: PerformanceRule) -> tuple[Verdict, str, list[Measure]]:
    assert rule.metric is not None
    metric = rule.metric
    title = metrics.METRICS[metric].title
    target, preds, note = encode(labelled, reference)
    if target.n < rule.min_rows:
        return Verdict.INCONCLUSIVE, f"insufficient data: {target.n} labelled rows < min_rows {rule.min_rows}", []
    if not metrics.available(metric, preds):
        why = f"{title} needs class probabilities; the log holds labels only (log a 'score')"
        return Verdict.INCONCLUSIVE, why, [Measure(metric, "all rows", None, note=why)]
    settings = compare.Settings(rule.confidence, rule.resamples, rule.seed)
    found = compare.measure(target, {"candidate": preds}, [metric], compare.Grouping.whole(target.n), [], settings)
    estimate = found.single[(metric, "candidate")].at(0)
    verdict, limit = _judge(metric, estimate, rule)
    overall = Measure(
        metric, "all rows", estimate["value"], limit, verdict is Verdict.FAIL, estimate["low"], estimate["high"], note
    )
    reason = (
        f"{title} {gates.fmt(estimate['value'])} {gates.interval_text(estimate['low'], estimate['high'])} at "
        f"{rule.confidence:.0%} on {target.n} labelled rows"
        + (f" (a uniform sample of {labelled.total})" if labelled.total > target.n else "")
        + f": {'misses' if verdict is Verdict.FAIL else 'clears' if verdict is Verdict.PASS else 'straddles'} "
        + f"{gates.fmt(limit)}"
    )
    found_slices = _slices(labelled, reference, rule, target, preds) if rule.slices else []
    failing = [m for m in found_slices if m.breached]
    if failing:
        listed = ", ".join(f"{m.subject} ({gates.fmt(m.value)})" for m in failing[:5])
        reason += f"; slices missing it: {listed}"
        verdict = Verdict.FAIL
    return verdict, reason, [overall, *found_slices]


def _slices(
    labelled: Labelled, reference: Reference, rule: PerformanceRule, target: Target, preds: Predictions
) -> list[Measure]:
    import pandas as pd

    values = {c: keys(labelled.slices[c]) for c in reference.slices if c in labelled.slices}
    columns = [c for c, v in values.items() if v.null_count < len(v)]
    if not columns or target.n != labelled.rows:
        return []
    frame = pd.DataFrame({c: values[c].to_pylist() for c in columns})
    crosses = [c for c in reference.crosses if c[0] in columns and c[1] in columns]
    found, _ = slices.groupings(frame, columns, crosses)
    groups = sum(g.size for g in found)
    assert rule.metric is not None
    level = 1.0 - (1.0 - rule.confidence) / max(groups, 1)
    settings = compare.Settings(level, rule.resamples, rule.seed)
    out = []
    for grouping in found:
        m = compare.measure(target, {"candidate": preds}, [rule.metric], grouping, [], settings)
        estimate = m.single[(rule.metric, "candidate")]
        for g, label in enumerate(grouping.labels):
            rows = int(m.rows[g])
            if rows < rule.min_rows:
                out.append(Measure(rule.metric, label, None, note=f"{slices.INSUFFICIENT}: {rows} rows"))
                continue
            at = estimate.at(g)
            verdict, limit = _judge(rule.metric, at, rule)
            out.append(Measure(rule.metric, label, at["value"], limit, verdict is Verdict.FAIL, at["low"], at["high"]))
    return out


def window_check(reference: Reference, window: Window, s: WindowStats, rule: PerformanceRule) -> WindowCheck:
    labelled = s.labelled
    if labelled is None or labelled.rows == 0:
        return WindowCheck(window, 0, Verdict.NO_DATA, "no labelled rows in this window (no labels yet)")
    verdict, reason, measured = measures(labelled, reference, rule)
    return WindowCheck(window, labelled.total, verdict, reason, tuple(measured))


def title(rule: PerformanceRule) -> str:
    return f"Performance: {metrics.METRICS[rule.metric].title if rule.metric else 'n/a'} on labelled rows"
