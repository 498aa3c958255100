"""The registry as typed, read-only values: what models.yaml says, validated once at the boundary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TASKS = ("binary_classification", "multiclass_classification", "regression")


def version_key(value: object) -> str:
    """Version ids compare as text: `7` and `"7"` name the same version."""
    return str(value)


@dataclass(frozen=True)
class Dataset:
    data: str
    sha256: str


@dataclass(frozen=True)
class Evaluation:
    data: str
    sha256: str
    target: str
    slices: tuple[str, ...] = ()
    slice_crosses: tuple[tuple[str, str], ...] = ()
    reference: Dataset | None = None
    replay: Dataset | None = None


@dataclass(frozen=True)
class Version:
    id: str
    uri: str
    created_at: str
    created_by: str
    run_id: str | None = None
    description: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    training_metrics: Mapping[str, float] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)


def registration_key(version: Version) -> tuple[float, int, int | str]:
    """How versions sort by registration: time first (unparseable times sort first), then the identifier."""
    try:
        when = datetime.fromisoformat(version.created_at.replace("Z", "+00:00"))
        stamp = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    except ValueError:
        stamp = float("-inf")
    return (stamp, 0, int(version.id)) if version.id.isdigit() else (stamp, 1, version.id)


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    owners: tuple[str, ...]
    task: str
    policy: str
    evaluation: Evaluation
    versions: tuple[Version, ...]
    stages: Mapping[str, str | None]
    deployment: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def version(self, version_id: object) -> Version | None:
        key = version_key(version_id)
        return next((v for v in self.versions if v.id == key), None)

    def registered_before(self, a: object, b: object) -> bool:
        """True when version `a` was registered before version `b`: by their registration times, then by their
        identifiers (numerically where both are numbers). Never by their position in the file, which any
        editor can change."""
        first, second = self.version(a), self.version(b)
        if first is None or second is None:
            return False
        return registration_key(first) < registration_key(second)

    def stage_of(self, version_id: object) -> list[str]:
        key = version_key(version_id)
        return [stage for stage, held in self.stages.items() if held == key]


@dataclass(frozen=True)
class Registry:
    models: Mapping[str, Model]
    file: str = "models.yaml"

    def model(self, name: str) -> Model | None:
        return self.models.get(name)
