"""diff(before, after): what changed between two revisions of models.yaml, as stage transitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from bot.registry.model import Model, Registry

Kind = Literal["promote", "rollback", "demote", "new_model", "retire", "step"]


@dataclass(frozen=True)
class Transition:
    """One stage of one model changing the version it serves.

    Kinds: `promote` (a newer version, a stage that had none, or any version that never served the stage),
    `rollback` (an older version, registered before the one it replaces, that served the stage before),
    `demote` (the stage is emptied), `new_model` (a stage of a model new to the file), `retire` (a stage
    of a model removed from the file). `step` is no version change but a change of the stage's rollout state
    (traffic weights of a canary, a mirror): see `rollout_steps`.
    """

    model: str
    stage: str
    from_version: str | None
    to_version: str | None
    kind: Kind

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.model} {self.stage}: {self.from_version or '-'} -> {self.to_version or '-'} ({self.kind})"


@dataclass(frozen=True)
class VersionChange:
    """A version entry that was added, removed or rewritten."""

    model: str
    version: str
    change: Literal["registered", "removed", "modified"]


Served = Mapping[tuple[str, str], frozenset[str]]


def _kind(model: Model, stage: str, old: str | None, new: str | None, served: Served | None) -> Kind:
    """A move back to an older version is a rollback only when that version served the stage before (`served`,
    from the base branch's history). With `served=None` (no history at hand: descriptions, the deploy's choice
    of strategy) registration age alone decides; never the position of a version in the file."""
    if new is None:
        return "demote"
    if old is None or not model.registered_before(new, old):
        return "promote"
    if served is not None and new not in served.get((model.name, stage), frozenset()):
        return "promote"
    return "rollback"


def diff(before: Registry | None, after: Registry, served: Served | None = None) -> list[Transition]:
    """Stage transitions from `before` to `after`, in file order of models then stages. `served` lists, per
    (model, stage), the versions that served it before (the authority for calling a transition a rollback)."""
    old_models = before.models if before else {}
    out: list[Transition] = []
    for name, model in after.models.items():
        old = old_models.get(name)
        if old is None:
            out.extend(Transition(name, s, None, v, "new_model") for s, v in model.stages.items() if v is not None)
            continue
        for stage in dict.fromkeys([*old.stages, *model.stages]):
            was, now = old.stages.get(stage), model.stages.get(stage)
            if was != now:
                out.append(Transition(name, stage, was, now, _kind(model, stage, was, now, served)))
    for name, old in old_models.items():
        if name not in after.models:
            out.extend(Transition(name, s, v, None, "retire") for s, v in old.stages.items() if v is not None)
    return out


def version_changes(before: Registry | None, after: Registry) -> list[VersionChange]:
    """Registrations, removals and rewrites of version entries (registered versions are meant to be immutable)."""
    old_models = before.models if before else {}
    out: list[VersionChange] = []
    for name, model in after.models.items():
        old = {v.id: v for v in old_models[name].versions} if name in old_models else {}
        for version in model.versions:
            if version.id not in old:
                out.append(VersionChange(name, version.id, "registered"))
            elif old[version.id] != version:
                out.append(VersionChange(name, version.id, "modified"))
        current = {v.id for v in model.versions}
        out.extend(VersionChange(name, vid, "removed") for vid in old if vid not in current)
    return out


def rollout_steps(before: Registry | None, after: Registry) -> list[Transition]:
    """Stages whose version stayed and whose deployment state changed (kind `step`): traffic moves too."""
    out: list[Transition] = []
    for name, model in after.models.items():
        old = before.model(name) if before else None
        if old is None:
            continue
        for stage in dict.fromkeys([*old.deployment, *model.deployment]):
            version = model.stages.get(stage)
            if old.stages.get(stage) == version and old.deployment.get(stage) != model.deployment.get(stage):
                out.append(Transition(name, stage, version, version, "step"))
    return out
