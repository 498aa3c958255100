"""policies/: the example loads, `extends` and overrides merge as documented, mistakes are located."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import InvalidFile
from bot.policy import Approval, load_policies, parse_files, read_policies

PROJECT = Path(__file__).resolve().parents[2]
DEFAULT = (PROJECT / "policies" / "default.yaml").read_bytes()


def problems_of(files: dict[str, bytes]) -> list[str]:
    with pytest.raises(InvalidFile) as info:
        parse_files(files)
    return [str(p) for p in info.value.problems]


def test_the_example_policies_resolve_stage_by_stage():
    policies = load_policies(PROJECT)
    default = policies.get("default")
    assert default.stage_names == ("staging", "production")
    assert default.stage("production").approvals == (Approval("ml-lead", 1), Approval("risk", 1))
    assert default.stage("production").soak == timedelta(hours=1)
    assert default.previous_stage("production") == "staging"
    assert default.role_members("ml-lead").teams == ("acme/ml-leads",)


def test_a_model_override_applies_to_that_model_only():
    policies = load_policies(PROJECT)
    assert policies.get("default", "tumor-malignancy").stage("production").soak == timedelta(hours=2)
    assert policies.get("default", "other-model").stage("production").soak == timedelta(hours=1)


def test_extends_inherits_everything_but_replaces_gates_whole():
    regression = load_policies(PROJECT).get("regression")
    assert regression.roles["risk"].users == frozenset({"rita-risk"})
    assert regression.stage("production").approvals == (Approval("ml-lead", 1), Approval("risk", 1))
    assert set(regression.stage("production").gates.metrics) == {"r2"}
    assert regression.stage("production").gates.infra is None
    assert [s.file for s in regression.sources] == ["policies/default.yaml", "policies/regression.yaml"]


def test_model_owners_is_a_built_in_role():
    default = load_policies(PROJECT).get("default")
    members = default.role_members("model-owners", ("dana-ds", "@acme/diagnostics"))
    assert (members.users, members.teams) == (frozenset({"dana-ds"}), ("acme/diagnostics",))


def test_weekend_freeze_covers_production_only():
    default = load_policies(PROJECT).get("default")
    saturday = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert default.frozen("production", saturday) is not None
    assert default.frozen("staging", saturday) is None
    assert default.frozen("production", saturday - timedelta(days=2)) is None


def test_an_approval_by_an_undefined_role_is_located():
    text = DEFAULT.replace(b"- {role: risk, count: 1}", b"- {role: legal, count: 1}", 1)
    [message] = problems_of({"policies/default.yaml": text})
    assert "(stages.production.approvals.1.role)" in message and "role 'legal' is not defined" in message


def test_an_extends_cycle_is_refused():
    files = {"policies/a.yaml": b"version: 1\nextends: b\n", "policies/b.yaml": b"version: 1\nextends: a\n"}
    assert any("cycle" in m for m in problems_of(files))


def test_extending_a_missing_policy_is_refused():
    assert any(
        "extends 'nope', which does not exist" in m
        for m in problems_of({"policies/a.yaml": b"version: 1\nextends: nope\n"})
    )


def test_schema_errors_name_the_policy_file_and_key():
    text = DEFAULT.replace(b"    soak: 1h", b"    soak: an hour")
    [message] = problems_of({"policies/default.yaml": text})
    assert message.startswith("policies/default.yaml:") and "(stages.production.soak)" in message


def test_a_freeze_window_that_ends_before_it_starts_is_refused():
    text = DEFAULT.replace(
        b"freeze:\n", b"freeze:\n  - {start: '2026-12-24T00:00:00Z', end: '2026-12-20T00:00:00Z', reason: holidays}\n"
    )
    assert any("ends before it starts" in m for m in problems_of({"policies/default.yaml": text}))


def test_a_policy_without_stages_is_refused():
    assert any("at least one stage" in m for m in problems_of({"policies/default.yaml": b"version: 1\n"}))


def test_policies_are_read_one_file_at_a_time_following_extends():
    asked: list[str] = []

    def read(path: str) -> bytes | None:
        asked.append(path)
        target = PROJECT / path
        return target.read_bytes() if target.is_file() else None

    policies = read_policies(read, ["regression"])
    assert sorted(policies.names) == ["default", "regression"]
    assert sorted(set(asked)) == ["policies/default.yaml", "policies/regression.yaml"]
    assert policies.get("regression").stage("production").approvals == (Approval("ml-lead", 1), Approval("risk", 1))
