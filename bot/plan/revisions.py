"""The plan of a change between two git revisions: reads both sides and the base's policies, then asks the
pure planner."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot import gitio
from bot.errors import ModelbotError
from bot.history import entered_at
from bot.plan.rules import Plan, plan
from bot.registry.diff import diff
from bot.workspace import policies_at, registry_at


def plan_revisions(repo: Path, base: str, head: str, now: datetime) -> Plan:
    base_sha, head_sha = gitio.resolve(repo, base), gitio.resolve(repo, head)
    before = registry_at(repo, base_sha)
    after = registry_at(repo, head_sha)
    if after is None:
        raise ModelbotError(f"models.yaml does not exist at {head}")
    base_policies = policies_at(repo, base_sha)
    head_policies = policies_at(repo, head_sha)
    keys: set[tuple[str, str]] = set()
    if before is not None:
        for t in diff(before.registry, after.registry):
            model = before.registry.model(t.model)
            if model is not None:
                keys.update((t.model, stage) for stage in model.stages)
    soak_from = entered_at(repo, base_sha, keys) if before is not None else {}
    return plan(
        before.registry if before else None,
        after.registry,
        base_policies,
        now=now,
        entered_at=soak_from,
        head_policies=head_policies,
    )
