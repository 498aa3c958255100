"""A rollback drill: promote, deploy, roll back, redeploy, on a throwaway copy of the repository, against the
real MLflow registry but only under `drill-` aliases, and report the time to restore and whether the stage's
alias ended on the version it held before.

Nothing the drill does reaches what serves: the repository is a clone in a temporary folder, aliases and tags
carry the `drill-` prefix, and the command, webhook and GitHub deployers are left out.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import gitio
from bot.deploy import rollback
from bot.deploy.catalog import Context
from bot.deploy.runner import Runner, RunRecord
from bot.deploy.verify import SmokeCheck
from bot.errors import ModelbotError, RefusedError
from bot.registry.edit import set_stage
from bot.workspace import REGISTRY_FILE, policies_at, registry_at

PREFIX = "drill-"
LEFT_OUT = frozenset({"command", "webhook", "github-deployment"})


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    detail: str


@dataclass
class Report:
    model: str
    stage: str
    previous: str
    candidate: str
    phases: list[Phase] = field(default_factory=list)
    alias_after: str | None = None
    ok: bool = False

    @property
    def time_to_restore_s(self) -> float:
        return sum(p.seconds for p in self.phases if p.name in ("rollback", "redeploy"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "model": self.model,
            "stage": self.stage,
            "previous": self.previous,
            "candidate": self.candidate,
            "alias_after": self.alias_after,
            "ended_on_previous": self.alias_after == self.previous,
            "time_to_restore_s": round(self.time_to_restore_s, 3),
            "phases": [{"name": p.name, "seconds": round(p.seconds, 3), "detail": p.detail} for p in self.phases],
        }


def _timed(report: Report, name: str, action: Callable[[], str]) -> None:
    started = time.perf_counter()
    detail = action()
    report.phases.append(Phase(name, time.perf_counter() - started, detail))


def _candidate(versions: list[str], current: str, chosen: str | None) -> str:
    if chosen is not None:
        if chosen not in versions or chosen == current:
            raise RefusedError(
                f"version {chosen} cannot be drilled: registered versions other than the current "
                f"{current} are {', '.join(v for v in versions if v != current) or 'none'}"
            )
        return chosen
    others = [v for v in versions if v != current]
    if not others:
        raise RefusedError(f"only version {current} is registered: a drill needs a second version to promote")
    return others[-1]


def _deployed(record: RunRecord) -> str:
    if not record.ok:
        failure = record.failure
        raise ModelbotError(
            f"the drill's deploy failed at {failure.failed if failure else '?'}: "
            f"{failure.reason if failure else record.as_dict()}"
        )
    return "; ".join(f"{t.change}: {t.status}" for t in record.transitions)


def drill(
    repo: Path,
    model: str,
    stage: str,
    tracking_uri: str | None,
    version: str | None = None,
    verify: bool = True,
    alias_of: Callable[[str], str | None] | None = None,
) -> Report:
    """Run the drill in a clone of `repo` at HEAD; `alias_of(alias)` reads where an MLflow alias points."""
    head = gitio.resolve(repo, "HEAD")
    found = registry_at(repo, head)
    held = found.registry.model(model) if found else None
    if held is None or held.stages.get(stage) is None:
        raise RefusedError(f"{model} has no version in '{stage}' at HEAD: a drill starts from a serving stage")
    current = str(held.stages[stage])
    candidate = _candidate([v.id for v in held.versions], current, version)
    report = Report(model, stage, current, candidate)
    with tempfile.TemporaryDirectory(prefix="modelbot-drill-") as tmp:
        clone = Path(tmp) / "repo"
        gitio.git(Path(tmp), "clone", "--quiet", "--no-hardlinks", str(repo), str(clone))
        ctx = Context(repo=clone, tracking_uri=tracking_uri, alias_prefix=PREFIX, skip=LEFT_OUT)
        runner = Runner(ctx, verifier=SmokeCheck(tracking_uri, clone) if verify else None)
        identity = rollback.BOT_IDENTITY

        def promote() -> str:
            text, _ = set_stage((clone / REGISTRY_FILE).read_text(encoding="utf-8"), model, stage, candidate)
            (clone / REGISTRY_FILE).write_text(text, encoding="utf-8")
            gitio.git(clone, *identity, "commit", "-q", "-am", f"Drill: promote {model} {candidate} to {stage}")
            return f"{stage}: {current} -> {candidate}"

        _timed(report, "promote", promote)
        _timed(report, "deploy", lambda: _deployed(runner.run(head, "HEAD")))
        promoted = gitio.resolve(clone, "HEAD")

        def roll_back() -> str:
            target = rollback.find(clone, model, stage)
            sha = rollback.revert_local(clone, target)
            return f"reverted {target.commit[:12]} in {sha[:12]}"

        _timed(report, "rollback", roll_back)
        _timed(report, "redeploy", lambda: _deployed(runner.run(promoted, "HEAD")))
    alias = PREFIX + str(policies_at(repo, head).resolve(held).stage(stage).deploy.alias or stage)
    report.alias_after = alias_of(alias) if alias_of else None
    report.ok = report.alias_after == current
    return report
