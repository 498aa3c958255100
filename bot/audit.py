"""The audit trail of a stage: each change from git history, with who approved its pull request and where its
evidence is, read from GitHub."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.approvals import Review, standing
from bot.github.forge import Forge
from bot.github.markers import marker
from bot.history import Event


def enrich(forge: Forge, found: Iterable[Event]) -> list[dict[str, Any]]:
    """Each event as data, plus `approvers` (standing approvals of its PR) and `evidence` (its report comment)."""
    out = []
    for event in found:
        record = event.as_dict()
        if event.pr is not None:
            reviews = [Review(r.author, r.state, r.commit_id or "") for r in forge.reviews(event.pr)]
            record["approvers"] = sorted(u for u, r in standing(reviews).items() if r.state == "APPROVED")
            t = event.transition
            report = forge.find_comment(event.pr, marker(t.model, t.stage, "report"))
            record["evidence"] = report.html_url if report else None
        out.append(record)
    return out
