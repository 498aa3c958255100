"""Rollout strategies: the state each step writes to models.yaml, from the policy's `deploy` and the change."""

from __future__ import annotations

from typing import Any

import pytest

from bot.deploy import strategies
from bot.errors import RefusedError
from bot.policy.deploy import DeployPolicy
from bot.policy.load import parse_deploy as policy

CANARY = policy({"strategy": "canary", "canary": {"steps": [10, 50, 100]}, "fallback": {"version": "previous"}})


@pytest.mark.parametrize(
    ("deploy", "kind", "previous", "candidate", "state"),
    [
        ({"strategy": "direct"}, "promote", "1", "2", {"strategy": "direct", "traffic": {2: 100}}),
        ({"strategy": "direct", "fallback": {"version": "previous"}}, "promote", "1", "2",
         {"strategy": "direct", "traffic": {2: 100}, "fallback": 1}),
        (CANARY, "promote", "1", "2",
         {"strategy": "canary", "step": 0, "traffic": {1: 90, 2: 10}, "fallback": 1}),
        ({"strategy": "shadow", "shadow": {"mirror_percent": 25}}, "promote", "1", "2",
         {"strategy": "shadow", "traffic": {1: 100}, "shadow": 2, "mirror_percent": 25}),
        ({"strategy": "blue-green"}, "promote", "1", "2",
         {"strategy": "blue-green", "traffic": {1: 100}, "preview": 2}),
        ({"strategy": "ab", "ab": {"challenger_percent": 20, "sticky_key": "customer_id"}}, "promote", "1", "2",
         {"strategy": "ab", "traffic": {1: 80, 2: 20}, "sticky_key": "customer_id"}),
        # Restoring service never waits for a canary, and a first version has nothing to split against.
        (CANARY, "rollback", "2", "1", {"strategy": "direct", "traffic": {1: 100}}),
        (CANARY, "new_model", None, "1", {"strategy": "direct", "traffic": {1: 100}}),
    ],
)
def test_the_first_state_of_each_strategy(deploy: Any, kind: str, previous: str | None, candidate: str,
                                          state: dict[str, Any]) -> None:
    deploy = deploy if isinstance(deploy, DeployPolicy) else policy(deploy)
    rollout = strategies.start(deploy, kind, previous, candidate)
    assert rollout is not None
    assert rollout.as_state() == state


def test_an_emptied_stage_has_no_state() -> None:
    assert strategies.start(CANARY, "demote", "2", None) is None


def test_a_canary_walks_its_steps_and_then_is_complete() -> None:
    rollout = strategies.start(CANARY, "promote", "1", "2")
    assert rollout is not None
    seen = [rollout.as_state()["traffic"]]
    while not rollout.complete:
        rollout = strategies.advance(rollout, CANARY)
        seen.append(rollout.as_state()["traffic"])
    assert seen == [{1: 90, 2: 10}, {1: 50, 2: 50}, {2: 100}]
    assert rollout.as_state() == {"strategy": "canary", "step": 2, "traffic": {2: 100}, "fallback": 1}
    with pytest.raises(RefusedError, match="complete"):
        strategies.advance(rollout, CANARY)


def test_steps_that_stop_short_of_100_end_with_the_switch() -> None:
    assert strategies.canary_steps(policy({"canary": {"steps": [5, 25]}})) == (5.0, 25.0, 100.0)


def test_a_canary_may_shadow_first_and_then_take_traffic() -> None:
    deploy = policy({"strategy": "canary"}, {"steps": ["shadow", 20], "mirror_percent": 50})
    rollout = strategies.start(deploy, "promote", "1", "2")
    assert rollout is not None
    states = [rollout.as_state()]
    while not rollout.complete:
        rollout = strategies.advance(rollout, deploy)
        states.append(rollout.as_state())
    assert states == [
        {"strategy": "canary", "step": 0, "traffic": {1: 100}, "shadow": 2, "mirror_percent": 50},
        {"strategy": "canary", "step": 1, "traffic": {1: 80, 2: 20}},
        {"strategy": "canary", "step": 2, "traffic": {2: 100}},
    ]
    assert strategies.from_state(states[0], "2") == strategies.start(deploy, "promote", "1", "2")


