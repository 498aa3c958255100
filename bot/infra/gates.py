"""Infrastructure results against the policy's `gates.infra`: pure, one GateResult per thing the policy asks.

A failure carries the server's last log lines, so the report says why without a trip to the CI logs. When an
earlier step fails, later ones are skipped with that reason rather than failed twice.
"""

from __future__ import annotations

from typing import Any

from bot.evidence import GateResult, Status
from bot.infra.loadtest import LoadResult
from bot.infra.results import InfraResults, ServerRun
from bot.policy.gates import Infra, Sla

# SLA key -> (gate, what it is, whether larger is better)
_SLA = {
    "p50_ms": ("infra.latency.p50_ms", "p50 latency (ms)", False),
    "p95_ms": ("infra.latency.p95_ms", "p95 latency (ms)", False),
    "p99_ms": ("infra.latency.p99_ms", "p99 latency (ms)", False),
    "min_throughput_rps": ("infra.throughput_rps", "throughput (requests/s)", True),
}


def evaluate(infra: Infra, results: InfraResults) -> list[GateResult]:
    gates = [_api(results), _load(infra, results.candidate)]
    if infra.memory_mb is not None:
        gates.append(_memory(infra.memory_mb, results.candidate))
    if results.mode == "load":
        return gates
    if not results.candidate.loaded:
        return gates + [_skipped(name, "the candidate's server did not load") for name in _later(infra)]
    gates += [_query(results), _parity(infra, results)]
    if results.candidate.load is not None:
        gates += _latency(infra.sla, results.candidate, results.champion)
    if infra.replay:
        gates.append(_replay(results))
    return gates


def _later(infra: Infra) -> list[str]:
    names = ["infra.query", "infra.parity"]
    sla = infra.sla
    if infra.measures_load:
        names += [_SLA[k][0] for k, _ in sla.bounds()] + ["infra.error_rate"]
        names += ["infra.latency.p95_vs_champion"] if sla.max_p95_vs_champion is not None else []
    return names + (["infra.replay"] if infra.replay else [])


def _skipped(gate: str, reason: str) -> GateResult:
    return GateResult(gate, Status.SKIPPED, reason)


def _api(results: InfraResults) -> GateResult:
    api = results.api
    details = {"notes": list(api.notes)} if api.notes else {}
    if not api.checked:
        return GateResult("infra.api", Status.INCONCLUSIVE, "; ".join(api.notes) or "not checked", details=details)
    if api.problems:
        return GateResult(
            "infra.api",
            Status.FAIL,
            "; ".join(api.problems),
            len(api.problems),
            0,
            {**details, "problems": list(api.problems)},
        )
    return GateResult("infra.api", Status.PASS, "the candidate accepts what callers send today", 0, 0, details)


def _load(infra: Infra, run: ServerRun) -> GateResult:
    deadline = float(infra.load_deadline_s)
    tries = [a.as_dict() for a in run.attempts]
    if not run.loaded:
        return GateResult(
            "infra.load",
            Status.FAIL,
            run.failure or "did not load",
            None,
            deadline,
            {"tries": tries, "log_tail": list(run.log_tail)},
        )
    return GateResult(
        "infra.load",
        Status.PASS,
        f"healthy after {run.load_s:.1f} s (deadline {deadline:g} s, try {len(run.attempts)})",
        round(run.load_s or 0.0, 3),
        deadline,
        {"tries": tries},
    )


def _memory(limit_mb: int, run: ServerRun) -> GateResult:
    peak = run.peak_rss_mb
    if run.memory_exceeded:
        return GateResult(
            "infra.memory_mb",
            Status.FAIL,
            f"resident memory passed the limit of {limit_mb} MB; the server was killed",
            peak,
            limit_mb,
            {"log_tail": list(run.log_tail)},
        )
    if peak is None:
        return _skipped("infra.memory_mb", "no memory measured")
    return GateResult(
        "infra.memory_mb",
        Status.PASS,
        f"peak resident memory {peak:.0f} MB (limit {limit_mb} MB)",
        round(peak, 1),
        limit_mb,
    )


def _query(results: InfraResults) -> GateResult:
    query = results.query
    if query is None:
        return _skipped("infra.query", "not run")
    observed = f"{query.answered}/{query.requests}"
    if not query.ok:
        details: dict[str, Any] = {"problems": list(query.problems)}
        if results.candidate.death:
            details["log_tail"] = list(results.candidate.log_tail)
        return GateResult(
            "infra.query",
            Status.FAIL,
            f"{query.requests - query.answered} of {query.requests} requests failed: "
            f"{query.problems[0] if query.problems else 'no answer'}",
            observed,
            None,
            details,
        )
    return GateResult(
        "infra.query",
        Status.PASS,
        f"{query.requests} requests ({query.rows} rows) answered with the declared output",
        observed,
    )


