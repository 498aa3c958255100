"""Attacks on `modelbot serve` by its anonymous clients, who may call any route and send any feedback: can they
forge the evidence a rollout advances on (`advance` reads the gateway's log and metrics), or stop monitoring?

One small gateway of its own (two behaviour models, 2x + y, so every process loads in seconds): an A/B test in
production (sticky by X-User) and a canary in staging, both of versions 1 and 2.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.deploy.strategies import Rollout
from bot.deploy.traffic import DEFAULT_QUERIES, JsonLinesLog
from bot.policy.deploy import OutcomeRule, RolloutPolicy
from bot.serving import routing
from bot.serving.state import Plan
from tests.infra.conftest import InfraStore
from tests.serving.support import Gateway, Registry, running, until

ROW = {"dataframe_records": [{"x": 1.0, "y": 2.0}]}  # 2x + y = 4.0
AB = Rollout("ab", "2", "1", traffic={"1": 50.0, "2": 50.0}, sticky_key="X-User")
RULES = RolloutPolicy(min_requests=1, outcome=OutcomeRule("accuracy", min_labels=1, non_inferiority=0.1))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    store = InfraStore(tmp_path_factory.mktemp("attack-mlflow"))
    one, two = store.behaviour(), store.behaviour(chatty=True)
    registry = Registry(tmp_path_factory.mktemp("attack-repo"))
    registry.set("beh", {"1": one, "2": two}, {"staging": "2", "production": "2"},
                 {"staging": {"strategy": "canary", "step": 0, "traffic": {1: 50, 2: 50}},
                  "production": {"strategy": "ab", "traffic": {1: 50, 2: 50}, "sticky_key": "X-User"}})
    store.point()
    with running(registry.path, store.env(), tmp_path_factory.mktemp("attack-log")) as gw:
        yield gw


def user_in(arm_version: str) -> str:
    """An X-User value the A/B test sends to `arm_version` (found by the same hash the gateway uses)."""
    return next(f"user-{i}" for i in range(1000)
                if routing.pick((("1", 50.0), ("2", 50.0)), routing.key_draw("beh", "production", f"user-{i}"))
                == arm_version)


def feedback(gateway: Gateway, body: object) -> tuple[int, dict[str, object]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    said = gateway.request("POST", "/feedback", raw, {"Content-Type": "application/json"})
    return said.status, said.json()


@pytest.mark.slow
def test_one_answer_labelled_again_and_again_counts_once(gateway: Gateway) -> None:
    """A client of the challenger arm labels its one answer wrong 30 times: without a bound, it outvotes every
    honest label of the arm and the A/B test rolls back a good challenger."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    before = gateway.metric("modelbot_feedback_total", model="beh", stage="production", version="2")
    answer = gateway.invoke("beh", "production", ROW, {"X-Request-Id": "amp-1", "X-User": user_in("2")})
    assert answer.status == 200 and answer.version == "2" and answer.json() == {"predictions": [4.0]}
    said = [feedback(gateway, {"request_id": "amp-1", "label": 0.0}) for _ in range(30)]
    assert said[0] == (202, {**said[0][1], "outcome": "wrong", "counted": True})
    assert all(status == 202 and body["counted"] is False for status, body in said[1:])
    assert gateway.metric("modelbot_feedback_total", model="beh", stage="production", version="2") == before + 1
    log = JsonLinesLog(gateway.log_dir / "predictions.jsonl")
    assert until(lambda: sum(r.get("request_id") == "amp-1" for r in gateway.log_records()) == 31)
    window = log.window("beh", "production", AB, since, RULES)
    assert window.candidate_outcomes is not None and window.candidate_outcomes.count == 1
    # the same lines written by an older gateway (no `counted`): still one label per answer
    older = gateway.log_dir / "older.jsonl"
    older.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "counted"}) + "\n"
                             for r in gateway.log_records() if r.get("request_id") == "amp-1"))
    window = JsonLinesLog(older).window("beh", "production", AB, since, RULES)
    assert window.candidate_outcomes is not None and window.candidate_outcomes.count == 1


