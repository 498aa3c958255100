"""Deploy what a push changed: for each (model, stage) whose version or rollout state differs between the push's
`before` and `after` revisions, run the deployers its stage's policy names, in order, then the smoke check.

Every run returns a record: per (model, stage) what each deployer did; on a failure, which deployer failed and
why, what had already been done, and which changes were not attempted (the run stops at the first failure so
nothing further moves on top of a broken step). A deployment that completed before (the ledger says so) is
skipped whole, so deploying the same commit again changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from bot import gitio
from bot.deploy import catalog, strategies
from bot.deploy.base import Deployer, Deployment, Ledger, Outcome, Recorder
from bot.errors import ModelbotError
from bot.evidence import GateResult, Status
from bot.history import pr_number
from bot.policy.deploy import DeployPolicy, LiveCheck
from bot.registry.diff import diff, rollout_steps
from bot.registry.model import Model, Registry
from bot.revision import git_reader, registry_or_none
from bot.workspace import REGISTRY_FILE, policies_at

Verifier = Callable[[Deployment, Model, str, LiveCheck | None], GateResult]
RecordStatus = Literal["deployed", "unchanged", "failed", "not_attempted", "superseded"]
NULL_SHA = "0" * 40


@dataclass(frozen=True)
class Change:
    """One (model, stage) to deploy: a stage transition, or (kind `step`) a change of its rollout state only."""

    model: str
    stage: str
    kind: str
    previous: str | None
    version: str | None
    state_before: Mapping[str, Any] | None = None
    state_after: Mapping[str, Any] | None = None

    def __str__(self) -> str:
        if self.kind == "step":
            return f"{self.model} {self.stage}: rollout step of {self.version}"
        return f"{self.model} {self.stage}: {self.previous or '-'} -> {self.version or '-'} ({self.kind})"


def changes(before: Registry | None, after: Registry) -> list[Change]:
    """Stage transitions, then rollout-state changes of stages whose version did not change."""

    def state(registry: Registry | None, model: str, stage: str) -> Mapping[str, Any] | None:
        found = registry.model(model) if registry else None
        return found.deployment.get(stage) if found else None

    steps = [t for t in rollout_steps(before, after) if t.stage in after.models[t.model].stages]
    return [
        Change(
            t.model,
            t.stage,
            t.kind,
            t.from_version,
            t.to_version,
            state(before, t.model, t.stage),
            state(after, t.model, t.stage),
        )
        for t in [*diff(before, after), *steps]
    ]


@dataclass(frozen=True)
class StepRecord:
    deployer: str
    status: str  # done, unchanged, skipped, failed
    detail: str
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployer": self.deployer,
            "status": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class TransitionRecord:
    change: Change
    status: RecordStatus
    deployment: Deployment | None = None
    steps: tuple[StepRecord, ...] = ()
    failed: str | None = None
    reason: str | None = None
    verify: GateResult | None = None

    @property
    def done(self) -> list[str]:
        return [s.deployer for s in self.steps if s.status in ("done", "unchanged")]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.change.model,
            "stage": self.change.stage,
            "kind": self.change.kind,
            "from": self.change.previous,
            "to": self.change.version,
            "status": self.status,
            "failed_deployer": self.failed,
            "reason": self.reason,
            "succeeded_deployers": self.done,
            "steps": [s.as_dict() for s in self.steps],
            "verify": self.verify.as_dict() if self.verify else None,
            "deployment": self.deployment.as_dict() if self.deployment else None,
        }


@dataclass(frozen=True)
class RunRecord:
    before: str | None
    after: str
    transitions: tuple[TransitionRecord, ...] = ()

    @property
    def ok(self) -> bool:
        return all(t.status in ("deployed", "unchanged", "superseded") for t in self.transitions)

    def named(self, *statuses: str) -> list[str]:
        return [
            f"{t.change.model} {t.change.stage} {t.change.version or '-'}"
            for t in self.transitions
            if t.status in statuses
        ]

    @property
    def failure(self) -> TransitionRecord | None:
        return next((t for t in self.transitions if t.status == "failed"), None)

    def as_dict(self) -> dict[str, Any]:
        failure = self.failure
        return {
            "ok": self.ok,
            "before": self.before,
            "after": self.after,
            "deployed": self.named("deployed"),
            "unchanged": self.named("unchanged"),
            "failed": None
            if failure is None
            else {
                "model": failure.change.model,
                "stage": failure.change.stage,
                "deployer": failure.failed,
                "reason": failure.reason,
                "succeeded_deployers": failure.done,
            },
            "not_attempted": self.named("not_attempted"),
            "superseded": self.named("superseded"),
            "transitions": [t.as_dict() for t in self.transitions],
        }


class Revisions:
    """models.yaml at revisions, parsed once each."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._cache: dict[str, Registry | None] = {}

    def at(self, rev: str | None) -> Registry | None:
        if rev is None:
            return None
        if rev not in self._cache:  # an invalid revision in the past set no state the bot deployed
            self._cache[rev] = registry_or_none(git_reader(self.repo, rev), rev)
        return self._cache[rev]

    def key_state(self, rev: str | None, model: str, stage: str) -> tuple[Any, ...]:
        return stage_state(self.at(rev), model, stage)