def _parity(infra: Infra, results: InfraResults) -> GateResult:
    tolerance = float(infra.parity_tolerance)
    if results.parity_error:
        return GateResult("infra.parity", Status.FAIL, results.parity_error, None, tolerance)
    parity = results.parity
    if parity is None:
        return _skipped("infra.parity", "no served answers to compare (the query step failed)")
    if not parity.ok:
        return GateResult(
            "infra.parity",
            Status.FAIL,
            f"{parity.mismatches} of {parity.rows} rows differ between the server and in-process "
            f"(largest difference {parity.max_abs_diff:.3g}, tolerance {tolerance:g})",
            parity.mismatches,
            0,
            {"examples": [dict(e) for e in parity.examples]},
        )
    return GateResult(
        "infra.parity",
        Status.PASS,
        f"{parity.rows} rows: served answers equal in-process ones (largest difference "
        f"{parity.max_abs_diff:.3g}, tolerance {tolerance:g})",
        0,
        0,
        {"max_abs_diff": parity.max_abs_diff},
    )


def _latency(sla: Sla, run: ServerRun, champion: ServerRun | None) -> list[GateResult]:
    load = run.load
    assert load is not None
    gates = [_errors(float(sla.max_error_rate), run, load)]
    for key, limit in sla.bounds():
        gate, label, larger_is_better = _SLA[key]
        gates.append(_bound(gate, label, _observed(load, key), float(limit), larger_is_better, load))
    if sla.max_p95_vs_champion is not None:
        gates.append(_versus_champion(float(sla.max_p95_vs_champion), load, champion))
    return gates


def _observed(load: LoadResult, key: str) -> float | None:
    return load.throughput_rps if key == "min_throughput_rps" else getattr(load, key)


def _errors(limit: float, run: ServerRun, load: LoadResult) -> GateResult:
    details: dict[str, Any] = {"errors": dict(load.errors), "sent": load.sent}
    if load.aborted:
        details["log_tail"] = list(run.log_tail)
        return GateResult(
            "infra.error_rate",
            Status.FAIL,
            f"{load.aborted} (after {load.sent} requests)",
            round(load.error_rate, 4),
            limit,
            details,
        )
    status = Status.PASS if load.error_rate <= limit else Status.FAIL
    reason = f"{load.sent - load.ok} of {load.sent} requests failed (allowed {limit:.2%})"
    if load.first_error and status is Status.FAIL:
        reason += f"; first: {load.first_error}"
    return GateResult("infra.error_rate", status, reason, round(load.error_rate, 4), limit, details)


def _bound(
    gate: str, label: str, observed: float | None, threshold: float, larger_is_better: bool, load: LoadResult
) -> GateResult:
    if load.aborted or observed is None:
        return GateResult(gate, Status.INCONCLUSIVE, f"{label}: no complete load test to measure", None, threshold)
    ok = observed >= threshold if larger_is_better else observed <= threshold
    word = ">=" if larger_is_better else "<="
    return GateResult(
        gate,
        Status.PASS if ok else Status.FAIL,
        f"{label} {observed:.2f} at concurrency {load.concurrency} (required {word} {threshold:g})",
        round(observed, 3),
        threshold,
    )


def _versus_champion(limit: float, load: LoadResult, champion: ServerRun | None) -> GateResult:
    gate = "infra.latency.p95_vs_champion"
    if champion is None:
        return _skipped(gate, "no champion in this stage to compare with")
    theirs = champion.load
    if not champion.loaded or theirs is None or theirs.p95_ms is None or theirs.aborted:
        why = champion.failure or champion.death or (theirs.aborted if theirs else None) or "no measurement"
        return GateResult(gate, Status.INCONCLUSIVE, f"the champion could not be measured: {why}", None, limit)
    if load.p95_ms is None or load.aborted:
        return GateResult(gate, Status.INCONCLUSIVE, "the candidate's load test did not complete", None, limit)
    ratio = load.p95_ms / theirs.p95_ms
    status = Status.PASS if ratio <= limit else Status.FAIL
    return GateResult(
        gate,
        status,
        f"p95 {load.p95_ms:.2f} ms vs the champion's {theirs.p95_ms:.2f} ms in the "
        f"same run: {ratio:.2f}x (allowed {limit:g}x)",
        round(ratio, 3),
        limit,
        {"candidate_p95_ms": load.p95_ms, "champion_p95_ms": theirs.p95_ms},
    )


def _replay(results: InfraResults) -> GateResult:
    outcome = results.replay
    if outcome is None or outcome.problem:
        why = (outcome.problem if outcome else None) or "not run"
        return GateResult("infra.replay", Status.INCONCLUSIVE, why)
    mine = results.candidate.replay or {}
    details = {
        "candidate": mine,
        "champion": results.champion.replay if results.champion else None,
        "artifact": str(outcome.artifact) if outcome.artifact else None,
    }
    agreement = outcome.agreement
    rate = agreement.rate if agreement else None
    failed_alone = agreement.candidate_only_errors if agreement else mine.get("errors", 0)
    if failed_alone:
        return GateResult(
            "infra.replay",
            Status.FAIL,
            f"the candidate failed {failed_alone} of {outcome.requests} recorded requests"
            f"{' that the champion answered' if agreement else ''}: {mine.get('first_error')}",
            rate,
            None,
            details,
        )
    said = f"agreement with the champion {rate:.1%}" if rate is not None else "no champion answers to compare"
    return GateResult(
        "infra.replay",
        Status.PASS,
        f"{outcome.requests} recorded requests answered (p50 {mine.get('p50_ms')} ms); {said}",
        rate,
        None,
        details,
    )
