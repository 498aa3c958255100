"""The adapter through PyGithub over real HTTP against localhub, held to issue 5's request budgets by the
request log: opening a promotion PR <= 7 requests, repeating it <= 3 and no writes, upserting a report
comment <= 2, reading the approval state <= 3 plus 1 per team, cached. Each forge is one run: a test
that stands for a later run (a review's, a push's) takes a new one, as the run cache is per run."""

from __future__ import annotations

from bot.github.client import GitHubForge
from bot.github.markers import marker
from tests.support.localhub import RunningHub

MODELS = "models:\n  churn:\n    stages: {staging: 6, production: 5}\n"  # as the `hub` fixture seeds it
STAGED = MODELS.replace("staging: 6", "staging: 7")
STAGED_8 = MODELS.replace("staging: 6", "staging: 8")
TITLE = "Promote churn 7 to staging"


def _propose(forge: GitHubForge, text: str = STAGED, title: str = TITLE, body: str = "Evidence follows.") -> object:
    return forge.promotion_pr("churn", "staging", {"models.yaml": text}, title, body, base="main",
                              labels=["promotion"])


def test_opening_a_promotion_pr_costs_at_most_7_requests(hub: RunningHub, forge: GitHubForge) -> None:
    mark = hub.log.mark()
    result = _propose(forge)
    used = hub.log.since(mark)
    assert len(used) <= 7, "\n".join(map(str, used))
    assert result.action == "opened"  # type: ignore[attr-defined]
    pr = hub.hub.state.issues[result.pull.number]  # type: ignore[attr-defined]
    assert pr.pull and pr.pull.head_ref == "modelbot/promote/churn/staging" and pr.labels == ["promotion"]
    assert hub.hub.git.git("show", f"{pr.pull.head_sha}:models.yaml") == STAGED
    assert hub.hub.git.commit(pr.pull.head_sha).parents == (hub.hub.git.resolve_commit("refs/heads/main"),)
    assert pr.body.startswith(marker("churn", "staging", "promotion"))  # type: ignore[union-attr]
    print(f"open: {len(used)} requests, {len(hub.log.writes(mark))} writes")


def test_repeating_a_proposal_with_nothing_new_costs_at_most_3_requests_and_no_writes(
        hub: RunningHub, forge: GitHubForge) -> None:
    first = _propose(forge)
    mark = hub.log.mark()
    again = _propose(forge)
    used = hub.log.since(mark)
    assert len(used) <= 3 and hub.log.writes(mark) == [], "\n".join(map(str, used))
    assert again.action == "unchanged" and again.pull.number == first.pull.number  # type: ignore[attr-defined]
    print(f"repeat: {len(used)} requests, 0 writes")


def test_a_newer_proposal_updates_the_same_pr_and_says_what_it_superseded(hub: RunningHub,
                                                                        forge: GitHubForge) -> None:
    first = _propose(forge)
    mark = hub.log.mark()
    newer = _propose(forge, STAGED_8, "Promote churn 8 to staging", "Newer evidence.")
    used = hub.log.since(mark)
    assert len(used) <= 7, "\n".join(map(str, used))
    assert newer.action == "updated" and newer.pull.number == first.pull.number  # type: ignore[attr-defined]
    assert newer.superseded.head_sha == first.pull.head_sha  # type: ignore[attr-defined]
    assert newer.superseded.title == TITLE  # type: ignore[attr-defined]
    open_pulls = [i for i in hub.hub.state.issues.values() if i.pull and i.state == "open"]
    assert len(open_pulls) == 1 and open_pulls[0].title == "Promote churn 8 to staging"
    head = open_pulls[0].pull.head_sha  # type: ignore[union-attr]
    assert hub.hub.git.git("show", f"{head}:models.yaml") == STAGED_8
    assert f"Supersedes {first.pull.head_sha}" in hub.hub.git.commit(head).message  # type: ignore[attr-defined]
    assert [d.payload["action"] for d in hub.hub.deliveries if d.event == "pull_request"] == [
        "opened", "labeled", "synchronize", "edited"]


def test_upserting_a_report_comment_costs_at_most_2_requests(hub: RunningHub, forge: GitHubForge) -> None:
    number = _propose(forge).pull.number  # type: ignore[attr-defined]
    for i in range(30):
        hub.hub.as_user("alice").comment(number, f"discussion {i}")
    report = marker("churn", "staging", "report")

    def costs(forges: list[GitHubForge], bodies: tuple[str, ...]) -> list[tuple[str, int, int]]:
        out = []
        for each, body in zip(forges, bodies, strict=True):
            mark = hub.log.mark()
            result = each.upsert_comment(number, report, body)
            out.append((result.action, len(hub.log.since(mark)), len(hub.log.writes(mark))))
        return out

    separate_runs = [hub.forge() for _ in range(3)]
    assert costs(separate_runs, ("report v1", "report v2", "report v2")) == [
        ("created", 2, 1), ("updated", 2, 1), ("unchanged", 1, 0)]
    one_run = hub.forge()
    assert costs([one_run] * 3, ("report v3", "report v4", "report v4")) == [
        ("updated", 2, 1), ("updated", 1, 1), ("unchanged", 0, 0)]  # the listing is read once per run
    mine = [c for c in hub.hub.state.comments.values() if report in c.body]
    assert len(mine) == 1 and mine[0].body.endswith("report v4")


def test_reading_the_approval_state_costs_3_plus_1_per_team_and_is_cached(hub: RunningHub,
                                                                         forge: GitHubForge) -> None:
    number = _propose(forge).pull.number  # type: ignore[attr-defined]
    hub.hub.as_user("bob").review(number, "APPROVE")
    hub.hub.as_user("frank").review(number, "REQUEST_CHANGES", "risk not assessed")
    forge = hub.forge()  # the run the review started

    def approval_inputs() -> tuple[object, ...]:
        pull = forge.pull_request(number)
        reviews = forge.reviews(number)
        teams = {slug: forge.team_members("acme", slug) for slug in ("ml-leads", "risk")}
        policy = forge.file_text("models.yaml", pull.base_ref)
        return pull, reviews, teams, policy

    mark = hub.log.mark()
    pull, reviews, teams, _ = approval_inputs()
    first = len(hub.log.since(mark))
    mark = hub.log.mark()
    approval_inputs()
    second = len(hub.log.since(mark))
    assert first <= 3 + 2 and second <= 3, (first, second)
    assert [(r.author, r.state, r.commit_id) for r in reviews] == [  # type: ignore[attr-defined]
        ("bob", "APPROVED", pull.head_sha), ("frank", "CHANGES_REQUESTED", pull.head_sha)]  # type: ignore[attr-defined]
    assert teams == {"ml-leads": frozenset({"bob", "erin"}), "risk": frozenset({"frank"})}
    print(f"approval: {first} requests first, {second} cached")