@pytest.mark.parametrize("strategy", ["shadow", "blue-green", "ab"])
def test_shadow_blue_green_and_ab_switch_to_the_candidate_in_one_step(strategy: str) -> None:
    deploy = policy({"strategy": strategy})
    rollout = strategies.start(deploy, "promote", "1", "2")
    assert rollout is not None and not rollout.complete
    switched = strategies.advance(rollout, deploy)
    assert switched.complete
    assert switched.as_state()["traffic"] == {2: 100}
    assert "shadow" not in switched.as_state() and "preview" not in switched.as_state()


def test_a_state_reads_back_as_the_rollout_it_was_written_from() -> None:
    rollout = strategies.start(CANARY, "promote", "1", "2")
    assert rollout is not None
    assert strategies.from_state(rollout.as_state(), "2") == rollout


def test_a_state_left_from_an_earlier_rollout_is_not_read_as_this_one() -> None:
    old = {"strategy": "canary", "step": 1, "traffic": {1: 50, 2: 50}}
    assert strategies.from_state(old, "3") is None


@pytest.mark.parametrize(
    ("kind", "before", "after", "expected"),
    [
        # The proposal wrote the first step itself: taken as written.
        ("promote", None, {"strategy": "canary", "step": 1, "traffic": {1: 50, 2: 50}},
         {"strategy": "canary", "step": 1, "traffic": {1: 50, 2: 50}}),
        # A state the change did not touch belongs to the last rollout: the strategy starts afresh.
        ("promote", {"strategy": "direct", "traffic": {1: 100}}, {"strategy": "direct", "traffic": {1: 100}},
         {"strategy": "canary", "step": 0, "traffic": {1: 90, 2: 10}, "fallback": 1}),
        # After a rollback the canary left in the file is ignored: the stage goes straight back.
        ("rollback", {"strategy": "canary", "step": 1, "traffic": {1: 50, 2: 50}},
         {"strategy": "canary", "step": 1, "traffic": {1: 50, 2: 50}}, {"strategy": "direct", "traffic": {1: 100}}),
    ],
)
def test_the_target_of_a_stage_change(kind: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
                                      expected: dict[str, Any]) -> None:
    previous, candidate = ("2", "1") if kind == "rollback" else ("1", "2")
    rollout = strategies.target(CANARY, kind, previous, candidate, before, after)
    assert rollout is not None
    assert rollout.as_state() == expected


def test_a_step_is_the_state_the_commit_wrote() -> None:
    state = {"strategy": "canary", "step": 1, "traffic": {1: 50, 2: 50}}
    rollout = strategies.target(CANARY, "step", "2", "2", {"strategy": "canary", "step": 0}, state)
    assert rollout is not None and rollout.candidate_percent == 50 and rollout.stable == "1"


def test_a_step_that_describes_another_version_is_refused() -> None:
    with pytest.raises(RefusedError, match="does not describe version 3"):
        strategies.target(CANARY, "step", "3", "3", None, {"strategy": "canary", "traffic": {1: 50, 2: 50}})


def test_the_fallback_carries_the_failover_version_and_the_policys_constant() -> None:
    deploy = policy({"strategy": "canary", "fallback": {"version": "previous", "constant": {"malignant": 0},
                                                        "timeout_ms": 250}})
    rollout = strategies.start(deploy, "promote", "1", "2")
    fallback = strategies.fallback(deploy, rollout)
    assert (fallback.version, fallback.constant, fallback.timeout_ms) == ("1", {"malignant": 0}, 250.0)
    assert strategies.fallback(policy({}), strategies.start(policy({}), "promote", "1", "2")).configured is False
