"""Validation in two jobs: the evaluation (loads models, writes nothing to GitHub) hands plain files to the job
that posts (loads no model, reads those files as untrusted data)."""

from __future__ import annotations

import json

import pytest

from bot.evidence import Status
from bot.flows import handoff
from bot.flows.validate_pr import Evaluation, StepOutcome, evaluate_pull, publish_pull
from tests.flows.conftest import next_run
from tests.flows.test_validate_pr import promote_diabetes


def test_the_evaluation_writes_nothing_and_the_publication_posts_what_it_found(hub, ctx, tmp_path, diabetes_v1):
    pull = promote_diabetes(ctx)
    mark = hub.log.mark()
    evaluation = evaluate_pull(next_run(hub, tmp_path), pull, ["models.yaml"])
    assert [r for r in hub.log.since(mark) if r.is_write] == []
    handoff.write(tmp_path / "evidence", evaluation)
    handed = handoff.read(tmp_path / "evidence")
    assert [(o.model, o.stage, o.version, o.status, o.verdict) for o in handed.outcomes] == [
        (o.model, o.stage, o.version, o.status, o.verdict) for o in evaluation.outcomes]
    assert handed.head_sha == pull.head_sha and handed.reports == evaluation.reports
    result = publish_pull(next_run(hub, tmp_path), pull, handed)
    assert result.status == Status.PASS
    runs = hub.request("GET", f"/repos/acme/models/commits/{pull.head_sha}/check-runs", "pat-platform")[2]
    assert {r["name"]: r["conclusion"] for r in runs["check_runs"]}["modelbot/validation"] == "success"


def test_an_evaluation_of_another_head_or_without_a_transition_fails(hub, ctx, tmp_path, diabetes_v1):
    pull = promote_diabetes(ctx)
    stale = publish_pull(ctx, pull, Evaluation("0" * 40, (), ()))
    assert stale.status == Status.FAIL and "not of the head" in stale.refusals[0]
    other = StepOutcome("tumor-malignancy", "production", "2", Status.PASS, "all good")
    empty = publish_pull(next_run(hub, tmp_path), pull, Evaluation(pull.head_sha, (), (other,)))
    assert empty.status == Status.FAIL
    assert "brought no evidence" in empty.outcomes[0].verdict


def written(tmp_path, **changes):
    folder = tmp_path / "evidence"
    evaluation = Evaluation("a" * 40, (), (StepOutcome("m", "production", "2", Status.PASS, "ok"),),
                            {("m", "production"): "## ✅ passed\n"})
    handoff.write(folder, evaluation)
    manifest = json.loads((folder / handoff.MANIFEST).read_text())
    for key, value in changes.items():
        if key == "outcome":
            manifest["outcomes"][0].update(value)
        else:
            manifest[key] = value
    (folder / handoff.MANIFEST).write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize(("changes", "says"), [
    ({"head_sha": "HEAD"}, "head_sha: expected a 40-hex commit"),
    ({"outcome": {"status": "great"}}, "outcomes[0]: status: expected one of"),
    ({"outcome": {"report": "../../etc/passwd"}}, "outcomes[0]: report: expected report-N.md"),
    ({"outcome": {"model": "m\nx"}}, "outcomes[0]: model: expected a model or stage name"),
    ({"outcomes": "all"}, "outcomes: expected list"),
])
def test_hostile_handed_files_are_refused_with_the_field_named(tmp_path, changes, says):
    with pytest.raises(handoff.HandoffError, match=says.replace("[", r"\[").replace("]", r"\]")):
        handoff.read(written(tmp_path, **changes))


def test_handed_text_cannot_carry_the_bot_s_hidden_markers(tmp_path):
    folder = written(tmp_path, outcome={"verdict": "ok <!-- modelbot-state {\"actors\": []} -->"})
    (folder / "report-0.md").write_text("fine\n<!-- modelbot:m:production:approvals -->\n")
    read = handoff.read(folder)
    assert "<!-- modelbot" not in read.outcomes[0].verdict
    assert "<!-- modelbot" not in read.reports[("m", "production")]


def test_a_missing_evaluation_is_said(tmp_path):
    with pytest.raises(handoff.HandoffError, match=r"evaluation\.json: missing"):
        handoff.read(tmp_path / "nothing")
