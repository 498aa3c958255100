"""Rollback by revert commit, checked against git itself: the revert's tree is the tree before the promotion,
its message is git's, a revert of the revert promotes again, and a conflicting revert changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.deploy import rollback
from bot.errors import RefusedError
from bot.registry.edit import set_stage
from tests.deploy.conftest import MODEL, Repo


def test_the_revert_undoes_the_promotion_exactly(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    before = repo.head()
    promotion = repo.promote("staging", "1", "Move staging back to 1 (#21)")
    target = rollback.find(repo.path, MODEL, "staging")
    assert (target.commit, target.pr, target.title, target.steps) == (
        promotion, 21, "Move staging back to 1 (#21)", ())

    sha = rollback.revert_local(repo.path, target)

    assert repo.git.git("log", "-1", "--format=%B", sha) == (
        f'Revert "Move staging back to 1 (#21)"\n\nThis reverts commit {promotion}.')
    assert repo.git.git("rev-parse", f"{sha}^{{tree}}") == repo.git.git("rev-parse", f"{before}^{{tree}}")
    assert repo.git.git("rev-parse", f"{sha}^") == promotion


def test_a_merge_commit_is_reverted_against_its_first_parent_with_the_pull_requests_title(
        make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    base = repo.head()
    repo.git.git("checkout", "-q", "-b", "modelbot/promote/tumor-malignancy/staging")
    repo.promote("staging", "1", "Promote tumor-malignancy 1 to staging")
    repo.git.git("checkout", "-q", "main")
    repo.git.git("merge", "-q", "--no-ff", "-m", "Merge pull request #5 from acme/modelbot/promote\n\n"
                 "Promote tumor-malignancy 1 to staging", "modelbot/promote/tumor-malignancy/staging")
    merge = repo.head()
    target = rollback.find(repo.path, MODEL, "staging")
    assert (target.commit, target.pr, target.title) == (merge, 5, "Promote tumor-malignancy 1 to staging")

    sha = rollback.revert_local(repo.path, target)

    assert repo.git.git("log", "-1", "--format=%s", sha) == 'Revert "Promote tumor-malignancy 1 to staging"'
    assert repo.git.git("rev-parse", f"{sha}^{{tree}}") == repo.git.git("rev-parse", f"{base}^{{tree}}")


def test_reverting_the_revert_promotes_again(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    repo.promote("production", "2", "Promote 2 to production")
    rollback.revert_local(repo.path, rollback.find(repo.path, MODEL, "production"))
    assert "production: 1" in repo.git.read("models.yaml")

    again = rollback.find(repo.path, MODEL, "production")
    assert again.event.transition.kind == "rollback"
    rollback.revert_local(repo.path, again)

    assert "production: 2" in repo.git.read("models.yaml")
    assert repo.git.git("log", "-1", "--format=%s") == 'Revert "Revert "Promote 2 to production""'


def test_a_conflicting_revert_is_reported_and_leaves_the_repository_as_it_was(
        make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    repo.promote("production", "2", "Promote 2 to production")
    # A later hand edit rewrites the very line the revert must change.
    text = repo.git.read("models.yaml").replace("      production: 2", "      production: 2  # pinned by ops")
    repo.git.write("models.yaml", text)
    head = repo.git.commit("Annotate production")

    with pytest.raises(rollback.RevertConflict) as caught:
        rollback.revert_local(repo.path, rollback.find(repo.path, MODEL, "production"))

    assert caught.value.files == ["models.yaml"]
    assert "conflicts with later changes to models.yaml" in str(caught.value)
    assert "git revert" in str(caught.value)
    assert repo.head() == head
    assert repo.git.git("status", "--porcelain") == ""


def test_uncommitted_changes_are_never_swept_into_a_revert(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    repo.promote("production", "2")
    text, _ = set_stage(repo.git.read("models.yaml"), MODEL, "staging", "1")
    repo.git.write("models.yaml", text)
    with pytest.raises(RefusedError, match="uncommitted changes"):
        rollback.revert_local(repo.path, rollback.find(repo.path, MODEL, "production"))


def test_a_stage_that_never_changed_has_nothing_to_roll_back(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    with pytest.raises(RefusedError, match="no change of tumor-malignancy canary"):
        rollback.find(repo.path, MODEL, "canary")
