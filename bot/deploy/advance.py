"""`advance`: take a rollout to its next step when the analysis passes, hold it when traffic is too thin, and
abort it with a revert of the promotion when the analysis fails.

The current step is read from git, not trusted from the file alone: the newest commit that changed the
stage's version or rollout state says which rollout is running (a state older than the last stage change
belongs to an earlier rollout). Each step is one commit to models.yaml, so a revert undoes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bot import gitio
from bot.deploy import rollback, strategies
from bot.deploy.analysis import Timing, analyse
from bot.deploy.runner import Revisions, changes
from bot.deploy.traffic import MetricsSource
from bot.errors import RefusedError
from bot.evidence import GateResult, Status, overall
from bot.policy.deploy import DeployPolicy
from bot.registry.edit import set_deployment
from bot.workspace import REGISTRY_FILE, policies_at

if TYPE_CHECKING:
    from bot.github.forge import Forge, OnHead

Decision = Literal["advanced", "completed", "halted", "aborted"]


@dataclass(frozen=True)
class Current:
    rollout: strategies.Rollout
    since: datetime  # when the step began (the commit that started it)
    commit: str
    deploy: DeployPolicy
    started: datetime  # when the rollout began (the commit that changed the stage's version)


def current(repo: Path, model: str, stage: str, rev: str = "HEAD") -> Current:
    """The rollout running in (model, stage) at `rev`, from the newest commit that changed it."""
    revisions = Revisions(repo)
    policies = policies_at(repo, gitio.resolve(repo, rev))
    for commit in gitio.log(repo, REGISTRY_FILE, rev):
        parent = commit.parents[0] if commit.parents else None
        if revisions.key_state(commit.sha, model, stage) == revisions.key_state(parent, model, stage):
            continue
        after = revisions.at(commit.sha)
        found = after.model(model) if after else None
        if after is None or found is None:
            break
        [change] = [c for c in changes(revisions.at(parent), after) if (c.model, c.stage) == (model, stage)]
        deploy = policies.resolve(found).stage(stage).deploy
        rollout = strategies.target(
            deploy, change.kind, change.previous, change.version, change.state_before, change.state_after
        )
        if rollout is None:
            break
        started = commit.committed_at if change.kind != "step" else _started(repo, revisions, model, stage, commit)
        return Current(rollout, commit.committed_at, commit.sha, deploy, started)
    raise RefusedError(f"{model} {stage} serves no version: there is no rollout to advance")


def _started(repo: Path, revisions: Revisions, model: str, stage: str, step: gitio.Commit) -> datetime:
    """When the stage last changed version, at or before `step`: the start of the rollout `step` continues."""
    for commit in gitio.log(repo, REGISTRY_FILE, step.sha):
        parent = commit.parents[0] if commit.parents else None
        before, after = revisions.at(parent), revisions.at(commit.sha)
        held_before = before.model(model) if before else None
        held_after = after.model(model) if after else None
        if (held_before.stages.get(stage) if held_before else None) != (
            held_after.stages.get(stage) if held_after else None
        ):
            return commit.committed_at
    return step.committed_at


def in_progress(repo: Path, rev: str = "HEAD") -> list[tuple[str, str]]:
    """(model, stage) of every rollout not yet complete at `rev`: what the maintenance schedule advances."""
    from bot.workspace import registry_at

    found = registry_at(repo, gitio.resolve(repo, rev))
    out = []
    for model in found.registry.models.values() if found else ():
        for stage, held in model.stages.items():
            if held is None:
                continue
            try:
                if not current(repo, model.name, stage, rev).rollout.complete:
                    out.append((model.name, stage))
            except RefusedError:
                continue
    return out


@dataclass(frozen=True)
class Result:
    decision: Decision
    gates: tuple[GateResult, ...]
    before: strategies.Rollout
    after: strategies.Rollout | None = None
    commit: str | None = None
    revert: rollback.Target | None = None
    pull: Mapping[str, Any] | None = None  # the pull request opened on GitHub (--github)

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "gates": [g.as_dict() for g in self.gates],
            "from": self.before.as_state(),
            "to": self.after.as_state() if self.after else None,
            "commit": self.commit,
            "revert": self.revert.as_dict() if self.revert else None,
            "pull_request": dict(self.pull) if self.pull else None,
        }


def _commit(repo: Path, message: str, text: str) -> str:
    (repo / REGISTRY_FILE).write_text(text, encoding="utf-8")
    gitio.git(repo, "add", "--", REGISTRY_FILE)
    identity = () if gitio.git(repo, "config", "user.email", check=False).strip() else rollback.BOT_IDENTITY
    gitio.git(repo, *identity, "commit", "-q", "--only", "-m", message, "--", REGISTRY_FILE)
    return gitio.resolve(repo, "HEAD")


@dataclass(frozen=True)
class Decided:
    """The verdict on the running rollout, before anything is written."""

    running: Current
    gates: tuple[GateResult, ...]
    verdict: Status
    following: strategies.Rollout | None  # the next step when the verdict passes


def decide(
    repo: Path, model: str, stage: str, source: MetricsSource, force: bool = False, now: datetime | None = None
) -> Decided:
    """Analyse the rollout running in (model, stage) at HEAD of `repo` over the window since its step began.
    `force` skips the analysis (a person decided)."""
    running = current(repo, model, stage)
    if running.rollout.complete:
        raise RefusedError(
            f"the rollout of {model} {stage} is complete ({running.rollout.describe()}); nothing to advance"
        )
    gates: list[GateResult] = []
    if not force:
        rules = running.deploy.rollout
        window = source.window(model, stage, running.rollout, running.since, rules)
        moment = now or datetime.now(UTC)
        timing = Timing(moment - running.since, moment - running.started)
        gates = analyse(running.rollout, rules, window, timing)
    verdict = overall(gates)
    following = strategies.advance(running.rollout, running.deploy) if verdict == Status.PASS else None
    return Decided(running, tuple(gates), verdict, following)


def step_message(model: str, stage: str, following: strategies.Rollout) -> str:
    verb = "Complete" if following.complete else "Advance"
    return f"{verb} the {following.strategy} of {model} {following.candidate} in {stage}: {following.describe()}"


def _act(
    repo: Path,
    model: str,
    stage: str,
    source: MetricsSource,
    force: bool,
    abort: Callable[[rollback.Target, tuple[GateResult, ...]], dict[str, Any]],
    step: Callable[[Decided, strategies.Rollout], dict[str, Any]],
) -> Result:
    """Decide, then act through `abort` (the revert of the promotion) or `step` (the next step); each returns
    what it made (`commit` or `pull`) for the Result."""
    decided = decide(repo, model, stage, source, force)
    before = decided.running.rollout
    if decided.verdict == Status.INCONCLUSIVE:
        return Result("halted", decided.gates, before)
    if decided.following is None:
        target = rollback.find(repo, model, stage)
        return Result("aborted", decided.gates, before, revert=target, **abort(target, decided.gates))
    following = decided.following
    decision: Decision = "completed" if following.complete else "advanced"
    return Result(decision, decided.gates, before, following, **step(decided, following))


def advance(repo: Path, model: str, stage: str, source: MetricsSource, force: bool = False) -> Result:
    """Decide on the running rollout and act: one commit to models.yaml (advanced/completed), or the revert of
    the promotion (aborted), or nothing (halted). `force` skips the analysis (a person decided)."""
    if gitio.git(repo, "status", "--porcelain", "--untracked-files=no", "--", REGISTRY_FILE).strip():
        raise RefusedError(f"{REGISTRY_FILE} has uncommitted changes; commit or discard them first")

    def step(decided: Decided, following: strategies.Rollout) -> dict[str, Any]:
        text, _ = set_deployment((repo / REGISTRY_FILE).read_text(encoding="utf-8"), model, stage, following.as_state())
        return {"commit": _commit(repo, step_message(model, stage, following), text)}

    return _act(
        repo, model, stage, source, force, lambda target, _: {"commit": rollback.revert_local(repo, target)}, step
    )


ROLLOUT_LABEL = "rollout"
ROLLOUT_CHECK = "modelbot/rollout"  # the bot's analysis of a step, on the head of the step's pull request


def advance_github(
    forge: Forge,
    repo: Path,
    model: str,
    stage: str,
    source: MetricsSource,
    base: str,
    force: bool = False,
    on_head: OnHead | None = None,
) -> Result:
    """The same decision, acted on through pull requests against `base` (whose tip `repo` has checked out):
    the next step as a pull request labelled `rollout`, or the rollback pull request when the analysis fails.
    Merging the step's pull request deploys it, like any change to models.yaml. `on_head(sha, labels)`: the
    caller's record of a new head, before its pull request shows it; the step's analysis goes on that head
    first too, so that a run killed after opening the pull request leaves nothing its re-run or the schedule's
    sweep cannot read from GitHub."""
    from bot.deploy.rollback_pr import open_rollback
    from bot.github.forge import BaseTip, ForgeError
    from bot.github.markers import marker

    def step(decided: Decided, following: strategies.Rollout) -> dict[str, Any]:
        head = gitio.resolve(repo, "HEAD")
        raw = gitio.show(repo, head, REGISTRY_FILE) or b""
        text, _ = set_deployment(raw.decode("utf-8"), model, stage, following.as_state())
        lines = [f"- {g.gate}: {g.status.value}: {g.reason}" for g in decided.gates] or [
            "- no analysis: a person decided"
        ]
        body = (
            f"{decided.running.rollout.describe()} -> {following.describe()}, computed at {head[:12]}.\n\n"
            "Analysis:\n" + "\n".join(lines) + "\n\nMerging this pull request deploys the step."
        )
        judged: list[str] = []

        def verdict(sha: str) -> None:
            # The bot's own verdict on exactly this head: what lets the step merge itself (bot/flows/automerge.py).
            # A forced step was a person's decision, not an analysis: it never merges itself.
            forge.set_check_run(
                sha,
                ROLLOUT_CHECK,
                "neutral" if force else "success",
                "Forced by a person" if force else f"Analysis passed: {following.describe()}",
                body,
            )
            judged.append(sha)

        def recorded(sha: str, labels: Sequence[str]) -> None:
            verdict(sha)
            if on_head is not None:
                on_head(sha, labels)

        result = forge.promotion_pr(
            model,
            f"{stage}-rollout",
            {REGISTRY_FILE: text},
            step_message(model, stage, following),
            body,
            base=base,
            labels=[ROLLOUT_LABEL],
            base_tip=BaseTip(head, gitio.tree(repo, head)),
            on_head=recorded,
        )
        pull = result.pull
        if pull.head_sha not in judged:  # found open: the verdict of this tick's analysis
            verdict(pull.head_sha)
        return {
            "pull": {"number": pull.number, "url": pull.html_url, "head_sha": pull.head_sha, "action": result.action}
        }

    def abort(target: rollback.Target, gates: tuple[GateResult, ...]) -> dict[str, Any]:
        opened = open_rollback(forge, repo, target, base, on_head)
        if target.pr is not None:  # say why on the promotion's own pull request, once (best effort)
            failed = [f"- {g.gate}: {g.reason}" for g in gates if g.status == Status.FAIL]
            with contextlib.suppress(ForgeError):
                forge.upsert_comment(
                    target.pr,
                    marker(model, stage, "rollout-abort"),
                    f"**modelbot aborted the rollout of {model} in {stage}.** Its analysis failed:\n\n"
                    + "\n".join(failed)
                    + f"\n\nThe rollback is #{opened.pull.number}.",
                )
        return {"pull": opened.as_dict()}

    result = _act(repo, model, stage, source, force, abort, step)
    if result.decision in ("halted", "aborted"):
        _withdraw_step(forge, model, stage, result)
    return result


def _withdraw_step(forge: Forge, model: str, stage: str, result: Result) -> None:
    """A step pull request left open by an earlier tick carries that tick's passed analysis; now that the
    evidence is thin (halted) or bad (aborted), its `modelbot/rollout` check says so, so that nothing (a review's
    run included) merges it on stale evidence. 1 request, 2 when a step is open."""
    from bot.github.markers import promotion_branch

    pull = forge.open_pull_for(promotion_branch(model, f"{stage}-rollout"))
    if pull is None:
        return
    reasons = "\n".join(f"- {g.gate}: {g.status.value}: {g.reason}" for g in result.gates)
    forge.set_check_run(
        pull.head_sha,
        ROLLOUT_CHECK,
        "neutral" if result.decision == "halted" else "failure",
        f"The analysis no longer passes: {result.decision}",
        f"A later tick judged the rollout again:\n\n{reasons}",
    )