@pytest.mark.slow
def test_a_reused_request_id_gives_no_one_elses_label_to_another_answer(gateway: Gateway) -> None:
    """An honest client's answer (challenger) then the attacker's request under the same X-Request-Id (control):
    the honest label would have been counted for the control arm. An id that named two answers names none."""
    before = gateway.metric("modelbot_feedback_total", model="beh", stage="production")
    honest = gateway.invoke("beh", "production", ROW, {"X-Request-Id": "shared-1", "X-User": user_in("2")})
    hijack = gateway.invoke("beh", "production", ROW, {"X-Request-Id": "shared-1", "X-User": user_in("1")})
    assert (honest.version, hijack.version) == ("2", "1")
    status, body = feedback(gateway, {"request_id": "shared-1", "label": 4.0})
    assert status == 202 and body["outcome"] == "ambiguous" and body["counted"] is False and body["known"] is False
    assert gateway.metric("modelbot_feedback_total", model="beh", stage="production") == before
    assert until(lambda: any(r.get("kind") == "feedback" and r["request_id"] == "shared-1"
                             for r in gateway.log_records()))
    [line] = [r for r in gateway.log_records() if r.get("kind") == "feedback" and r["request_id"] == "shared-1"]
    assert "model" not in line and "version" not in line  # nobody's label: advance and monitor skip it


@pytest.mark.slow
def test_feedback_about_a_pinned_answer_is_no_arms_evidence(gateway: Gateway) -> None:
    """Anyone may pin a version (X-Modelbot-Version, as the deploy's live check does): labels of pinned answers
    would let a client choose which arm it labels. Prometheus's default queries and the log both leave them out."""
    since = datetime.now(UTC)
    for i in range(5):
        answer = gateway.invoke("beh", "production", ROW, {"X-Request-Id": f"pin-{i}", "X-Modelbot-Version": "2"})
        assert answer.version == "2" and answer.headers["x-modelbot-arm"] == "pinned"
        assert feedback(gateway, {"request_id": f"pin-{i}", "label": 0.0})[1]["counted"] is True
    assert gateway.metric("modelbot_feedback_total", model="beh", version="2", arm="pinned", outcome="wrong") == 5
    for name in ("feedback_correct", "feedback_wrong", "requests", "errors", "p95_ms"):
        assert 'arm!="pinned"' in DEFAULT_QUERIES[name], name
    assert until(lambda: sum(r.get("request_id", "").startswith("pin-") for r in gateway.log_records()) == 10)
    window = JsonLinesLog(gateway.log_dir / "predictions.jsonl").window("beh", "production", AB, since, RULES)
    assert window.candidate_outcomes is not None and window.candidate_outcomes.count == 0


@pytest.mark.slow
def test_a_canary_client_cannot_choose_its_arm_with_a_key(gateway: Gateway) -> None:
    """X-Modelbot-Key makes A/B sticky; on a canary it let a client send all its requests (slow, failing, or
    flattering ones) to the arm of its choice. A key value that would hold one arm still sees both."""
    seen = {gateway.invoke("beh", "staging", ROW, {"X-Modelbot-Key": "steer"}).version for _ in range(40)}
    assert seen == {"1", "2"}  # all 40 in one arm of a fair 50/50 draw: 2 ** -39
    sticky = {gateway.invoke("beh", "production", ROW, {"X-Modelbot-Key": "steer"}).version for _ in range(10)}
    assert len(sticky) == 1  # the A/B test's own stickiness stays


