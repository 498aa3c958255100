"""plan(before, after, policies): each rule of the policy, as a table of changes and verdicts."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.plan import plan
from bot.policy import Approval, load_policies, parse_files
from bot.registry import parse

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = (PROJECT / "models.yaml").read_text()
POLICIES = load_policies(PROJECT)
WEDNESDAY = datetime(2026, 11, 25, 12, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 12, tzinfo=UTC)
LONG_AGO = {
    ("tumor-malignancy", "staging"): WEDNESDAY - timedelta(days=3),
    ("diabetes-progression", "staging"): WEDNESDAY - timedelta(days=3),
}


def changed(*replacements):
    text = EXAMPLE
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return parse(text)


# What the base branch's history says each stage has served (version 1 served staging before version 2).
SERVED = {
    ("tumor-malignancy", "staging"): frozenset({"1", "2"}),
    ("tumor-malignancy", "production"): frozenset({"1"}),
    ("diabetes-progression", "staging"): frozenset({"1"}),
}


def plan_of(*replacements, now=WEDNESDAY, entered_at=LONG_AGO, served=SERVED, **kw):
    return plan(parse(EXAMPLE), changed(*replacements), POLICIES, now=now, entered_at=entered_at, served=served,
                **kw)


PROMOTE_TUMOR = ("      production: 1\n", "      production: 2\n")
PROMOTE_DIABETES = ("      production: null\n", "      production: 1\n")


def test_a_promotion_from_the_previous_stage_needs_the_stage_gates_and_approvals():
    result = plan_of(PROMOTE_TUMOR)
    [step] = result.steps
    assert result.ok and step.policy == "default"
    assert step.approvals == (Approval("ml-lead", 1), Approval("risk", 1))
    assert step.inconclusive_approvals == (Approval("platform", 1),)
    assert set(step.gates.names) >= {"metrics", "champion", "baseline", "slices", "infra"}
    assert step.deploy.deployer_names == ("mlflow-alias", "github-deployment")


def test_the_model_policy_and_its_overrides_decide():
    [step] = plan_of(PROMOTE_DIABETES).steps
    assert step.policy == "regression" and set(step.gates.metrics) == {"r2"}


@pytest.mark.parametrize(
    "changes, now, entered, reason",
    [
        (
            [PROMOTE_TUMOR],
            WEDNESDAY,
            {("tumor-malignancy", "staging"): WEDNESDAY - timedelta(minutes=30)},
            "has served 'staging' for 30m; 'production' needs 2h00m",
        ),
        ([PROMOTE_TUMOR], WEDNESDAY, {}, "cannot tell since when version 2 serves 'staging'"),
        ([PROMOTE_TUMOR], SATURDAY, LONG_AGO, "'production' is frozen: No production changes at weekends."),
        (
            [
                (
                    "      staging: 1\n      production: null\n",
                    "      staging: 1\n      canary: 1\n      production: null\n",
                )
            ],
            WEDNESDAY,
            LONG_AGO,
            "stage 'canary' is not in policy 'regression'",
        ),
    ],
)
def test_refusals_say_why(changes, now, entered, reason):
    result = plan_of(*changes, now=now, entered_at=entered)
    assert not result.ok
    assert any(reason in r for r in result.all_refusals), result.all_refusals


def test_a_version_cannot_skip_a_stage():
    base = changed(("      staging: 2\n", "      staging: 1\n"))
    result = plan(
        base,
        changed(PROMOTE_TUMOR, ("      staging: 2\n", "      staging: 1\n")),
        POLICIES,
        now=WEDNESDAY,
        entered_at=LONG_AGO,
    )
    assert result.all_refusals == [
        "tumor-malignancy production: version 2 must serve 'staging' before 'production' "
        "(the policy 'default' does not allow skipping a stage)"
    ]


def test_soak_time_is_met_once_it_has_passed():
    entered = {("tumor-malignancy", "staging"): WEDNESDAY - timedelta(hours=2)}
    assert plan_of(PROMOTE_TUMOR, entered_at=entered).ok


def test_a_rollback_uses_the_rollback_rules_and_is_allowed_during_a_freeze():
    result = plan_of(
        ("      production: 1\n", "      production: 1\n"), ("      staging: 2\n", "      staging: 1\n"), now=SATURDAY
    )
    [step] = result.steps
    assert step.transition.kind == "rollback" and result.ok
    assert step.approvals == (Approval("oncall", 1),)
    assert step.gates.as_dict() == {"metrics": {"roc_auc": {"min": 0.75}}}


def test_a_rewritten_registered_version_is_refused():
    result = plan_of(("metrics: {roc_auc: 0.981, brier: 0.052}", "metrics: {roc_auc: 0.999, brier: 0.052}"))
    assert not result.ok and "tumor-malignancy version 1 was modified" in result.all_refusals[0]


def test_a_new_model_must_enter_at_the_first_stage():
    result = plan(None, parse(EXAMPLE), POLICIES, now=WEDNESDAY)
    verdicts = {(s.transition.model, s.transition.stage): s.ok for s in result.steps}
    assert verdicts == {
        ("tumor-malignancy", "staging"): True,
        ("tumor-malignancy", "production"): False,
        ("diabetes-progression", "staging"): True,
    }


def test_moving_a_model_onto_another_policy_is_a_governance_change_judged_by_its_current_policy():
    result = plan_of(("    policy: regression\n", "    policy: fast-track\n"), PROMOTE_DIABETES)
    [step] = result.steps
    assert step.policy == "regression" and result.governance == ("changes the policy of diabetes-progression",)
    assert result.policy_change_approvals == (Approval("platform", 1),)


def test_a_change_to_policies_needs_the_base_policy_admin_role():
    head = parse_files(
        {
            "policies/default.yaml": (PROJECT / "policies/default.yaml")
            .read_bytes()
            .replace(b"users: [rita-risk]", b"users: [rita-risk, mallory]"),
            "policies/regression.yaml": (PROJECT / "policies/regression.yaml").read_bytes(),
        }
    )
    result = plan_of(PROMOTE_TUMOR, head_policies=head)
    assert result.policy_change_approvals == (Approval("platform", 1),)
    assert plan_of(PROMOTE_TUMOR, head_policies=POLICIES).policy_change_approvals == ()


def test_emptying_a_stage_takes_it_back_under_the_rollback_rules():
    [step] = plan_of(("      staging: 2\n", "      staging: null\n"), now=SATURDAY).steps
    assert step.transition.kind == "demote" and step.approvals == (Approval("oncall", 1),) and not step.gates.names


CANARY_AT = "      production: 2\n    deployment:\n      production: {strategy: canary, step: %d, traffic: %s}\n\n"


def test_moving_traffic_without_changing_the_version_is_a_step_under_the_rollback_approvals():
    """Version 2 is in production as a canary beside version 1 (which served production before); the next step
    moves the weights."""
    canary = parse(EXAMPLE.replace("      production: 1\n\n", CANARY_AT % (0, "{'1': 90, '2': 10}"), 1))
    stepped = parse(EXAMPLE.replace("      production: 1\n\n", CANARY_AT % (1, "{'1': 50, '2': 50}"), 1))
    result = plan(canary, stepped, POLICIES, now=WEDNESDAY, entered_at=LONG_AGO, served=SERVED)
    [step] = result.steps
    assert str(step.transition) == "tumor-malignancy production: 2 -> 2 (step)"
    assert step.approvals == (Approval("oncall", 1),) and not step.gates.names and result.ok
    [frozen] = plan(canary, stepped, POLICIES, now=SATURDAY, entered_at=LONG_AGO, served=SERVED).steps
    assert frozen.refusals == ("'production' is frozen: No production changes at weekends.",)


def test_a_rollout_state_cannot_send_traffic_to_a_version_never_promoted_to_the_stage():
    """Production holds version 1; a 'step' that gives version 2 half the traffic would serve it unpromoted."""
    state = ("      production: 1\n\n", "      production: 1\n    deployment:\n"
             "      production: {strategy: canary, step: 1, traffic: {'1': 50, '2': 50}}\n\n")
    result = plan_of(state)
    assert not result.ok
    assert result.refusals == ("tumor-malignancy production: the rollout state sends traffic to version 2, which "
                               "neither serves nor served 'production'; promote it to 'production' first",)
