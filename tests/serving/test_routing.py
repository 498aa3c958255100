"""Routing, payload checks and the serving state: pure functions, no process (fast)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.deploy.base import Fallback
from bot.serving import payloads, routing
from bot.serving.state import Plan, read
from tests.serving.support import Registry


def plan(**kwargs: object) -> Plan:
    base: dict[str, object] = {"model": "m", "stage": "production", "strategy": "canary", "candidate": "2",
                               "traffic": (("1", 90.0), ("2", 10.0)), "uris": {"1": "u1", "2": "u2", "3": "u3"},
                               "stable": "1"}
    base.update(kwargs)
    return Plan(**base)  # type: ignore[arg-type]


def test_pick_gives_each_arm_its_band_of_draws() -> None:
    traffic = (("1", 90.0), ("2", 10.0))
    draws = [i / 100 for i in range(10_000)]  # 0.00 ... 99.99, evenly
    shares = Counter(routing.pick(traffic, d) for d in draws)
    assert shares == {"1": 9000, "2": 1000}
    assert routing.pick((("1", 0.0), ("2", 100.0)), 0.0) == "2"
    assert routing.pick((("a", 1.0), ("b", 1.0), ("c", 2.0)), 99.999) == "c"
    with pytest.raises(ValueError, match="positive traffic weight"):
        routing.pick((("1", 0.0),), 5.0)


def test_canary_share_follows_the_weight() -> None:
    rng = random.Random(1)
    p = plan()
    routes = [routing.route(p, {}, rng.random() * 100, rng.random() * 100) for _ in range(20_000)]
    share = sum(r.version == "2" for r in routes) / len(routes)
    assert abs(share - 0.10) < 0.01  # 4.7 standard deviations of a binomial share
    assert {r.arm for r in routes if r.version == "2"} == {"candidate"}
    assert {r.arm for r in routes if r.version == "1"} == {"stable"}


def test_ab_keeps_a_user_in_one_arm_and_splits_users() -> None:
    p = plan(strategy="ab", traffic=(("1", 50.0), ("2", 50.0)), sticky_key="X-User")
    rng = random.Random(2)
    arms: dict[str, set[str]] = {}
    for user in range(400):
        for _ in range(3):
            route = routing.route(p, {"x-user": f"user-{user}"}, rng.random() * 100, rng.random() * 100)
            arms.setdefault(f"user-{user}", set()).add(route.version)
    assert all(len(seen) == 1 for seen in arms.values())
    share = sum(seen == {"2"} for seen in arms.values()) / len(arms)
    assert 0.40 < share < 0.60
    # the key's draw is a hash: the same on every gateway, and independent of the random draw
    here = routing.key_draw("m", "production", "user-7")
    code = "from bot.serving import routing; print(repr(routing.key_draw('m', 'production', 'user-7')))"
    for seed in ("1", "2"):  # another process with another hash seed: what another gateway computes
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONHASHSEED": seed})
        assert float(other.stdout) == here
    fallback_header = routing.route(p, {"x-modelbot-key": "user-7"}, 0.0, 0.0)
    assert fallback_header == routing.route(p, {"x-user": "user-7"}, 99.0, 0.0)


def test_shadow_is_mirrored_by_its_percentage_and_never_answers() -> None:
    p = plan(strategy="shadow", traffic=(("1", 100.0),), shadow="2", mirror_percent=25.0)
    assert routing.route(p, {}, 50.0, 24.9) == routing.Route("1", "stable", "2")
    assert routing.route(p, {}, 50.0, 25.0) == routing.Route("1", "stable", None)
    assert p.versions == ("1", "2")


def test_preview_answers_only_who_asks_for_it() -> None:
    p = plan(strategy="blue-green", traffic=(("1", 100.0),), preview="2")
    assert routing.route(p, {"x-modelbot-preview": "1"}, 0.0, 0.0) == routing.Route("2", "preview")
    assert routing.route(p, {"x-modelbot-preview": "no"}, 0.0, 0.0).version == "1"
    assert routing.route(p, {}, 99.9, 0.0).version == "1"


def test_versions_in_use_include_the_fallback() -> None:
    p = plan(fallback=Fallback(version="3", timeout_ms=100))
    assert p.versions == ("1", "2", "3")
    assert p.live == ("1", "2")


def test_payload_errors_name_the_problem() -> None:
    with pytest.raises(payloads.BadInput, match="not valid JSON"):
        payloads.decode_json(b"{nope")
    with pytest.raises(payloads.BadInput, match="got a list"):
        payloads.decode_json(b"[1, 2]")
    with pytest.raises(payloads.BadInput, match="exactly one of the keys"):
        payloads.decode_json(b'{"instances": [1], "inputs": [1]}')
    with pytest.raises(payloads.BadInput, match="unknown key 'rows'"):
        payloads.decode_json(b'{"inputs": [1], "rows": 2}')
    assert payloads.decode_json(b'{"inputs": [1], "params": {"k": 1}}')["inputs"] == [1]


def test_invalid_answers_are_recognised() -> None:
    import numpy as np

    assert payloads.invalid(np.array([1.0, 2.0]), 2) is None
    assert payloads.invalid(np.array([1.0]), 2) == "it answered 1 rows for 2"
    assert "not finite" in (payloads.invalid(np.array([[0.5, np.nan]]), 1) or "")
    assert payloads.invalid(np.array(["a", "b"]), 2) is None


def test_labels_and_agreement() -> None:
    assert payloads.label([0.2, 0.8], (0, 1)) == 1
    assert payloads.label([0.7, 0.2, 0.1], ("a", "b", "c")) == "a"
    assert payloads.label(["yes"], None) == "yes"
    assert payloads.agree([[0.1, 0.9], [0.6, 0.4]], [[0.3, 0.7], [0.9, 0.1]], (0, 1))
    assert not payloads.agree([[0.1, 0.9]], [[0.9, 0.1]], (0, 1))
    assert payloads.agree([3.0], [3.0000000001], None)
    assert not payloads.agree([1, 2], [1], None)


def test_state_at_a_ref_reads_each_stage_rollout(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "repo")
    uris = {"1": "models:/m/1", "2": "models:/m/2"}
    first = registry.set("m", uris, {"staging": "2", "production": "1"})
    registry.set("m", uris, {"staging": "2", "production": "2"},
                 {"production": {"strategy": "canary", "step": 0, "traffic": {1: 90, 2: 10}}})
    state = read(registry.path, "HEAD")
    production = state.plan("m", "production")
    assert production is not None and production.traffic == (("1", 90.0), ("2", 10.0))
    assert production.fallback == Fallback(version="1", timeout_ms=3000.0)  # policy: previous, 3 s
    staging = state.plan("m", "staging")
    assert staging is not None and staging.traffic == (("2", 100.0),)
    assert staging.fallback == Fallback(constant=-1, timeout_ms=300.0)
    older = read(registry.path, first or "HEAD~1")
    assert older.plan("m", "production") is not None
    assert older.plan("m", "production").traffic == (("1", 100.0),)  # type: ignore[union-attr]
    # a promotion without a written state starts the policy's strategy: a canary at its first step
    registry.set("m", uris, {"staging": "1", "production": "2"})
    registry.models["m"]["deployment"] = {}
    promoted = read(registry.path, registry.commit("staging back to 1"))
    assert promoted.backends() == {"models:/m/1": ("m", "1"), "models:/m/2": ("m", "2")}


def test_a_pinned_request_goes_to_the_version_it_names_if_the_stage_holds_it() -> None:
    p = plan()
    assert routing.route(p, {"x-modelbot-version": "2"}, 0.0, 0.0) == routing.Route("2", "pinned")
    assert routing.route(p, {"x-modelbot-version": "1"}, 99.0, 0.0) == routing.Route("1", "pinned")
    assert routing.route(p, {"x-modelbot-version": "3"}, 0.0, 0.0) == routing.Route("1", "stable")  # not the stage's