def stage_state(registry: Registry | None, model: str, stage: str) -> tuple[Any, ...]:
    """What a deploy of (model, stage) acts on: the version the stage holds and its rollout state."""
    held = registry.model(model) if registry else None
    if held is None:
        return (None, None)
    return (held.stages.get(stage), held.deployment.get(stage))


def _superseded(change: Change, new: Registry, tip: Registry | None) -> str | None:
    """Why a change is no longer the branch's state (a later push changed the stage again), else None: deploying
    it would move the stage away from what the branch holds, e.g. forward again after its rollback."""
    if tip is None:
        return None
    now = stage_state(tip, change.model, change.stage)
    if now == stage_state(new, change.model, change.stage):
        return None
    return (
        f"the branch has moved on: {change.model} {change.stage} is {now[0] or '-'} there now, "
        "and the deploy of that revision takes it there"
    )


def origin(
    repo: Path, before: str | None, after: str, model: str, stage: str, revisions: Revisions | None = None
) -> gitio.Commit:
    """The newest commit in before..after (first parent) that changed this stage's version or rollout state."""
    revs = revisions or Revisions(repo)
    span = f"{before}..{after}" if before else after
    for commit in gitio.log(repo, REGISTRY_FILE, span):
        parent = commit.parents[0] if commit.parents else None
        if revs.key_state(commit.sha, model, stage) != revs.key_state(parent, model, stage):
            return commit
    return gitio.commit(repo, after)


