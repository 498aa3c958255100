"""Open a rollback on GitHub as a pull request labelled `rollback`, in the best form the history allows:

1. `revert`: GitHub reverts the promotion's pull request (a true revert commit), when nothing came after it;
2. `merged`: git's three-way merge of the inverse change onto the tip, when rollout steps followed the
   promotion (they are undone with it) or GitHub's revert is refused;
3. `stage-line`: the stage line alone set back, when a later change touched a neighbouring line (git merges
   whole hunks) but the stage still holds the promoted version;
4. `conflict`: otherwise the merge with git's conflict markers, opened for a person to resolve. Its
   models.yaml does not parse, so its validation fails, naming the lines, until someone resolves it.

A rollback never fails silently: each form says what it did in the pull request's body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bot import gitio
from bot.deploy.rollback import ROLLBACK_LABEL, Target
from bot.errors import RefusedError
from bot.registry.edit import set_deployment, set_stage
from bot.registry.load import parse
from bot.workspace import REGISTRY_FILE
from bot.yamlio import conflict_lines

if TYPE_CHECKING:
    from bot.github.forge import Forge, OnHead, PullRequest

How = Literal["revert", "merged", "stage-line", "conflict"]


@dataclass(frozen=True)
class Opened:
    pull: PullRequest
    how: How
    conflict_lines: tuple[int, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.pull.number,
            "url": self.pull.html_url,
            "how": self.how,
            "head_sha": self.pull.head_sha,
            "conflict_lines": list(self.conflict_lines),
        }

    def describe(self) -> str:
        if self.how == "conflict":
            lines = ", ".join(str(n) for n in self.conflict_lines)
            return (
                f"#{self.pull.number} needs a person: the revert conflicts with later changes to {REGISTRY_FILE} "
                f"(conflict markers at lines {lines}); check out `{self.pull.head_ref}`, resolve them and push"
            )
        return f"#{self.pull.number}"


def open_rollback(forge: Forge, repo: Path, target: Target, base: str, on_head: OnHead | None = None) -> Opened:
    """Open (or find) the rollback pull request of `target` against branch `base`; `repo` holds its history.
    `on_head(sha, labels)`: the caller's record of a new head, before the pull request shows it."""
    from bot.github.revert import RevertConflict

    if target.pr is not None and not target.steps:
        try:
            recorded = None if on_head is None else (lambda sha: on_head(sha, [ROLLBACK_LABEL]))
            pull = forge.revert_pull(target.pr, recorded)
            forge.add_labels(pull.number, [ROLLBACK_LABEL])
            return Opened(pull, "revert")
        except RevertConflict:
            pass
    tip = forge.file_text(REGISTRY_FILE, ref=base)
    if tip is None:
        raise RefusedError(f"{REGISTRY_FILE} is missing on {base}: nothing to roll back")
    newest = target.steps[0] if target.steps else target.commit
    promoted = _text(repo, newest)
    before = _text(repo, gitio.commit(repo, target.commit).parents[0])
    merged, conflicts = gitio.merge_file(
        tip, promoted, before, (base, f"rolled out at {newest[:12]}", f"before {target.commit[:12]}")
    )
    if not conflicts:
        return _open(
            forge,
            target,
            base,
            merged,
            "merged",
            "git merged the inverse change onto the branch's tip; nothing else changes.",
            on_head=on_head,
        )
    line = _stage_line(tip, target, promoted, before)
    if line is not None:
        return _open(
            forge,
            target,
            base,
            line,
            "stage-line",
            f"A later change touched the neighbouring line, so git could not revert the commit on its own; "
            f"this sets {target.model} {target.stage} back to "
            f"{target.event.transition.from_version or 'nothing'}"
            + (" with its deployment state from before the promotion" if target.steps else "")
            + " and changes nothing else.",
            on_head=on_head,
        )
    marked = conflict_lines(merged)
    return _open(forge, target, base, merged, "conflict", _conflict_body(target, marked), marked, on_head)


def _text(repo: Path, rev: str) -> str:
    raw = gitio.show(repo, rev, REGISTRY_FILE)
    return "" if raw is None else raw.decode("utf-8")


def _stage_line(tip: str, target: Target, promoted: str, before: str) -> str | None:
    """The tip with only the stage line set back (and, after rollout steps, the stage's deployment state as it
    was before the promotion), when the stage still holds the promoted version and its state lines are exactly
    what the last step wrote (a hand edit there is a person's to weigh: None, and the conflict is shown)."""
    t = target.event.transition
    model = parse(tip).model(t.model)
    if model is None or model.stages.get(t.stage) != t.to_version:
        return None
    if target.steps and _state_lines(tip, t.model, t.stage) != _state_lines(promoted, t.model, t.stage):
        return None
    text, _ = set_stage(tip, t.model, t.stage, t.from_version)
    if target.steps:
        was = parse(before).model(t.model) if before else None
        text, _ = set_deployment(text, t.model, t.stage, was.deployment.get(t.stage) if was is not None else None)
    return text


def _state_lines(text: str, model: str, stage: str) -> list[str] | None:
    """The lines of `models.<model>.deployment.<stage>` in `text`, comments on them included; None if absent."""
    from bot import yamlio

    key, value = yamlio.find_node(yamlio.compose(text), ["models", model, "deployment", stage])
    if key is None or value is None or key.value != stage:
        return None
    last = value.end_mark.line - (1 if value.end_mark.column == 0 else 0)
    return text.splitlines()[key.start_mark.line : last + 1]


def _conflict_body(target: Target, lines: tuple[int, ...]) -> str:
    listed = ", ".join(str(n) for n in lines)
    return (
        f"**A person has to resolve this rollback.** Later changes to {REGISTRY_FILE} touch the lines this revert "
        f"restores, so git could not apply it on its own. The file holds git's conflict markers (lines {listed}): "
        "between `<<<<<<<` and `=======` is the branch as it is now, between `=======` and `>>>>>>>` the state "
        f"before the promotion. Keep what {target.model} {target.stage} should serve, delete the markers, and "
        "push to this branch: the bot validates it again, and its approvals follow the rollback rules."
    )


def _open(
    forge: Forge,
    target: Target,
    base: str,
    text: str,
    how: How,
    explanation: str,
    lines: tuple[int, ...] = (),
    on_head: OnHead | None = None,
) -> Opened:
    title, body = target.message().split("\n\n", 1)
    if target.pr is not None:
        body += f"\n\nReverts #{target.pr}."
    result = forge.promotion_pr(
        target.model,
        f"{target.stage}-rollback",
        {REGISTRY_FILE: text},
        title,
        f"{body}\n\n{explanation}",
        base=base,
        labels=[ROLLBACK_LABEL],
        on_head=on_head,
    )
    return Opened(result.pull, how, lines)
