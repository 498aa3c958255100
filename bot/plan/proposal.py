"""A promotion proposed locally: the minimal edit of models.yaml and the plan it must pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot import gitio
from bot.errors import GitError, ModelbotError, names
from bot.history import entered_at
from bot.plan.rules import Plan, plan
from bot.registry.edit import set_stage, text_diff
from bot.registry.model import version_key
from bot.workspace import REGISTRY_FILE, Snapshot


@dataclass(frozen=True)
class Proposal:
    model: str
    version: str
    stage: str
    old_text: str
    new_text: str
    plan: Plan

    @property
    def diff(self) -> str:
        return text_diff(self.old_text, self.new_text)


def _soak_clock(root: Path, text: str, model: str) -> dict[tuple[str, str], datetime]:
    """Stage entry times from git when the working tree's registry is the committed one; else unknown."""
    try:
        repo = gitio.toplevel(root)
        head = gitio.show(repo, "HEAD", REGISTRY_FILE)
    except GitError:
        return {}
    if head is None or head.decode("utf-8", "replace") != text:
        return {}
    from bot.registry.load import parse

    registry = parse(text)
    return entered_at(repo, "HEAD", [(model, s) for s in registry.models[model].stages])


def propose_locally(root: Path, snapshot: Snapshot, model: str, version: str, stage: str, now: datetime) -> Proposal:
    if model not in snapshot.registry.models:
        raise ModelbotError(f"model '{model}' is not in {REGISTRY_FILE}; known: {names(snapshot.registry.models)}")
    current = snapshot.registry.models[model]
    if current.stages.get(stage) == version_key(version):
        raise ModelbotError(f"{model} {stage} already serves version {version}; nothing to propose")
    new_text, after = set_stage(snapshot.text, model, stage, version)
    result = plan(
        snapshot.registry, after, snapshot.policies, now=now, entered_at=_soak_clock(root, snapshot.text, model)
    )
    return Proposal(model, version, stage, snapshot.text, new_text, result)
