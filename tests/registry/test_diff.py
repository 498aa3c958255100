"""diff(before, after): stage transitions and their kinds, and version entry changes."""

from pathlib import Path

import pytest

from bot.registry import parse
from bot.registry.diff import Transition, diff, version_changes

EXAMPLE = (Path(__file__).resolve().parents[2] / "models.yaml").read_text()
BEFORE = parse(EXAMPLE)


def after(*replacements: tuple[str, str]) -> object:
    text = EXAMPLE
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    return parse(text)


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ("      production: 1\n", "      production: 2\n"),
            Transition("tumor-malignancy", "production", "1", "2", "promote"),
        ),
        (("      staging: 2\n", "      staging: 1\n"), Transition("tumor-malignancy", "staging", "2", "1", "rollback")),
        (
            ("      production: null\n", "      production: 1\n"),
            Transition("diabetes-progression", "production", None, "1", "promote"),
        ),
        (
            ("      staging: 2\n", "      staging: null\n"),
            Transition("tumor-malignancy", "staging", "2", None, "demote"),
        ),
    ],
)
def test_a_stage_change_is_one_transition_of_the_right_kind(change, expected):
    assert diff(BEFORE, after(change)) == [expected]


def test_nothing_changed_means_no_transitions():
    assert diff(BEFORE, parse(EXAMPLE)) == []


def test_a_new_model_brings_a_transition_per_stage_it_fills():
    assert diff(None, BEFORE) == [
        Transition("tumor-malignancy", "staging", None, "2", "new_model"),
        Transition("tumor-malignancy", "production", None, "1", "new_model"),
        Transition("diabetes-progression", "staging", None, "1", "new_model"),
    ]


def test_a_removed_model_retires_every_stage_it_held():
    start = EXAMPLE.index("  diabetes-progression:")
    assert diff(BEFORE, parse(EXAMPLE[:start])) == [
        Transition("diabetes-progression", "staging", "1", None, "retire"),
    ]


def test_version_entries_report_registration_and_rewrite():
    changed = after(("metrics: {roc_auc: 0.981, brier: 0.052}", "metrics: {roc_auc: 0.999, brier: 0.052}"))
    assert [(c.model, c.version, c.change) for c in version_changes(BEFORE, changed)] == [
        ("tumor-malignancy", "1", "modified")
    ]
