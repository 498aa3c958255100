"""Minimal-diff edits: a promotion changes only its stage line, a registration only adds its version block.

Golden tests on the example file, then properties over generated registries written in many styles (indents,
comments, blank lines, quoting, flow and block collections).
"""

import difflib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import yamlio
from bot.errors import InvalidFile
from bot.registry import parse
from bot.registry.edit import add_version, set_deployment, set_stage

EXAMPLE = (Path(__file__).resolve().parents[2] / "models.yaml").read_text()
SHA = "ab" * 32
NEW_ENTRY = {
    "version": 99,
    "uri": "models:/m/99",
    "created_at": "2026-11-20T10:00:00Z",
    "created_by": "dana-ds",
    "metrics": {"roc_auc": 0.93},
    "lineage": {"code_commit": "abc1234", "params": {"C": 0.5, "note": "a: b"}},
}


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def test_a_promotion_rewrites_exactly_the_stage_line():
    new, registry = set_stage(EXAMPLE, "tumor-malignancy", "production", "2")
    assert changed_lines(EXAMPLE, new) == (["      production: 1"], ["      production: 2"])
    assert registry.models["tumor-malignancy"].stages["production"] == "2"


def test_a_stage_the_model_did_not_list_is_added_as_one_line():
    new, _ = set_stage(EXAMPLE, "diabetes-progression", "canary", "1")
    assert changed_lines(EXAMPLE, new) == ([], ["      canary: 1"])


def test_a_registration_appends_one_block_after_the_last_version():
    new, registry = add_version(EXAMPLE, "tumor-malignancy", {**NEW_ENTRY, "uri": "models:/tumor-malignancy/99"})
    removed, added = changed_lines(EXAMPLE, new)
    assert removed == []
    assert added[0] == "      - version: 99" and all(line.startswith("        ") for line in added[1:])
    assert new.index("- version: 99") < new.index("    stages:\n      staging: 2")
    assert registry.models["tumor-malignancy"].version(99).lineage["params"] == {"C": 0.5, "note": "a: b"}


def test_an_unregistered_version_is_refused_and_nothing_changes():
    with pytest.raises(InvalidFile, match="version 7 of 'tumor-malignancy' is not registered; registered: 1, 2"):
        set_stage(EXAMPLE, "tumor-malignancy", "production", "7")


def test_an_unknown_model_is_refused_with_the_known_ones():
    with pytest.raises(InvalidFile, match=r"model .churn. is not in models\.yaml; known: tumor-malignancy"):
        set_stage(EXAMPLE, "churn", "production", "1")


def test_a_registration_that_breaks_the_schema_is_refused():
    with pytest.raises(InvalidFile, match="created_by"):
        add_version(
            EXAMPLE, "tumor-malignancy", {"version": 5, "uri": "models:/x/5", "created_at": "2026-11-20T10:00:00Z"}
        )


# ---- properties over generated registries -------------------------------------------------------------

comments = st.sampled_from(["", "  # note", "   # keep: this comment", "  # ümlaut ✓"])
quote = st.sampled_from(["{}", "'{}'", '"{}"'])


