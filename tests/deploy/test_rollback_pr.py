"""A rollback on GitHub always becomes a pull request labelled `rollback`: merged by git when rollout steps came
after the promotion, and, when later changes conflict with it, opened with git's conflict markers for a person
to resolve (its models.yaml then fails validation at those lines until someone does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.deploy import rollback
from bot.deploy.rollback_pr import open_rollback
from bot.errors import InvalidFile
from bot.registry.load import parse
from tests.deploy.conftest import MODEL, Repo
from tests.support.localhub import RunningHub, git

STATE = {"strategy": "canary", "step": 1, "traffic": {"1": 50, "2": 50}, "fallback": 1}


def pushed(seed: Repo, factory: Callable[..., RunningHub], tmp_path: Path) -> tuple[RunningHub, Path]:
    hub = factory(seed=seed.path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    return hub, checkout


def test_a_promotion_followed_by_rollout_steps_is_reverted_with_them_by_git(
        make_repo: Callable[..., Repo], localhub_factory: Callable[..., RunningHub], tmp_path: Path) -> None:
    seed = make_repo()
    promotion = seed.promote("production", "2", "Promote tumor-malignancy 2 to production")
    seed.set_state("production", STATE, "Advance the canary of tumor-malignancy 2 in production: 50%")
    hub, checkout = pushed(seed, localhub_factory, tmp_path)
    target = rollback.find(checkout, MODEL, "production")
    assert len(target.steps) == 1

    opened = open_rollback(hub.forge(), checkout, target, "main")

    assert opened.how == "merged" and opened.conflict_lines == ()
    pull = hub.hub.state.issues[opened.pull.number]
    assert pull.labels == [rollback.ROLLBACK_LABEL]
    assert pull.title == 'Revert "Promote tumor-malignancy 2 to production"'
    assert f"This reverts commit {promotion}." in (pull.body or "")
    head = hub.forge().file_text("models.yaml", ref=opened.pull.head_ref)
    assert head == git(checkout, "show", f"{promotion}^:models.yaml")  # the promotion and its step, both undone


def test_a_conflicting_rollback_is_opened_for_a_person_and_fails_validation_until_resolved(
        make_repo: Callable[..., Repo], localhub_factory: Callable[..., RunningHub], tmp_path: Path) -> None:
    seed = make_repo()
    promotion = seed.promote("production", "2", "Promote tumor-malignancy 2 to production")
    seed.set_state("production", STATE, "Advance the canary of tumor-malignancy 2 in production: 50%")
    # An operator annotates the very lines the revert must remove.
    seed.git.write("models.yaml", seed.git.read("models.yaml").replace("fallback: 1}", "fallback: 1}  # held by ops"))
    seed.git.commit("Note why the canary is held")
    hub, checkout = pushed(seed, localhub_factory, tmp_path)
    target = rollback.find(checkout, MODEL, "production")

    opened = open_rollback(hub.forge(), checkout, target, "main")

    assert opened.how == "conflict"
    head = hub.forge().file_text("models.yaml", ref=opened.pull.head_ref)
    assert head is not None
    lines = head.splitlines()
    assert [lines[n - 1][:7] for n in opened.conflict_lines] == ["<<<<<<<", "=======", ">>>>>>>"]
    assert "# held by ops" in head  # the branch's side is kept for the person to see
    pull = hub.hub.state.issues[opened.pull.number]
    assert pull.labels == [rollback.ROLLBACK_LABEL]
    assert "A person has to resolve this rollback" in (pull.body or "")
    assert opened.pull.head_ref in opened.describe() and "conflict markers at lines" in opened.describe()
    with pytest.raises(InvalidFile) as caught:
        parse(head)
    problem = caught.value.problems[0]
    assert problem.location.line == opened.conflict_lines[0] and "unresolved merge conflict" in problem.message

    # The person keeps the state before the promotion, deletes the markers, and pushes.
    hub.hub.add_user("olive", role="write")
    resolved = git(checkout, "show", f"{promotion}^:models.yaml")
    hub.hub.as_user("olive").push(opened.pull.head_ref, {"models.yaml": resolved}, "Resolve the rollback")
    after = parse(hub.forge().file_text("models.yaml", ref=opened.pull.head_ref) or "")
    assert after.models[MODEL].stages["production"] == "1" and "production" not in after.models[MODEL].deployment


def test_a_rollout_whose_neighbouring_line_changed_since_is_set_back_by_its_stage_and_state(
        make_repo: Callable[..., Repo], localhub_factory: Callable[..., RunningHub], tmp_path: Path) -> None:
    """A canary ran to 100 %, then staging moved on the line next to production's: git cannot revert the
    promotion and its steps, but the meaning is plain: production back to 1, its state as before."""
    seed = make_repo()
    before = seed.git.read("models.yaml")
    seed.promote("production", "2", "Promote tumor-malignancy 2 to production")
    seed.set_state("production", STATE, "Advance the canary of tumor-malignancy 2 in production: 50%")
    seed.set_state("production", {"strategy": "canary", "step": 2, "traffic": {"2": 100}},
                   "Complete the canary of tumor-malignancy 2 in production")
    seed.promote("staging", "1", "Staging back on 1 for an experiment")
    hub, checkout = pushed(seed, localhub_factory, tmp_path)
    target = rollback.find(checkout, MODEL, "production")
    assert len(target.steps) == 2

    opened = open_rollback(hub.forge(), checkout, target, "main")

    assert opened.how == "stage-line"
    head = parse(hub.forge().file_text("models.yaml", ref=opened.pull.head_ref) or "").model(MODEL)
    was = parse(before).model(MODEL)
    assert head is not None and was is not None
    assert head.stages == {**was.stages, "staging": "1"}  # production back, the later staging change kept
    assert head.deployment.get("production") == was.deployment.get("production")
