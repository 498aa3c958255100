"""Reading models.yaml: the example is valid, and every kind of mistake is named with its place."""

from pathlib import Path

import pytest

from bot.errors import InvalidFile
from bot.registry import parse

EXAMPLE = (Path(__file__).resolve().parents[2] / "models.yaml").read_text()


def problems_of(text: str) -> list[str]:
    with pytest.raises(InvalidFile) as info:
        parse(text)
    return [str(p) for p in info.value.problems]


def test_the_example_registry_reads_into_typed_values():
    registry = parse(EXAMPLE)
    tumor = registry.models["tumor-malignancy"]
    assert tumor.stages == {"staging": "2", "production": "1"}
    assert [v.id for v in tumor.versions] == ["1", "2"]
    assert tumor.version(2).uri == "models:/tumor-malignancy/2"
    assert tumor.evaluation.slice_crosses == (("size_band", "texture_band"),)
    assert registry.models["diabetes-progression"].stages["production"] is None


def test_a_schema_violation_names_the_key_path_line_and_expectation():
    text = EXAMPLE.replace("      production: 1\n", "      production: [1]\n")
    [message] = problems_of(text)
    line = EXAMPLE.splitlines().index("      production: 1") + 1
    assert message.startswith(f"models.yaml:{line}:7 (models.tumor-malignancy.stages.production)")
    assert "is not valid" in message


def test_an_unknown_key_lists_the_keys_allowed_there():
    [message] = problems_of(EXAMPLE.replace("    task: regression", "    task: regression\n    taks: regression"))
    assert "models.diabetes-progression.taks" in message
    assert "unknown key" in message and "evaluation" in message


def test_a_stage_pointing_at_an_unregistered_version_is_refused():
    [message] = problems_of(EXAMPLE.replace("      staging: 2\n", "      staging: 9\n"))
    assert "(models.tumor-malignancy.stages.staging)" in message
    assert "version 9, which is not registered; registered: 1, 2" in message


def test_a_version_registered_twice_is_refused():
    messages = problems_of(EXAMPLE.replace("      - version: 2\n", "      - version: 1\n"))
    assert any("version 1 is registered twice (first at versions[0])" in m for m in messages)


def test_evaluation_data_must_be_pinned():
    text = EXAMPLE.replace("      sha256: a9f8d304f57e198414689c5ce720ca3c6ffdd93dc4f5efd60295cc82719f6cd6\n", "")
    [message] = problems_of(text)
    assert "models.tumor-malignancy.evaluation" in message and "'sha256' is required" in message


def test_traffic_weights_must_add_up_to_100():
    text = EXAMPLE.replace(
        "      production: null\n", "      production: null\n    deployment:\n      staging: {traffic: {'1': 60}}\n"
    )
    [message] = problems_of(text)
    assert "add up to 60; expected 100" in message


def test_a_cross_of_slices_must_pair_declared_slice_columns():
    [message] = problems_of(EXAMPLE.replace("- [size_band, texture_band]", "- [size_band, colour]"))
    assert "slice_crosses" in message and "colour" in message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "empty"),
        ("- just\n- a list\n", "expected a mapping"),
        ("version: 1\nmodels: {}\nmodels: {}\n", "duplicate key 'models'"),
        ("version: 2\nmodels: {}\n", "version"),
    ],
)
def test_files_that_are_not_a_registry_are_refused(text, expected):
    assert any(expected in m for m in problems_of(text))
