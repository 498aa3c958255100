"""What the gateway serves: every (model, stage) of models.yaml at one git revision, with its rollout.

The rollout running in a stage is read the way `advance` reads it (the newest commit that changed the stage's
version or rollout state, with the policy's strategy), so the gateway serves exactly the step `advance` judges
and the manifests describe. Reading is pure git: no model is loaded here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import gitio
from bot.deploy import strategies
from bot.deploy.base import Fallback
from bot.errors import ModelbotError, RefusedError
from bot.policy.deploy import DeployPolicy
from bot.workspace import policies_at, registry_at


@dataclass(frozen=True)
class Plan:
    """One (model, stage): the live arms and their weights, and what is shadowed, previewed and falls back.

    `traffic` is ordered stable first, candidate last; `uris` maps every version in use to its registry URI.
    """

    model: str
    stage: str
    strategy: str
    candidate: str
    traffic: tuple[tuple[str, float], ...]
    uris: Mapping[str, str]
    stable: str | None = None
    shadow: str | None = None
    mirror_percent: float = 100.0
    preview: str | None = None
    sticky_key: str | None = None
    fallback: Fallback = field(default_factory=Fallback)

    @property
    def live(self) -> tuple[str, ...]:
        return tuple(v for v, w in self.traffic if w > 0)

    @property
    def versions(self) -> tuple[str, ...]:
        """Every version this stage needs a backend for, live ones first."""
        extra = (self.shadow, self.preview, self.fallback.version)
        found = [*self.live, *(v for v in extra if v is not None)]
        return tuple(dict.fromkeys(found))

    def arm(self, version: str) -> str:
        """The metric label of a live version: `candidate` (the version the stage holds) or `stable`."""
        return "candidate" if version == self.candidate else "stable"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "stage": self.stage,
            "strategy": self.strategy,
            "candidate": self.candidate,
            "stable": self.stable,
            "traffic": {v: w for v, w in self.traffic},
            "shadow": self.shadow,
            "mirror_percent": self.mirror_percent if self.shadow else None,
            "preview": self.preview,
            "sticky_key": self.sticky_key,
            "fallback": self.fallback.as_dict(),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.as_dict(),
            "traffic": [list(t) for t in self.traffic],
            "mirror_percent": self.mirror_percent,
            "uris": dict(self.uris),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Plan:
        fb = raw["fallback"]
        return cls(
            raw["model"],
            raw["stage"],
            raw["strategy"],
            raw["candidate"],
            tuple((str(v), float(w)) for v, w in raw["traffic"]),
            dict(raw["uris"]),
            raw["stable"],
            raw["shadow"],
            float(raw["mirror_percent"]),
            raw["preview"],
            raw["sticky_key"],
            Fallback(fb["version"], fb["constant"], fb["timeout_ms"]),
        )


@dataclass(frozen=True)
class ServingState:
    """Everything served at one commit of the registry repository."""

    commit: str
    plans: Mapping[tuple[str, str], Plan]
    problems: tuple[str, ...] = ()

    def plan(self, model: str, stage: str) -> Plan | None:
        return self.plans.get((model, stage))

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "plans": [p.to_json() for p in self.plans.values()],
            "problems": list(self.problems),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ServingState:
        plans = [Plan.from_json(p) for p in raw["plans"]]
        return cls(raw["commit"], {(p.model, p.stage): p for p in plans}, tuple(raw["problems"]))

    def backends(self) -> dict[str, tuple[str, str]]:
        """URI → (model, version) of every backend the state needs: one process per model artifact, shared by
        the stages (and models.yaml entries) that serve it."""
        out: dict[str, tuple[str, str]] = {}
        for plan in self.plans.values():
            for version in plan.versions:
                out.setdefault(plan.uris[version], (plan.model, version))
        return out


def _plan(
    model_name: str, stage: str, rollout: strategies.Rollout, deploy: DeployPolicy, uris: Mapping[str, str]
) -> Plan:
    order = [v for v in rollout.traffic if v != rollout.candidate] + [
        v for v in rollout.traffic if v == rollout.candidate
    ]
    traffic = tuple((v, float(rollout.traffic[v])) for v in order)
    fallback = strategies.fallback(deploy, rollout)
    missing = [
        v for v in (*order, rollout.shadow, rollout.preview, fallback.version) if v is not None and v not in uris
    ]
    if missing:
        raise ModelbotError(f"{model_name} {stage}: version {missing[0]} is not registered in models.yaml")
    mirror = rollout.mirror_percent if rollout.mirror_percent is not None else deploy.rollout.mirror_percent
    return Plan(
        model_name,
        stage,
        rollout.strategy,
        rollout.candidate,
        traffic,
        dict(uris),
        rollout.stable,
        rollout.shadow,
        float(mirror),
        rollout.preview,
        rollout.sticky_key,
        fallback,
    )


def read(repo: Path, ref: str) -> ServingState:
    """The serving state at `ref`. A stage whose rollout cannot be read is left out and named in `problems`
    (the gateway keeps serving the rest)."""
    from bot.deploy.advance import current

    sha = gitio.resolve(repo, ref)
    found = registry_at(repo, sha)
    if found is None:
        raise ModelbotError(f"models.yaml does not exist at {ref} ({sha[:12]}) in {repo}")
    policies = policies_at(repo, sha)
    plans: dict[tuple[str, str], Plan] = {}
    problems: list[str] = []
    for model in found.registry.models.values():
        uris = {v.id: v.uri for v in model.versions}
        for stage, held in model.stages.items():
            if held is None:
                continue
            try:
                running = current(repo, model.name, stage, sha)
                plans[(model.name, stage)] = _plan(model.name, stage, running.rollout, running.deploy, uris)
            except RefusedError:
                deploy = policies.resolve(model).stage(stage).deploy
                plans[(model.name, stage)] = _plan(model.name, stage, strategies.direct(held), deploy, uris)
            except ModelbotError as exc:
                problems.append(str(exc))
    return ServingState(sha, plans, tuple(problems))


def read_apart(repo: Path, ref: str, timeout_s: float = 120.0) -> ServingState:
    """`read` in a process of its own: parsing models.yaml along the history is CPU work that, in the
    gateway's process, would hold the interpreter lock away from the requests being served."""
    proc = subprocess.run(
        [sys.executable, "-m", "bot.serving.state", str(repo), ref], capture_output=True, timeout=timeout_s, check=False
    )
    try:
        found = json.loads(proc.stdout)
    except ValueError:
        said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ModelbotError(f"reading the serving state at {ref} failed: {said[-1] if said else 'no output'}") from None
    if "error" in found:
        raise ModelbotError(str(found["error"]))
    return ServingState.from_json(found)


def main(argv: list[str]) -> int:
    repo, ref = argv
    try:
        print(json.dumps(read(Path(repo), ref).to_json()))
    except ModelbotError as exc:
        print(json.dumps({"error": str(exc)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