@st.composite
def registries(draw):
    """A valid models.yaml in a randomly chosen human style, and its models' version ids."""
    ind = " " * draw(st.sampled_from([2, 4]))
    dash_inside = draw(st.booleans())
    lines = ["# yaml-language-server: $schema=bot/schemas/models.schema.json", "version: 1", "", "models:"]
    models = {}
    for m in range(draw(st.integers(1, 3))):
        name = f"model-{m}"
        ids = list(range(1, draw(st.integers(1, 4)) + 1))
        models[name] = ids
        lines += [
            f"{ind}{name}:{draw(comments)}",
            f"{ind * 2}description: Model {m}",
            f"{ind * 2}owners: [dana]",
            f"{ind * 2}task: regression",
            f"{ind * 2}evaluation: {{data: e.csv, sha256: {SHA}, target: y}}",
        ]
        if draw(st.booleans()):
            lines.append("")
        lines.append(f"{ind * 2}versions:{draw(comments)}")
        dash = ind * 3 if dash_inside else ind * 2
        for v in ids:
            lines.append(f"{dash}- version: {draw(quote).format(v) if draw(st.booleans()) else v}{draw(comments)}")
            lines.append(f"{dash}  uri: models:/{name}/{v}")
            lines.append(f'{dash}  created_at: "2026-11-0{v}T10:00:00Z"')
            lines.append(f"{dash}  created_by: dana")
            if draw(st.booleans()):
                lines.append(f"{dash}  metrics: {{mae: {v}.5}}")
            if draw(st.booleans()):
                lines.append(f"{dash}  # a comment between versions")
        if draw(st.booleans()):
            lines.append("")
        held = {s: draw(st.sampled_from(ids)) for s in draw(st.sets(st.sampled_from(["staging", "production"])))}
        if draw(st.booleans()) or not held:
            pairs = ", ".join(f"{s}: {draw(quote).format(v)}" for s, v in held.items())
            lines.append(f"{ind * 2}stages: {{{pairs}}}{draw(comments)}")
        else:
            lines.append(f"{ind * 2}stages:")
            lines += [f"{ind * 3}{s}: {draw(quote).format(v)}{draw(comments)}" for s, v in held.items()]
        lines += [""] * draw(st.integers(0, 2))
    return "\n".join(lines) + "\n", models


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registries(), st.data())
def test_any_promotion_changes_one_line_and_only_the_stage(generated, data):
    text, models = generated
    model = data.draw(st.sampled_from(sorted(models)))
    stage = data.draw(st.sampled_from(["staging", "production", "canary"]))
    version = data.draw(st.sampled_from(models[model]))
    before = yamlio.load(text, "models.yaml")
    new, registry = set_stage(text, model, stage, str(version))
    removed, added = changed_lines(text, new)
    held = before["models"][model]["stages"].get(stage)
    if held is not None and str(held) == str(version):
        assert new == text or (len(added), len(removed)) == (1, 1)
        return
    assert len(added) == 1 and len(removed) <= 1
    assert len(new.splitlines()) == len(text.splitlines()) + (1 - len(removed))
    after = yamlio.load(new, "models.yaml")
    assert str(after["models"][model]["stages"][stage]) == str(version)
    after["models"][model]["stages"].pop(stage)
    before["models"][model]["stages"].pop(stage, None)
    assert after == before
    assert registry.models[model].stages[stage] == str(version)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registries(), st.data())
def test_any_registration_only_adds_the_new_block(generated, data):
    text, models = generated
    model = data.draw(st.sampled_from(sorted(models)))
    new, registry = add_version(text, model, NEW_ENTRY)
    removed, added = changed_lines(text, new)
    assert removed == []
    assert added[0].lstrip() == "- version: 99" and len(added) == len(new.splitlines()) - len(text.splitlines())
    start = new.splitlines().index(added[0])
    assert new.splitlines()[start : start + len(added)] == added
    assert [v.id for v in registry.models[model].versions][-1] == "99"
    assert parse(new).models[model].version(99).metrics == {"roc_auc": 0.93}


CANARY = {"strategy": "canary", "step": 0, "traffic": {"1": 90, "2": 10}}


def test_deployment_state_is_added_set_and_removed_one_line_at_a_time():
    first, registry = set_deployment(EXAMPLE, "tumor-malignancy", "production", CANARY)
    assert changed_lines(EXAMPLE, first) == (
        [],
        ["    deployment:", "      production: {strategy: canary, step: 0, traffic: {'1': 90, '2': 10}}"],
    )
    assert registry.models["tumor-malignancy"].deployment["production"]["traffic"] == {"1": 90, "2": 10}
    second, _ = set_deployment(
        first, "tumor-malignancy", "production", {**CANARY, "step": 1, "traffic": {"1": 50, "2": 50}}
    )
    removed, added = changed_lines(first, second)
    assert len(removed) == len(added) == 1 and "step: 1" in added[0]
    back, _ = set_deployment(second, "tumor-malignancy", "production", None)
    assert back == EXAMPLE  # the revert of the first step is the original file


def test_a_block_style_deployment_entry_is_replaced_by_one_line():
    text = EXAMPLE.replace(
        "      production: null\n",
        "      production: null\n    deployment:\n      staging:\n"
        "        strategy: shadow  # mirrored\n        shadow: 1\n",
    )
    new, _ = set_deployment(text, "diabetes-progression", "staging", {"strategy": "direct"})
    assert changed_lines(text, new) == (
        ["      staging:", "        strategy: shadow  # mirrored", "        shadow: 1"],
        ["      staging: {strategy: direct}"],
    )


def test_deployment_state_pointing_at_an_unregistered_version_is_refused():
    with pytest.raises(InvalidFile, match="refers to version 7, which is not registered"):
        set_deployment(EXAMPLE, "tumor-malignancy", "production", {"strategy": "shadow", "shadow": 7})