def _error(exc: BaseException) -> str:
    if isinstance(exc, ModelbotError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


@dataclass
class _Attempt:
    """One (model, stage) being deployed: the steps so far, and the first failure."""

    deployment: Deployment
    steps: list[StepRecord] = field(default_factory=list)
    failed: str | None = None
    reason: str | None = None
    verify: GateResult | None = None

    def run(self, name: str, action: Callable[[], Outcome]) -> bool:
        started = time.perf_counter()
        try:
            outcome = action()
        except Exception as exc:  # any deployer's failure, expected or not, must end up in the record
            if self.failed is None:
                self.failed, self.reason = name, _error(exc)
            self.steps.append(StepRecord(name, "failed", _error(exc), time.perf_counter() - started))
            return False
        self.steps.append(StepRecord(name, outcome.status, outcome.detail, time.perf_counter() - started))
        return True

    def summary(self, earlier: list[str]) -> str:
        d = self.deployment
        if self.failed is None:
            did = ", ".join(f"{s.deployer} {s.status}" for s in self.steps)
            return f"deployed {d.model} {d.stage} {d.version or '-'}: {did}"
        done = [s.deployer for s in self.steps if s.status in ("done", "unchanged")]
        text = f"{self.failed} failed: {self.reason}. Done before it: {', '.join(done) or 'nothing'}."
        if earlier:
            text += f" Deployed earlier in this run: {', '.join(earlier)}."
        return text


class Runner:
    """Deploys the changes between two revisions of a repository checkout."""

    def __init__(self, ctx: catalog.Context, run_url: str | None = None, verifier: Verifier | None = None) -> None:
        self.ctx = ctx
        self.run_url = run_url
        self.verifier = verifier

    def run(self, before: str | None, after: str, tip: Registry | None = None) -> RunRecord:
        """Deploy before..after. With `tip`, the registry at the branch's tip now, a change the branch has since
        undone or replaced is left alone (`superseded`): an old run never moves a stage off the branch's state."""
        repo = self.ctx.repo
        after_sha = gitio.resolve(repo, after)
        before_sha = None if before in (None, "", NULL_SHA) else gitio.resolve(repo, str(before))
        revisions = Revisions(repo)
        old, new = revisions.at(before_sha), revisions.at(after_sha)
        if new is None:
            raise ModelbotError(f"{REGISTRY_FILE} is missing or invalid at {after}; nothing to deploy")
        policies = policies_at(repo, after_sha)
        records: list[TransitionRecord] = []
        for change in changes(old, new):
            if any(r.status == "failed" for r in records):
                records.append(TransitionRecord(change, "not_attempted"))
                continue
            if (reason := _superseded(change, new, tip)) is not None:
                records.append(TransitionRecord(change, "superseded", reason=reason))
                continue
            earlier = [
                f"{r.change.model} {r.change.stage} {r.change.version or '-'}"
                for r in records
                if r.status == "deployed"
            ]
            records.append(self._one(change, old, new, policies, before_sha, after_sha, revisions, earlier))
        return RunRecord(before_sha, after_sha, tuple(records))

    def _deployment(
        self, change: Change, model: Model, deploy: DeployPolicy, commit: gitio.Commit, uris: Mapping[str, str]
    ) -> Deployment:
        rollout = strategies.target(
            deploy, change.kind, change.previous, change.version, change.state_before, change.state_after
        )
        previous = change.previous
        if change.kind == "step":  # the version the step takes traffic from: stable now, or stable before it
            was = strategies.from_state(change.state_before, change.version)
            previous = (rollout.stable if rollout else None) or (was.stable if was else None)
        return Deployment(
            model=change.model,
            stage=change.stage,
            version=change.version,
            previous=previous,
            commit=commit.sha,
            kind=change.kind,
            pr=pr_number(commit.subject),
            run_url=self.run_url,
            uri=uris.get(change.version or ""),
            previous_uri=uris.get(previous or ""),
            uris=uris,
            alias=self.ctx.alias_prefix + (deploy.alias or change.stage),
            state=rollout.as_state() if rollout else {},
            fallback=strategies.fallback(deploy, rollout),
        )

    def _one(
        self,
        change: Change,
        old: Registry | None,
        new: Registry,
        policies: Any,
        before: str | None,
        after: str,
        revisions: Revisions,
        earlier: list[str],
    ) -> TransitionRecord:
        model = new.model(change.model) or (old.model(change.model) if old else None)
        assert model is not None
        uris = {
            v.id: v.uri
            for m in (old.model(change.model) if old else None, new.model(change.model))
            if m
            for v in m.versions
        }
        try:
            policy = policies.resolve(model)
            if not policy.has_stage(change.stage):
                raise ModelbotError(f"stage '{change.stage}' is not in policy '{policy.name}'")
            deploy = policy.stage(change.stage).deploy
            commit = origin(self.ctx.repo, before, after, change.model, change.stage, revisions)
            deployment = self._deployment(change, model, deploy, commit, uris)
            deployers = catalog.build(deploy, self.ctx)
        except ModelbotError as exc:
            return TransitionRecord(change, "failed", failed="settings", reason=str(exc))
        if _completed(deployers, deployment):
            return TransitionRecord(
                change,
                "unchanged",
                deployment,
                (StepRecord("ledger", "unchanged", "this deployment completed before"),),
            )
        attempt = self._attempt(deployment, deployers, deploy, model, after)
        recorders = [d for d in deployers if isinstance(d, Recorder)]
        summary = attempt.summary(earlier)
        for recorder in recorders:
            ok = attempt.failed is None
            attempt.run(recorder.name, partial(recorder.finish, deployment, ok, summary))
        if attempt.failed is None:
            for ledger in (d for d in deployers if isinstance(d, Ledger)):
                attempt.run("ledger", partial(_marked, ledger, deployment))
        status: RecordStatus = "deployed" if attempt.failed is None else "failed"
        return TransitionRecord(
            change, status, deployment, tuple(attempt.steps), attempt.failed, attempt.reason, attempt.verify
        )

    def _attempt(
        self, deployment: Deployment, deployers: list[Deployer], deploy: DeployPolicy, model: Model, after: str
    ) -> _Attempt:
        attempt = _Attempt(deployment)
        recorders = [d for d in deployers if isinstance(d, Recorder)]
        for recorder in recorders:
            if not attempt.run(recorder.name, partial(recorder.begin, deployment)):
                return attempt
        for deployer in deployers:
            if deployer in recorders:
                continue
            if not attempt.run(deployer.name, partial(deployer.deploy, deployment)):
                return attempt
        wants_verify = deploy.verify and deployment.version is not None
        if wants_verify and self.verifier is not None and any(d.name == "mlflow-alias" for d in deployers):
            started = time.perf_counter()
            attempt.verify = self.verifier(deployment, model, after, deploy.live_check)
            detail, seconds = attempt.verify.reason, time.perf_counter() - started
            if attempt.verify.status == Status.FAIL:
                attempt.failed, attempt.reason = "verify", detail
                attempt.steps.append(StepRecord("verify", "failed", detail, seconds))
            else:
                attempt.steps.append(StepRecord("verify", "done", detail, seconds))
        return attempt


def _completed(deployers: list[Deployer], deployment: Deployment) -> bool:
    ledgers = [d for d in deployers if isinstance(d, Ledger)]
    try:
        return bool(ledgers) and all(ledger.completed(deployment) for ledger in ledgers)
    except Exception:  # cannot tell (MLflow down, say): deploy, and let that deployer record why it fails
        return False


def _marked(ledger: Ledger, deployment: Deployment) -> Outcome:
    ledger.mark_completed(deployment)
    return Outcome("done", f"ledger: {deployment.key}")
