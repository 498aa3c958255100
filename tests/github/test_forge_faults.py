"""With 20 % of requests answered 502 (half of the failed writes having taken effect first) and one
secondary rate limit, every flow ends in the same state as without faults: no duplicate PR, comment or
deployment."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.github.markers import marker
from tests.support.localhub import RunningHub

MODELS = "models:\n  churn:\n    stages: {staging: 6, production: 5}\n"


def _flows(hub: RunningHub, waits: list[float]) -> None:
    """Propose, supersede, report twice, check, merge, deploy twice, revert."""
    forge = hub.forge(waits=waits)
    report = marker("churn", "staging", "report")
    first = forge.promotion_pr(
        "churn",
        "staging",
        {"models.yaml": MODELS.replace("6", "7")},
        "Promote churn 7 to staging",
        "v7",
        base="main",
        labels=["promotion"],
    )
    pull = forge.promotion_pr(
        "churn",
        "staging",
        {"models.yaml": MODELS.replace("6", "8")},
        "Promote churn 8 to staging",
        "v8",
        base="main",
        labels=["promotion"],
    ).pull
    assert pull.number == first.pull.number
    forge.upsert_comment(pull.number, report, "gates: running")
    forge.upsert_comment(pull.number, report, "gates: all pass")
    forge.set_status(pull.head_sha, "success", "modelbot/validate", "all gates pass")
    forge.set_check_run(pull.head_sha, "modelbot", "success", "Gates", "all pass")
    forge.add_labels(pull.number, ["validated"])
    hub.hub.as_user("bob").merge(pull.number, "squash")
    for _ in range(2):
        deployment = forge.create_deployment("main", "staging", "churn:staging:8", {"model": "churn"})
        forge.set_deployment_status(deployment.id, "success", "alias moved")
    forge.revert_pull(pull.number)


def _no_shas(text: str | None) -> str:
    """Commit ids carry their timestamps, so runs differ in them and nothing else."""
    return re.sub(r"\b[0-9a-f]{40}\b", "<sha>", text or "")


def _outcome(hub: RunningHub) -> dict[str, Any]:
    state, git = hub.hub.state, hub.hub.git

    def tree(sha: str | None) -> str | None:
        return git.commit(sha).tree if sha else None

    return {
        "pulls": sorted(
            (i.title, i.state, _no_shas(i.body), tuple(i.labels), tree(i.pull.head_sha))
            for i in state.issues.values()
            if i.pull
        ),
        "comments": sorted((c.issue_number, c.user, c.body) for c in state.comments.values()),
        "statuses": sorted({(tree(s.sha), s.context, s.state) for s in state.statuses}),
        "check_runs": sorted((r.name, r.status, r.conclusion) for r in state.check_runs.values()),
        "deployments": sorted(
            (d.environment, d.ref, str(d.payload), tuple(s.state for s in d.statuses))
            for d in state.deployments.values()
        ),
        "main_tree": tree(git.resolve_commit("refs/heads/main")),
        "branches": sorted(name for name in git.refs("refs/heads/")),
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_faults_change_nothing_but_the_number_of_requests(
    localhub_factory: Callable[..., RunningHub], seed: int
) -> None:
    outcomes, faults_seen, waits_seen = [], [], []
    for error_rate, secondary in ((0.0, 0), (0.2, 1)):
        hub = localhub_factory(files={"README.md": "# models\n", "models.yaml": MODELS})
        hub.hub.add_user("bob", role="maintain")
        hub.faults.reseed(seed)
        hub.faults.error_rate, hub.faults.secondary_limits, hub.faults.retry_after = error_rate, secondary, 2
        waits: list[float] = []
        _flows(hub, waits)
        hub.faults.clear()
        outcomes.append(_outcome(hub))
        faults_seen.append([e.fault for e in hub.log.entries if e.fault])
        waits_seen.append(waits)
    clean, faulty = outcomes
    assert faults_seen[0] == [] and len(faults_seen[1]) >= 5
    assert "secondary-rate-limit" in faults_seen[1] and "502-after-write" in faults_seen[1]
    assert 2.0 in waits_seen[1]  # the Retry-After was honoured
    assert faulty == clean
    assert len(clean["pulls"]) == 2 and len(clean["deployments"]) == 1
    assert [body for _, user, body in clean["comments"] if user == "github-actions[bot]"] == [
        f"{marker('churn', 'staging', 'report')}\ngates: all pass"
    ]


def test_a_merge_github_answers_base_branch_was_modified_is_tried_again(
    localhub_factory: Callable[..., RunningHub],
) -> None:
    """GitHub's transient 405 when the base moved during the merge: the bot tries the same merge again (waiting
    longer each time), and names GitHub's answer when it keeps coming."""
    from bot.errors import ModelbotError
    from bot.github.client import MERGE_ATTEMPTS

    hub = localhub_factory(files={"models.yaml": MODELS})
    waits: list[float] = []
    forge = hub.forge(waits=waits)
    pulls = [
        forge.promotion_pr(
            "churn",
            stage,
            {
                "models.yaml": MODELS.replace("6", "7" if stage == "staging" else "6").replace(
                    "5", "6" if stage == "production" else "5"
                )
            },
            f"Promote churn to {stage}",
            "body",
            base="main",
        ).pull
        for stage in ("staging", "production")
    ]

    hub.faults.merge_races = MERGE_ATTEMPTS - 1
    merged = forge.merge_pull(pulls[0].number, pulls[0].head_sha, "Merge", "message")
    assert hub.hub.git.resolve("main") == merged and hub.hub.state.issues[pulls[0].number].pull.merged
    assert waits == [1.0, 2.0] and hub.faults.merge_races == 0
    races = [r for r in hub.log.entries if r.method == "PUT" and r.path.endswith("/merge")]
    assert [r.status for r in races] == [405, 405, 200]

    hub.faults.merge_races = MERGE_ATTEMPTS
    with pytest.raises(ModelbotError, match="Base branch was modified"):
        forge.merge_pull(pulls[1].number, pulls[1].head_sha, "Merge", "message")
    assert not hub.hub.state.issues[pulls[1].number].pull.merged
