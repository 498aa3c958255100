"""A stage's `rollout:` section: read into typed rules, and refused by name where it cannot be meant."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import InvalidFile
from bot.policy import parse_files
from bot.policy.deploy import ErrorRule, LatencyRule, OutcomeRule
from bot.policy.roles import Approval

DEFAULT = (Path(__file__).resolve().parents[2] / "policies" / "default.yaml").read_text()
ANCHOR = "    deploy:\n      strategy: direct\n      deployers: [mlflow-alias, github-deployment]\n      fallback:"


def with_rollout(block: str) -> dict[str, bytes]:
    assert ANCHOR in DEFAULT
    return {"policies/default.yaml": DEFAULT.replace(ANCHOR, block + ANCHOR, 1).encode()}


def problems(block: str) -> list[str]:
    with pytest.raises(InvalidFile) as info:
        parse_files(with_rollout(block))
    return [str(p) for p in info.value.problems]


def test_a_rollout_section_reads_into_the_stages_typed_rules() -> None:
    policy = parse_files(with_rollout(
        "    rollout:\n"
        "      steps: [shadow, 5, 25]\n      bake: 10m\n      min_requests: 400\n      max_duration: 2d\n"
        "      analysis:\n        error_rate: {max_increase: 0.01, max: 0.05}\n"
        "        latency_p95: {max_ratio: 1.5}\n        outcome: {metric: mean, min_labels: 50, min_lift: 0.01}\n"
        "      auto_merge: true\n      approvals: [{role: oncall, count: 1}]\n"
    )).get("default")
    rules = policy.stage("production").deploy.rollout
    assert rules.canary_steps == ("shadow", 5.0, 25.0, 100.0)
    assert (rules.bake, rules.max_duration, rules.min_requests) == (timedelta(minutes=10), timedelta(days=2), 400)
    assert rules.errors == ErrorRule(0.01, 0.05) and rules.latency == LatencyRule(1.5, None)
    assert rules.outcome == OutcomeRule("mean", 50, 0.0, 0.01)
    assert rules.auto_merge and rules.approvals == (Approval("oncall", 1),)
    staging = policy.stage("staging").deploy.rollout
    assert not staging.auto_merge and staging.approvals is None  # the defaults: nothing merges itself


@pytest.mark.parametrize(
    ("block", "said"),
    [
        ("    rollout:\n      steps: [10, shadow]\n", "`shadow` can only be the first step"),
        ("    rollout:\n      steps: [50, 10]\n", "canary weights must rise step by step"),
        ("    rollout:\n      approvals: [{role: legal, count: 1}]\n", "role 'legal' is not defined"),
        ("    rollout:\n      steps: [0]\n", "(stages.production.rollout.steps.0)"),
        ("    rollout:\n      analysis: {error_rate: {max_increase: 2}}\n", "error_rate.max_increase"),
        ("    rollout:\n      bake: soon\n", "(stages.production.rollout.bake)"),
    ],
)
def test_a_rollout_that_cannot_be_meant_is_refused_by_its_path(block: str, said: str) -> None:
    found = problems(block)
    assert any(said in p and "policies/default.yaml" in p for p in found), found


def test_rollback_approvals_left_out_are_the_stages_and_an_empty_list_asks_none() -> None:
    text = DEFAULT.replace("rollback:\n  roles: [oncall, ml-lead]\n  approvals:\n    - {role: oncall, count: 1}\n",
                           "rollback:\n  roles: [oncall, ml-lead]\n", 1)
    assert text != DEFAULT
    none_said = parse_files({"policies/default.yaml": text.encode()}).get("default")
    assert none_said.rollback.approvals is None
    roles = "rollback:\n  roles: [oncall, ml-lead]\n"
    empty = parse_files({"policies/default.yaml": text.replace(roles, roles + "  approvals: []\n").encode()})
    assert empty.get("default").rollback.approvals == ()
