"""The typed `gates`: parsed once by the loader, with the schema's defaults, and giving back the policy's words."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.policy import load_policies, parse_files
from bot.policy.gates import (
    BaselineGain,
    Bootstrap,
    Bounds,
    ChampionMargins,
    DataChecks,
    Drift,
    ErrorAnalysis,
    Gates,
    Infra,
    LoadTest,
    Robustness,
    Sla,
    Slices,
)
from bot.policy.load import merged_data

PROJECT = Path(__file__).resolve().parents[2]

# Every object of the schema's `gates`, by its path there, and the value type that holds it.
OBJECTS: dict[tuple[str, ...], type[Any]] = {
    (): Gates,
    ("bootstrap",): Bootstrap,
    ("metrics", "*"): Bounds,
    ("champion", "*"): ChampionMargins,
    ("baseline", "*"): BaselineGain,
    ("slices",): Slices,
    ("error_analysis",): ErrorAnalysis,
    ("robustness",): Robustness,
    ("data",): DataChecks,
    ("data", "drift"): Drift,
    ("infra",): Infra,
    ("infra", "load_test"): LoadTest,
    ("infra", "sla"): Sla,
}


def _schema_object(path: tuple[str, ...]) -> dict[str, Any]:
    node: dict[str, Any] = json.loads((PROJECT / "bot/schemas/policy.schema.json").read_text())["$defs"]["gates"]
    for key in path:
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
    return node


def _fields(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls) if f.name != "written"}


@pytest.mark.parametrize("path", list(OBJECTS), ids=lambda p: ".".join(p) or "gates")
def test_each_value_type_holds_exactly_the_keys_the_schema_allows(path: tuple[str, ...]) -> None:
    assert set(_fields(OBJECTS[path])) == set(_schema_object(path)["properties"])


@pytest.mark.parametrize("path", list(OBJECTS), ids=lambda p: ".".join(p) or "gates")
def test_a_default_the_schema_states_is_the_value_types_default(path: tuple[str, ...]) -> None:
    fields = _fields(OBJECTS[path])
    stated = {key: spec["default"] for key, spec in _schema_object(path)["properties"].items() if "default" in spec}
    for key, default in stated.items():
        assert fields[key].default == default, key


def _stage_gates(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = [stage["gates"] for stage in data.get("stages", {}).values() if "gates" in stage]
    return found + ([data["rollback"]["gates"]] if "gates" in data.get("rollback", {}) else [])


def test_every_shipped_policy_reads_back_as_written() -> None:
    """The plan shows a step's gates as the policy wrote them: same keys, same order, same numbers (1 not 1.0)."""
    policies = load_policies(PROJECT)
    seen = 0
    for name in policies.names:
        for model in (None, "tumor-malignancy"):
            data, _ = merged_data(policies, name, model)
            policy = policies.get(name, model)
            typed = [s.gates for s in policy.stages if s.gates.names]
            typed += [policy.rollback.gates] if policy.rollback.gates is not None else []
            for raw, gates in zip(_stage_gates(data), typed, strict=True):
                assert json.dumps(gates.as_dict()) == json.dumps(raw)
                seen += 1
    assert seen >= 6


EDGES = """\
version: 1
roles: {oncall: {users: [omar]}}
stages:
  staging:
    gates:
      infra: {sla: {}, tries: 1, replay: false}
      metrics: {accuracy: {max: 1, min: 0}}
      champion: {f1: {min_improvement: 0, relative: true, non_inferiority: 0.5}}
      data: {drift: {}}
  production:
    gates:
      infra: {load_test: {}}
      slices: {metric: mae}
rollback:
  gates: {}
"""


def _policy(text: str = EDGES) -> Any:
    return parse_files({"policies/default.yaml": text.encode()}).get("default")


def test_keys_written_in_any_order_with_integers_and_empty_sections_read_back_as_written() -> None:
    policy = _policy()
    raw = yaml.safe_load(EDGES)
    for stage in ("staging", "production"):
        assert json.dumps(policy.stage(stage).gates.as_dict()) == json.dumps(raw["stages"][stage]["gates"])
    assert policy.rollback.gates is not None and policy.rollback.gates.as_dict() == {}


def test_the_loader_types_every_value_and_fills_the_defaults() -> None:
    staging, production = _policy().stage("staging").gates, _policy().stage("production").gates
    assert staging.confidence == 0.95 and staging.bootstrap == Bootstrap() and staging.averaging == "macro"
    assert staging.metrics["accuracy"].limits() == (("min", True, 0), ("max", False, 1))
    assert staging.champion["f1"].margins() == (("non_inferiority", 0.5), ("min_improvement", 0))
    assert staging.champion["f1"].relative is True
    assert staging.slices is None and staging.data.drift.limits() == () and staging.robustness.probes == ()
    assert staging.error_analysis.min_segment_share == 0.05 and staging.error_analysis.max_flip_rate is None
    infra = staging.infra
    assert infra is not None and (infra.mode, infra.workers, infra.load_deadline_s, infra.parity_tolerance) == (
        "query",
        1,
        120.0,
        1e-6,
    )
    # An empty `sla:` names no figure, so nothing is measured under load; an empty `load_test:` asks for one.
    assert not infra.sla.named and not infra.measures_load and infra.sla.max_error_rate == 0.0
    assert production.infra is not None and production.infra.measures_load
    assert production.infra.load_test is not None and production.infra.load_test.request_count == 100
    assert production.slices == Slices("mae", written=("metric",))
    assert (production.slices.min_rows, production.slices.correction) == (30, "holm")


def test_an_empty_rollback_gates_means_none_and_an_absent_one_falls_back_to_the_stage() -> None:
    assert _policy().rollback.gates is not None and not _policy().rollback.gates.names
    assert _policy(EDGES.replace("rollback:\n  gates: {}\n", "")).rollback.gates is None


def test_a_stage_without_gates_has_the_defaults_and_names_none() -> None:
    gates = _policy("version: 1\nstages: {staging: {}}\n").stage("staging").gates
    assert gates == Gates() and gates.names == () and gates.as_dict() == {} and gates.infra is None
