"""Reading policies/: strict YAML, the shipped schema, `extends`, per-model overrides and cross-checks."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import schema, yamlio
from bot.errors import InvalidFile, Location, Problem, names
from bot.policy import deploy
from bot.policy.gates import Gates
from bot.policy.model import (
    DEFAULT_MODEL_URIS,
    OWNERS_ROLE,
    WEEKDAYS,
    Freeze,
    Policy,
    RollbackRules,
    Source,
    StagePolicy,
)
from bot.policy.roles import Approval, Role

POLICY_DIR = "policies"
DEFAULT_POLICY = "default"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class RawPolicy:
    name: str
    file: str
    data: Mapping[str, Any]
    text: str
    sha256: str


@dataclass
class Policies:
    """Every policy file of a repository revision, resolved on demand per model."""

    raw: Mapping[str, RawPolicy]
    _cache: dict[tuple[str, str | None], Policy] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.raw)

    def get(self, name: str, model: str | None = None) -> Policy:
        """The policy `name`, with `extends` applied and, for `model`, its overrides merged in."""
        key = (name, model)
        if key not in self._cache:
            if name not in self.raw:
                raise InvalidFile(
                    [
                        Problem(
                            Location(f"{POLICY_DIR}/{name}.yaml"),
                            f"policy '{name}' does not exist; known: {names(self.names)}",
                        )
                    ]
                )
            self._cache[key] = build(self, name, model)
        return self._cache[key]

    def resolve(self, model: Any) -> Policy:
        """The policy a registry Model names, with its per-model overrides."""
        return self.get(model.policy, model.name)

    def fingerprint(self) -> str:
        """One hash over every policy file, to tell whether two revisions' policies differ."""
        digest = hashlib.sha256()
        for name in sorted(self.raw):
            digest.update(f"{name}\0{self.raw[name].sha256}\0".encode())
        return digest.hexdigest()


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw])", text)
    if not match:
        raise ValueError(f"invalid duration {text!r}; expected e.g. 30m, 24h, 2d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add Z or +00:00")
    return value.astimezone(UTC)


def parse_files(files: Mapping[str, bytes]) -> Policies:
    """Policy files by path (e.g. 'policies/default.yaml') to Policies; every problem located."""
    raw: dict[str, RawPolicy] = {}
    problems: list[Problem] = []
    for path, content in sorted(files.items()):
        name = Path(path).stem
        try:
            text = yamlio.decode(content, path)
            data = yamlio.load(text, path)
        except InvalidFile as exc:
            problems.extend(exc.problems)
            continue
        locate = yamlio.Locator(text, path)
        if not isinstance(data, dict):
            problems.append(Problem(locate([]), "expected a mapping with at least 'version: 1'"))
            continue
        found = schema.problems("policy", data, locate)
        if found:
            problems.extend(found)
            continue
        raw[name] = RawPolicy(name, path, data, text, hashlib.sha256(content).hexdigest())
    if problems:
        raise InvalidFile(problems)
    policies = Policies(raw)
    problems = [p for name in raw for p in semantic_problems(policies, name)]
    if problems:
        raise InvalidFile(problems)
    return policies


def read_policies(read: Callable[[str], bytes | None], names: Iterable[str]) -> Policies:
    """The named policies and every policy they extend, fetched one file at a time through `read(path)`.

    For readers without a directory listing, such as the GitHub contents API at the base branch's SHA: only the
    files a plan needs are fetched, and `default` is always among them (it names the admin role)."""
    files: dict[str, bytes] = {}
    pending = [DEFAULT_POLICY, *names]
    while pending:
        name = pending.pop()
        path = f"{POLICY_DIR}/{name}.yaml"
        if path in files:
            continue
        content = read(path)
        if content is None:
            continue
        files[path] = content
        try:
            data = yamlio.load(yamlio.decode(content, path), path)
        except InvalidFile:
            continue
        if isinstance(data, dict) and isinstance(data.get("extends"), str):
            pending.append(data["extends"])
    return parse_files(files)