@pytest.mark.slow
def test_hostile_feedback_bodies_are_refused_naming_the_field(gateway: Gateway) -> None:
    answer = gateway.invoke("beh", "production", {"dataframe_records": [{"x": 1.0, "y": 2.0}, {"x": 0.0, "y": 1.0}]},
                            {"X-Request-Id": "two-rows"})
    assert answer.status == 200
    cases: list[tuple[bytes | object, str]] = [
        (b'{"request_id": "two-rows", "label": NaN}', "NaN"),
        (b'{"request_id": "two-rows", "label": [Infinity, 1]}', "Infinity"),
        ({"request_id": "two-rows", "label": {"nested": [1, 2]}}, "'label' must be"),
        ({"request_id": "two-rows", "outcome": [[1], [2]]}, "'outcome' is a list"),
        ({"request_id": "two-rows", "label": "x" * 1001}, "at most 1000 characters"),
        ({"request_id": "two-rows", "label": [1.0, 2.0, 3.0]}, "2 row(s) and the feedback 3 label(s)"),
        ({"request_id": "two-rows", "label": 4.0}, "2 row(s) and the feedback 1 label(s)"),
        (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
        ({"request_id": 7, "label": 1}, "'request_id' (a string)"),
    ]
    for body, says in cases:
        status, said = feedback(gateway, body)
        assert status == 400 and says in str(said["message"]), (body if len(str(body)) < 100 else "deep", said)
    status, said = feedback(gateway, {"request_id": "two-rows", "label": [4.0, 1.0]})  # 2x + y of each row
    assert status == 202 and said["outcome"] == "correct" and said["counted"] is True


@pytest.mark.slow
def test_what_clients_put_in_the_log_never_stops_monitoring(gateway: Gateway) -> None:
    """Feedback about ids never answered, inputs holding the text the monitor once skipped lines by
    ('"feedback"', '"kind":"feedback"'), labels of another model: the log of this module's attacks is read."""
    from bot.monitor import source

    for body in ({"request_id": "never-answered", "label": 1.0}, {"request_id": "x" * 5000, "label": "y"}):
        assert feedback(gateway, body)[0] == 202
    hidden = {"dataframe_records": [{"x": 1.0, "y": 2.0, "kind": "feedback", "note": "\"feedback\""}]}
    answer = gateway.invoke("beh", "staging", hidden, {"X-Request-Id": "hidden-1"})
    assert answer.status == 200, answer.body
    assert until(lambda: any(r.get("request_id") == "hidden-1" for r in gateway.log_records()))
    needs = source.Needs("beh", "staging", ("x", "y"), (), (), 0, 2**62)
    rows = sum(len(b.ts) for b in source.read_log(gateway.log_dir, needs))
    answered = [r for r in gateway.log_records() if r.get("stage") == "staging" and "kind" not in r
                and not r.get("shadow")]
    assert rows == sum(len(r["inputs"]) for r in answered) and any(r["request_id"] == "hidden-1" for r in answered)


def test_the_routing_of_a_canary_ignores_keys_and_an_ab_test_follows_them() -> None:
    canary = Plan("m", "production", "canary", "2", (("1", 90.0), ("2", 10.0)), {"1": "u1", "2": "u2"})
    rng = random.Random(3)
    draws = [rng.random() * 100 for _ in range(2000)]
    keyed = [routing.route(canary, {"x-modelbot-key": "k"}, d, 0.0).version for d in draws]
    plain = [routing.route(canary, {}, d, 0.0).version for d in draws]
    assert keyed == plain  # the draw decides, whatever the key
    ab = Plan("m", "production", "ab", "2", (("1", 50.0), ("2", 50.0)), {"1": "u1", "2": "u2"})
    assert len({routing.route(ab, {"x-modelbot-key": "k"}, d, 0.0).version for d in draws}) == 1


def test_feedback_parse_bounds_what_reaches_the_log() -> None:
    from bot.serving.feedback import BadFeedback, misfit, parse, rows_of

    assert parse(b'{"request_id": "r", "outcome": true}').truth is True
    assert parse(b'{"request_id": "r", "label": ["a", 1, 2.5, false]}').truth == ["a", 1, 2.5, False]
    for body in (b'{"request_id": "r", "label": null}', b'{"request_id": "r", "label": []}',
                 b'{"request_id": "r", "label": -Infinity}', b"\xff\xfe", b"{}"):
        with pytest.raises(BadFeedback):
            parse(body)
    assert misfit([1, 0], 2) is None and misfit(1, 1) is None and misfit(1, None) is None
    assert misfit([1], 2) is not None and misfit(1, 3) is not None
    assert rows_of([[0.1, 0.9]]) == 1 and rows_of("text") is None and rows_of(4.0) is None


def test_answers_remembered_for_feedback_are_bounded_by_their_rows(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers are remembered for /feedback by count and by rows: 100,000 answers of a 10 MB body each would hold
    the gateway's memory. The oldest are forgotten first; the rows counted stay equal to those remembered."""
    import time

    from bot.serving import gateway as engine

    monkeypatch.setattr(engine, "FEEDBACK_ROWS", 1000)
    gw = engine.Gateway(engine.Settings(repo=tmp_path))
    plan = Plan("m", "production", "direct", "1", (("1", 100.0),), {"1": "u1"})
    route = routing.Route("1", "candidate")
    for i in range(30):
        served = engine._Served("1", b"", [0.5] * 300)
        gw._record(f"big-{i}", plan, route, served, None, time.perf_counter(), None, 200)
    gw._record("big-29", plan, route, engine._Served("1", b"", [0.5]), None, time.perf_counter(), None, 200)
    remembered = list(gw._served)
    assert remembered == ["big-27", "big-28", "big-29"]  # 300 + 300 + 1 (ambiguous) rows
    assert gw._served_rows == 601 == sum(e.get("rows") or 1 for e in gw._served.values())
    assert gw.feedback("big-0", 1.0)["known"] is False and gw.feedback("big-29", 1.0)["known"] is False
    assert gw.feedback("big-28", [0.5] * 300)["known"] is True
