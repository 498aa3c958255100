"""What every deployer receives (a Deployment), what it returns (an Outcome), and the protocols they share."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from bot.errors import ModelbotError

OutcomeStatus = Literal["done", "unchanged", "skipped"]


class DeployError(ModelbotError):
    """A deployer could not do its part; the message says what it tried and what went wrong."""


@dataclass(frozen=True)
class Fallback:
    """What serves when the stage's model errs or times out: a failover version, or a constant answer."""

    version: str | None = None
    constant: Any = None
    timeout_ms: float | None = None

    @property
    def configured(self) -> bool:
        return self.version is not None or self.constant is not None

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "constant": self.constant, "timeout_ms": self.timeout_ms}


@dataclass(frozen=True)
class Deployment:
    """One stage of one model moving to a new serving state, and where that change came from.

    `version` is the version the stage now holds (None: the stage serves nothing), `previous` the one it held.
    `state` is the rollout state (models.yaml `deployment.<stage>` shape: strategy, traffic, step, shadow,
    preview, ...); `commit` and `pr` are the change that asked for it; `run_url` the workflow run doing it.
    """

    model: str
    stage: str
    version: str | None
    previous: str | None
    commit: str
    kind: str = "promote"
    pr: int | None = None
    run_url: str | None = None
    uri: str | None = None
    previous_uri: str | None = None
    uris: Mapping[str, str] = field(default_factory=dict)
    alias: str = ""
    state: Mapping[str, Any] = field(default_factory=dict)
    fallback: Fallback = field(default_factory=Fallback)

    @property
    def environment(self) -> str:
        return f"{self.model}/{self.stage}"

    @property
    def stage_alias(self) -> str:
        return self.alias or self.stage

    @property
    def key(self) -> str:
        """Identifies this deployment: the same commit asking for the same state gives the same key."""
        digest = hashlib.sha256(json.dumps(dict(self.state), sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.model}:{self.stage}:{self.version or '-'}:{self.commit[:12]}:{digest}"

    def uri_of(self, version: str | None) -> str | None:
        return None if version is None else self.uris.get(version)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "model": self.model,
            "stage": self.stage,
            "environment": self.environment,
            "version": self.version,
            "previous": self.previous,
            "kind": self.kind,
            "commit": self.commit,
            "pr": self.pr,
            "run_url": self.run_url,
            "uri": self.uri,
            "previous_uri": self.previous_uri,
            "alias": self.stage_alias,
            "state": dict(self.state),
            "fallback": self.fallback.as_dict(),
        }


@dataclass(frozen=True)
class Outcome:
    """What one deployer did: `done` (changed something), `unchanged` (already so) or `skipped` (why)."""

    status: OutcomeStatus
    detail: str


class Deployer(Protocol):
    """A deployer does its part of a deployment, idempotently, or raises DeployError saying why it could not."""

    name: str

    def deploy(self, deployment: Deployment) -> Outcome: ...


@runtime_checkable
class Recorder(Protocol):
    """A deployer that records the whole deployment (GitHub's deployment record): it begins before every
    other deployer runs and finishes after them, with the run's summary."""

    name: str

    def begin(self, deployment: Deployment) -> Outcome: ...

    def finish(self, deployment: Deployment, ok: bool, summary: str) -> Outcome: ...


@runtime_checkable
class Ledger(Protocol):
    """A deployer that can remember that a deployment completed, so the same commit deploys only once."""

    name: str

    def completed(self, deployment: Deployment) -> bool: ...

    def mark_completed(self, deployment: Deployment) -> None: ...