def load_policies(repo: Path) -> Policies:
    """policies/*.yaml of a working tree."""
    folder = Path(repo) / POLICY_DIR
    if not folder.is_dir():
        raise InvalidFile(
            [
                Problem(
                    Location(f"{POLICY_DIR}/"),
                    f"no {POLICY_DIR}/ directory in {repo}; expected at least {POLICY_DIR}/{DEFAULT_POLICY}.yaml",
                )
            ]
        )
    files = {
        f"{POLICY_DIR}/{p.name}": p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.suffix in (".yaml", ".yml") and p.is_file()
    }
    return parse_files(files)


ATOMIC_KEYS = frozenset({"gates"})


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; lists, scalars and a stage's `gates` in `over` replace.

    `gates` replace whole so that an override reads complete: what it lists is exactly what is checked,
    never a mix with thresholds inherited for metrics of another task.
    """
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if key not in ATOMIC_KEYS and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def chain(policies: Policies, name: str) -> list[RawPolicy]:
    """The `extends` chain of a policy, base first; a cycle or a missing base is an error."""
    seen: list[str] = []
    current: str | None = name
    while current is not None:
        if current in seen:
            raise InvalidFile(
                [
                    Problem(
                        Location(policies.raw[name].file, path="extends"),
                        f"'extends' forms a cycle: {' -> '.join([*seen, current])}",
                    )
                ]
            )
        if current not in policies.raw:
            raise InvalidFile(
                [
                    Problem(
                        Location(policies.raw[seen[-1]].file, path="extends"),
                        f"extends '{current}', which does not exist in {POLICY_DIR}/",
                    )
                ]
            )
        seen.append(current)
        current = policies.raw[current].data.get("extends")
    return [policies.raw[n] for n in reversed(seen)]


def merged_data(policies: Policies, name: str, model: str | None) -> tuple[dict[str, Any], list[RawPolicy]]:
    parts = chain(policies, name)
    data: dict[str, Any] = {}
    for part in parts:
        data = merge(data, {k: v for k, v in part.data.items() if k != "extends"})
    if model is not None:
        data = merge(data, data.get("overrides", {}).get(model, {}))
    return data, parts


def _approvals(items: list[Mapping[str, Any]] | None) -> tuple[Approval, ...]:
    return tuple(Approval(i["role"], int(i["count"])) for i in items or ())


def parse_deploy(raw: Mapping[str, Any], rollout: Mapping[str, Any] | None = None) -> deploy.DeployPolicy:
    """A stage's schema-valid `deploy` and `rollout` sections as typed values."""
    return deploy.parse(raw, rollout or {}, parse_duration, _approvals)


def _stage(name: str, raw: Mapping[str, Any]) -> StagePolicy:
    return StagePolicy(
        name=name,
        allow_skip=bool(raw.get("allow_skip", False)),
        soak=parse_duration(raw["soak"]) if raw.get("soak") else None,
        gates=Gates.of(raw.get("gates", {})),
        approvals=_approvals(raw.get("approvals")),
        inconclusive_approvals=_approvals(raw.get("inconclusive_approvals")),
        deploy=parse_deploy(raw.get("deploy", {}), raw.get("rollout")),
    )


def _freeze(raw: Mapping[str, Any]) -> Freeze:
    return Freeze(
        reason=raw["reason"],
        start=parse_time(raw["start"]) if "start" in raw else None,
        end=parse_time(raw["end"]) if "end" in raw else None,
        weekdays=frozenset(WEEKDAYS.index(d) for d in raw.get("weekdays", ())),
        stages=tuple(raw["stages"]) if "stages" in raw else None,
    )


def build(policies: Policies, name: str, model: str | None) -> Policy:
    data, parts = merged_data(policies, name, model)
    rollback = data.get("rollback", {})
    return Policy(
        name=name,
        stages=tuple(_stage(stage, raw) for stage, raw in data.get("stages", {}).items()),
        roles={
            r: Role(r, frozenset(v.get("users", ())), tuple(v.get("teams", ())))
            for r, v in data.get("roles", {}).items()
        },
        admin_role=data.get("admin_role"),
        model_uris=tuple(data.get("model_uris", DEFAULT_MODEL_URIS)),
        freeze=tuple(_freeze(f) for f in data.get("freeze", ())),
        rollback=RollbackRules(
            roles=tuple(rollback.get("roles", ())),
            approvals=_approvals(rollback["approvals"]) if "approvals" in rollback else None,
            gates=Gates.of(rollback["gates"]) if "gates" in rollback else None,
            auto_merge=bool(rollback.get("auto_merge", False)),
            during_freeze=bool(rollback.get("during_freeze", True)),
        ),
        commands={verb: tuple(roles) for verb, roles in data.get("commands", {}).items()},
        sources=tuple(Source(p.file, p.sha256) for p in parts),
    )


