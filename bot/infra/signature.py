"""API consistency: what a model's MLflow signature accepts, against the evaluation data and the champion.

Callers send what the champion accepts today, so a candidate that requires a column the champion does not
take, or a narrower type than the champion declares, breaks them on the day it is deployed. The type rules
follow MLflow's own schema enforcement (`mlflow.models.utils._enforce_mlflow_datatype`): a column is accepted
as declared, or widened int -> long, float -> double, int -> double; everything else is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# (declared by the model, offered by the caller): conversions MLflow makes without loss.
_WIDENING = frozenset({("long", "integer"), ("double", "integer"), ("double", "float")})


@dataclass(frozen=True)
class Column:
    """One column of a column-based schema; `name` is None for an unnamed single output."""

    name: str | None
    type: str
    required: bool = True
    spec: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tensor:
    dtype: str
    shape: tuple[int, ...]
    name: str | None = None


Schema = tuple[Column, ...] | tuple[Tensor, ...]


@dataclass(frozen=True)
class Signature:
    inputs: Schema | None
    outputs: Schema | None


@dataclass(frozen=True)
class ApiReport:
    """Problems break callers (the gate fails); notes are worth a reviewer's glance."""

    checked: bool
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "problems": list(self.problems), "notes": list(self.notes)}


def parse_schema(raw: str | list[Any] | None) -> Schema | None:
    """An MLflow schema as stored in MLmodel (a JSON list of column or tensor specs)."""
    if raw is None:
        return None
    items = json.loads(raw) if isinstance(raw, str) else raw
    if items and all(item.get("type") == "tensor" for item in items):
        return tuple(
            Tensor(str(i["tensor-spec"]["dtype"]), tuple(int(d) for d in i["tensor-spec"]["shape"]), i.get("name"))
            for i in items
        )
    return tuple(Column(i.get("name"), str(i["type"]), bool(i.get("required", True)), i) for i in items)


def from_dict(raw: Mapping[str, Any] | None) -> Signature | None:
    """A signature from `ModelSignature.to_dict()` (JSON strings per part), or None when none was logged."""
    if not raw:
        return None
    return Signature(parse_schema(raw.get("inputs")), parse_schema(raw.get("outputs")))


def pandas_type(dtype: Any) -> str:
    """The MLflow type name of a pandas/numpy dtype, as MLflow's own schema inference would name it."""
    kind = getattr(dtype, "kind", "O")
    size = getattr(dtype, "itemsize", 8)
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "long" if size >= 8 or (kind == "u" and size >= 4) else "integer"
    if kind == "f":
        return "float" if size <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind == "S":
        return "binary"
    return "string"


def accepts(declared: str, offered: str) -> bool:
    return declared == offered or (declared, offered) in _WIDENING


def columns_of(schema: Schema | None) -> dict[str, Column] | None:
    """Named input columns, or None for a tensor schema (no columns to compare)."""
    if schema is None or any(isinstance(s, Tensor) for s in schema):
        return None
    return {c.name: c for c in schema if isinstance(c, Column) and c.name is not None}


def check(candidate: Signature | None, data_types: Mapping[str, str], champion: Signature | None = None) -> ApiReport:
    """The candidate's inputs against the evaluation data's columns and types and the champion's inputs;
    its outputs against the champion's outputs."""
    if candidate is None or candidate.inputs is None:
        return ApiReport(False, notes=("the candidate has no input signature: the server cannot check requests",))
    wanted = columns_of(candidate.inputs)
    if wanted is None:
        return ApiReport(False, notes=("the candidate takes tensors: columns are not compared",))
    problems = _against(wanted, data_types, "the evaluation data")
    notes: list[str] = []
    offered = columns_of(champion.inputs) if champion is not None else None
    if champion is None:
        notes.append("no champion signature to compare with")
    elif offered is None:
        notes.append("the champion has no column signature: callers' columns are unknown")
    else:
        problems += _against(wanted, {n: c.type for n, c in offered.items()}, "the champion", new_column_hint=True)
        dropped = sorted(set(offered) - set(wanted))
        if dropped:
            notes.append(f"the candidate ignores columns the champion takes: {', '.join(dropped)}")
    if champion is not None:
        problems += _outputs(candidate.outputs, champion.outputs)
    return ApiReport(True, tuple(problems), tuple(notes))


def _against(
    wanted: Mapping[str, Column], offered: Mapping[str, str], who: str, new_column_hint: bool = False
) -> list[str]:
    problems = []
    for name, column in wanted.items():
        if name not in offered:
            if column.required:
                hint = " (callers do not send it yet)" if new_column_hint else ""
                problems.append(
                    f"the candidate requires input column `{name}` ({column.type}), which {who} does not have{hint}"
                )
            continue
        if not accepts(column.type, offered[name]):
            problems.append(f"input column `{name}`: the candidate declares {column.type}, {who} has {offered[name]}")
    return problems


def _outputs(candidate: Schema | None, champion: Schema | None) -> list[str]:
    if candidate is None or champion is None:
        return []
    shown = [_describe(s) for s in candidate]
    before = [_describe(s) for s in champion]
    if shown == before:
        return []
    return [f"the output changes from {', '.join(before)} to {', '.join(shown)}: callers parse the old one"]


def _describe(spec: Column | Tensor) -> str:
    if isinstance(spec, Tensor):
        return f"tensor {spec.dtype}{list(spec.shape)}"
    return f"{spec.name or '(unnamed)'}: {spec.type}"


def fetch(uri: str) -> Signature | None:
    """The signature logged with a model, read from its MLmodel file only (no model code runs)."""
    from mlflow.models import get_model_info

    signature = get_model_info(uri).signature
    return from_dict(signature.to_dict()) if signature is not None else None


def data_types(frame: Any, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    return {str(name): pandas_type(dtype) for name, dtype in frame.dtypes.items() if name not in exclude}
