"""A promotion policy as typed, read-only values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.policy.deploy import DeployPolicy
from bot.policy.gates import Gates
from bot.policy.roles import Approval, Role

OWNERS_ROLE = "model-owners"
DEFAULT_MODEL_URIS = ("models", "runs")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class StagePolicy:
    name: str
    allow_skip: bool = False
    soak: timedelta | None = None
    gates: Gates = field(default_factory=Gates)
    approvals: tuple[Approval, ...] = ()
    inconclusive_approvals: tuple[Approval, ...] = ()
    deploy: DeployPolicy = field(default_factory=DeployPolicy)

    @property
    def strategy(self) -> str:
        return self.deploy.strategy

    @property
    def deployers(self) -> tuple[str, ...]:
        return self.deploy.deployer_names


@dataclass(frozen=True)
class Freeze:
    reason: str
    start: datetime | None = None
    end: datetime | None = None
    weekdays: frozenset[int] = frozenset()
    stages: tuple[str, ...] | None = None

    def covers(self, now: datetime, stage: str) -> bool:
        if self.stages is not None and stage not in self.stages:
            return False
        if self.start is not None and self.end is not None:
            return self.start <= now < self.end
        return now.weekday() in self.weekdays


@dataclass(frozen=True)
class RollbackRules:
    roles: tuple[str, ...] = ()
    approvals: tuple[Approval, ...] | None = None  # None: the stage's; () says a rollback needs no approval
    gates: Gates | None = None
    auto_merge: bool = False
    during_freeze: bool = True


@dataclass(frozen=True)
class Source:
    """A file a policy was read from, and its hash for the evidence record."""

    file: str
    sha256: str


@dataclass(frozen=True)
class Policy:
    name: str
    stages: tuple[StagePolicy, ...]
    roles: Mapping[str, Role] = field(default_factory=dict)
    admin_role: str | None = None
    model_uris: tuple[str, ...] = DEFAULT_MODEL_URIS
    freeze: tuple[Freeze, ...] = ()
    rollback: RollbackRules = field(default_factory=RollbackRules)
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[Source, ...] = ()

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def stage(self, name: str) -> StagePolicy:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def has_stage(self, name: str) -> bool:
        return name in self.stage_names

    def previous_stage(self, name: str) -> str | None:
        index = self.stage_names.index(name)
        return self.stage_names[index - 1] if index > 0 else None

    def frozen(self, stage: str, now: datetime) -> Freeze | None:
        return next((f for f in self.freeze if f.covers(now, stage)), None)

    def role_members(self, role: str, owners: tuple[str, ...] = ()) -> Role:
        """Members of a role; the built-in `model-owners` role is the model's owners."""
        if role == OWNERS_ROLE:
            users = frozenset(o for o in owners if not o.startswith("@"))
            teams = tuple(o[1:] for o in owners if o.startswith("@"))
            return Role(role, users, teams)
        return self.roles.get(role, Role(role))


def uri_problem(uri: str, schemes: tuple[str, ...]) -> str | None:
    """Why a version's `uri` may not be loaded, or None. Only the tracking server's own stores are allowed: a
    `scheme:/path` URI of an allowed scheme, with no authority (`models://profile@host/...` names another
    server) and no parent steps."""
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme not in schemes or not rest.startswith("/") or rest.startswith("//") or "/../" in f"{rest}/":
        allowed = ", ".join(f"{s}:/..." for s in schemes)
        return (
            f"uri '{uri}' is not an allowed model URI (the policy allows {allowed} on the tracking server); "
            "register the model in MLflow and use its models:/NAME/VERSION URI"
        )
    return None