def semantic_problems(policies: Policies, name: str) -> list[Problem]:
    """Cross-references the schema cannot check: roles named exist, freeze times parse, stages exist."""
    raw = policies.raw[name]
    locate = yamlio.Locator(raw.text, raw.file)
    try:
        data, _ = merged_data(policies, name, None)
    except InvalidFile as exc:
        return exc.problems
    found: list[Problem] = []
    roles = set(data.get("roles", {})) | {OWNERS_ROLE}
    stages = data.get("stages", {})
    if not stages:
        found.append(
            Problem(locate(["stages"]), "a policy needs at least one stage (here or in the policy it extends)")
        )

    def need_role(path: list[str | int], role: str) -> None:
        if role not in roles:
            found.append(
                Problem(locate(path), f"role '{role}' is not defined under 'roles' (known: {', '.join(sorted(roles))})")
            )

    for stage, spec in stages.items():
        for key in ("approvals", "inconclusive_approvals"):
            for i, item in enumerate(spec.get(key, [])):
                need_role(["stages", stage, key, i, "role"], item["role"])
        for i, item in enumerate((spec.get("rollout") or {}).get("approvals", [])):
            need_role(["stages", stage, "rollout", "approvals", i, "role"], item["role"])
        steps = (spec.get("rollout") or {}).get("steps", [])
        if "shadow" in steps[1:]:
            found.append(
                Problem(
                    locate(["stages", stage, "rollout", "steps"]),
                    "`shadow` can only be the first step: a candidate that already serves traffic is not shadowed",
                )
            )
        weights = [w for w in steps if w != "shadow"]
        if weights != sorted(weights) or len(set(weights)) != len(weights):
            found.append(
                Problem(locate(["stages", stage, "rollout", "steps"]), "canary weights must rise step by step")
            )
    rollback = data.get("rollback", {})
    for i, role in enumerate(rollback.get("roles", [])):
        need_role(["rollback", "roles", i], role)
    for i, item in enumerate(rollback.get("approvals", [])):
        need_role(["rollback", "approvals", i, "role"], item["role"])
    for verb, verb_roles in data.get("commands", {}).items():
        for i, role in enumerate(verb_roles):
            need_role(["commands", verb, i], role)
    if data.get("admin_role"):
        need_role(["admin_role"], data["admin_role"])
    for i, item in enumerate(data.get("freeze", [])):
        found.extend(_freeze_problems(locate, i, item, stages))
    for model, over in data.get("overrides", {}).items():
        for stage in over.get("stages", {}):
            if stage not in stages:
                found.append(
                    Problem(
                        locate(["overrides", model, "stages", stage]),
                        f"override for stage '{stage}', which the policy does not define (stages: {', '.join(stages)})",
                    )
                )
    return found


def _freeze_problems(
    locate: yamlio.Locator, index: int, item: Mapping[str, Any], stages: Mapping[str, Any]
) -> list[Problem]:
    found: list[Problem] = []
    times = {}
    for key in ("start", "end"):
        if key in item:
            try:
                times[key] = parse_time(item[key])
            except ValueError as exc:
                found.append(Problem(locate(["freeze", index, key]), f"{exc}; expected e.g. 2026-12-20T00:00:00Z"))
    if len(times) == 2 and times["end"] <= times["start"]:
        found.append(Problem(locate(["freeze", index]), "freeze window ends before it starts"))
    for j, stage in enumerate(item.get("stages", [])):
        if stage not in stages:
            found.append(Problem(locate(["freeze", index, "stages", j]), f"unknown stage '{stage}'"))
    return found
