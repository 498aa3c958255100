"""A model card (Mitchell et al., "Model Cards for Model Reporting", 2019) for one model version, put together
from what the project already holds: models.yaml (intended use, owners, lineage, evaluation data and its
hash), a validation's evidence (metrics with intervals against champion and baseline, slices, robustness, data
checks), the policy's approvals and the stage history. Pure: `build` turns those values into the card's data
(report.json's sibling, `modelbot.card/1`), `markdown` renders it with templates/model_card.md.j2.

Known limits are not written by anyone: they are what the evidence could not clear (failed or inconclusive
gates, slices that failed, were unclear or too small to judge, model code that ran without isolation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.registry import Model
from bot.texts import render

SCHEMA = "modelbot.card/1"
TEMPLATE = "model_card.md.j2"
SLICES_SHOWN = 10
UNJUDGED = ("insufficient data", "undefined")


def _metrics(evidence: Mapping[str, Any]) -> tuple[int | None, list[dict[str, Any]]]:
    data = ((evidence.get("sections") or {}).get("metrics") or {}).get("data") or {}
    rows = []
    for name, found in (data.get("metrics") or {}).items():
        rows.append(
            {
                "metric": name,
                "greater_is_better": found.get("greater_is_better"),
                "candidate": found.get("candidate"),
                "champion": (found.get("champion") or {}).get("value"),
                "baseline": (found.get("baseline") or {}).get("value"),
                "vs_champion": found.get("candidate_minus_champion"),
                "vs_baseline": found.get("candidate_minus_baseline"),
            }
        )
    return data.get("rows"), rows


def _gates(evidence: Mapping[str, Any], *prefixes: str) -> list[dict[str, Any]]:
    return [
        {"gate": g.get("gate"), "status": g.get("status"), "reason": g.get("reason")}
        for g in evidence.get("gates") or []
        if str(g.get("gate", "")).startswith(prefixes)
    ]


def limits(evidence: Mapping[str, Any]) -> list[str]:
    """What the evidence could not clear, in words: failed and inconclusive gates, then slices."""
    found = [
        f"{g.get('gate')} {g.get('status')}: {g.get('reason')}"
        for g in evidence.get("gates") or []
        if g.get("status") in ("fail", "inconclusive")
    ]
    sliced = ((evidence.get("sections") or {}).get("slices") or {}).get("data") or {}
    for s in sliced.get("slices") or []:
        if s.get("status") in ("fail", "inconclusive", *UNJUDGED):
            found.append(f"slice {s.get('slice')} ({s.get('rows')} rows): {s.get('status')}")
    isolation = (evidence.get("inputs") or {}).get("isolation") or {}
    if isolation.get("level") == "none":
        found.append(f"model code ran without isolation during validation ({isolation.get('reason')})")
    return found


def build(
    model: Model,
    version: str,
    evidence: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] = (),
    approvals: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    recorded: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The card's data. `history` holds the stage changes (history.Event.as_dict, with `approvers` when read
    from GitHub); `approvals` the approvals the policy requires per stage; `recorded` where the evidence lives
    (an MLflow run, a workflow artifact)."""
    entry = model.version(version)
    if entry is None:
        known = ", ".join(v.id for v in model.versions) or "none"
        raise ValueError(f"model '{model.name}' has no version {version} in models.yaml; registered: {known}")
    ev = model.evaluation
    card: dict[str, Any] = {
        "schema": SCHEMA,
        "model": model.name,
        "version": entry.id,
        "details": {
            "task": model.task,
            "owners": list(model.owners),
            "uri": entry.uri,
            "run_id": entry.run_id,
            "created_at": entry.created_at,
            "created_by": entry.created_by,
            "description": entry.description,
            "serves": model.stage_of(entry.id),
        },
        "intended_use": model.description,
        "training": {
            "lineage": dict(entry.lineage),
            "metrics": dict(entry.training_metrics),
            "registered_metrics": dict(entry.metrics),
        },
        "evaluation_data": {
            "data": ev.data,
            "sha256": ev.sha256,
            "target": ev.target,
            "slices": list(ev.slices),
            "slice_crosses": [list(c) for c in ev.slice_crosses],
            "reference": {"data": ev.reference.data, "sha256": ev.reference.sha256} if ev.reference else None,
        },
        "validation": None,
        "metrics": [],
        "slices": None,
        "robustness": [],
        "data_checks": [],
        "limits": [],
        "approvals": {"required": {s: list(a) for s, a in (approvals or {}).items()}},
        "history": [dict(h) for h in history],
        "recorded": dict(recorded or {}),
    }
    if evidence is not None:
        rows, metric_rows = _metrics(evidence)
        inputs = evidence.get("inputs") or {}
        sliced = ((evidence.get("sections") or {}).get("slices") or {}).get("data") or {}
        card["validation"] = {
            "stage": evidence.get("stage"),
            "status": evidence.get("status"),
            "counts": evidence.get("counts"),
            "rows": rows,
            "champion": (inputs.get("champion") or {}).get("version"),
            "commit": (inputs.get("models_yaml") or {}).get("head"),
            "isolation": (inputs.get("isolation") or {}).get("level"),
        }
        card["metrics"] = metric_rows
        if sliced.get("slices"):
            card["slices"] = {
                "metric": sliced.get("metric"),
                "overall": sliced.get("overall"),
                "count": len(sliced["slices"]),
                "worst": list(sliced["slices"][:SLICES_SHOWN]),
            }
        card["robustness"] = _gates(evidence, "robustness.")
        card["data_checks"] = _gates(evidence, "data.")
        card["limits"] = limits(evidence)
    return card


def markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown (every value from people or models escaped by the template's filters)."""
    return render(TEMPLATE, card=card)
