"""Evidence: everything a report shows, as plain values. Validation fills it; other checks (the infrastructure
sandbox) append their own gates and sections with `Evidence.add`; the report renders any section generically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bot.evidence import GateResult, Status, overall


@dataclass
class Table:
    """A table of the report; `fold` puts it in a collapsed <details> block."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""
    fold: bool = False


@dataclass
class Section:
    """One part of the report: a summary line, key figures, tables, optional Mermaid charts, and `data`
    (numbers for report.json only)."""

    title: str
    summary: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    chart: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    charts: list[str] = field(default_factory=list)  # more Mermaid charts, after `chart`


@dataclass
class Evidence:
    model: str
    version: str
    stage: str
    task: str
    inputs: dict[str, Any] = field(default_factory=dict)
    gates: list[GateResult] = field(default_factory=list)
    sections: dict[str, Section] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return overall(self.gates)

    def add(self, key: str, section: Section | None = None, gates: list[GateResult] | tuple[()] = ()) -> None:
        """Append gates and a section (replacing a section of the same key)."""
        self.gates.extend(gates)
        if section is not None:
            self.sections[key] = section

    def add_figures(self, key: str, title: str, figures: dict[str, Any], gates: list[GateResult]) -> None:
        """The shape other checks return (gate results plus a dict of figures) as a section of its own."""
        self.add(key, Section(title, figures=figures), gates)

    def counts(self) -> dict[str, int]:
        found = {s.value: 0 for s in Status}
        for gate in self.gates:
            found[gate.status.value] += 1
        return found

    def as_dict(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = clean(
            {
                "schema": "modelbot.evidence/1",
                "model": self.model,
                "version": self.version,
                "stage": self.stage,
                "task": self.task,
                "status": self.status.value,
                "counts": self.counts(),
                "inputs": self.inputs,
                "gates": [g.as_dict() for g in self.gates],
                "sections": {k: _section_dict(s) for k, s in self.sections.items()},
                "notes": self.notes,
            }
        )
        return cleaned


def _section_dict(section: Section) -> dict[str, Any]:
    return {
        "title": section.title,
        "summary": section.summary,
        "figures": section.figures,
        "tables": [{"title": t.title, "columns": t.columns, "rows": t.rows, "note": t.note} for t in section.tables],
        "chart": section.chart,
        "charts": section.charts,
        "data": section.data,
    }


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars and arrays plain numbers and lists, tuples lists."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, Status):
        return value.value
    if hasattr(value, "tolist") and not isinstance(value, str):
        return clean(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str) or value is None:
        return value
    return str(value)
