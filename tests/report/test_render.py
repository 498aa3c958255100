"""report.md and report.json: the verdict first, every section rendered, never over GitHub's comment limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.evidence import GateResult, Status
from bot.report import LIMIT, markdown, write
from bot.validation.record import Evidence, Section, Table


def _evidence(*statuses: Status, rows: int = 3) -> Evidence:
    ev = Evidence(
        "churn",
        "7",
        "production",
        "binary_classification",
        inputs={
            "bot_version": "0.1.0",
            "candidate": {"uri": "models:/churn/7"},
            "evaluation_data": {"sha256": "ab" * 32},
            "policy": {"files": {"policies/default.yaml": "cd" * 32}},
        },
    )
    ev.add(
        "metrics",
        Section(
            "Metrics",
            "Candidate against champion.",
            tables=[
                Table(
                    "Metrics", ["Metric", "Candidate"], [[f"m{i}", i / 3] for i in range(rows)], note="95 % intervals"
                )
            ],
        ),
        [GateResult(f"g{i}", s, f"reason {i} | with a pipe") for i, s in enumerate(statuses)],
    )
    return ev


@pytest.mark.parametrize(
    "statuses,first",
    [
        ((Status.PASS, Status.PASS), "## ✅ Validation passed: all 2 gate(s) pass for churn 7 → production"),
        ((Status.PASS, Status.FAIL, Status.INCONCLUSIVE), "## ❌ Validation failed: 1 gate(s) fail, 1 inconclusive,"),
        ((Status.PASS, Status.INCONCLUSIVE), "## ⚠️ Validation inconclusive: 1 gate(s) cannot be decided"),
    ],
)
def test_report_opens_with_a_one_line_verdict(statuses: tuple[Status, ...], first: str) -> None:
    text, _ = markdown(_evidence(*statuses))
    assert text.splitlines()[0].startswith(first)
    assert ("(not a pass)" in text.splitlines()[0]) == first.startswith("## ⚠️")


def test_gates_are_listed_failures_first_with_cells_escaped() -> None:
    text, _ = markdown(_evidence(Status.PASS, Status.FAIL))
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`g" in line]
    assert rows[0].startswith("| ❌ | `g1`") and "reason 1 \\| with a pipe" in rows[0]


def test_sections_from_other_checks_render_generically() -> None:
    ev = _evidence(Status.PASS)
    ev.add_figures(
        "infra",
        "Serving sandbox",
        {"p95 latency (ms)": 41.5, "error rate": 0.0},
        [GateResult("infra.sla.p95_ms", Status.FAIL, "p95 41.5 ms > 40 ms")],
    )
    text, _ = markdown(ev)
    assert "### Serving sandbox" in text and "| p95 latency (ms) | 41.5 |" in text
    assert ev.status is Status.FAIL and "`infra.sla.p95_ms`" in text


def test_a_long_report_is_folded_then_truncated_with_a_pointer_and_stays_under_the_limit() -> None:
    folded, how = markdown(_evidence(Status.PASS, rows=900), limit=8_000)
    assert how["folded"] and not how["truncated"] and len(folded) <= 8_000
    assert "<details><summary>Metrics (900 rows)</summary>" in folded and "more rows in the full report" in folded
    ev = _evidence(*([Status.FAIL] * 3000))
    text, how = markdown(ev, pointer="https://example.test/artifact")
    assert how["truncated"] and len(text) <= LIMIT
    assert text.rstrip().endswith("the full evidence is in https://example.test/artifact.")
    assert text.count("<details>") == text.count("</details>") and text.count("```") % 2 == 0


def test_report_json_holds_every_number_and_input_hash(tmp_path: Path) -> None:
    ev = _evidence(Status.PASS)
    ev.gates.append(GateResult("nan.gate", Status.INCONCLUSIVE, "no value", float("nan"), 1.0))
    md_path, json_path = write(ev, tmp_path / "out")
    record = json.loads(json_path.read_text())
    assert record["status"] == "inconclusive" and record["counts"]["inconclusive"] == 1
    assert record["inputs"]["evaluation_data"]["sha256"] == "ab" * 32
    assert record["inputs"]["policy"]["files"]["policies/default.yaml"] == "cd" * 32
    assert record["sections"]["metrics"]["tables"][0]["rows"][2] == ["m2", pytest.approx(2 / 3)]
    assert record["gates"][-1]["observed"] is None
    assert record["report"]["chars"] == len(md_path.read_text())
