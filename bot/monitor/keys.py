"""Category keys: one text per value, the same whether it came from a CSV, Parquet or a JSON request, so that
classes and categories compare across sources (a whole float is its integer: 1.0 and 1 are both "1")."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def key(value: Any) -> str | None:
    """One value's key; None for a missing value."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def keys(values: Any) -> Any:
    """An array (numpy, pyarrow or a list) as a pyarrow string array of keys, nulls kept."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        kind = values.type
        if pa.types.is_dictionary(kind):
            values, kind = values.cast(kind.value_type), kind.value_type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return values.cast(pa.string())
        if pa.types.is_integer(kind):
            return values.cast(pa.string())
        if pa.types.is_boolean(kind):
            return values.cast(pa.string())
        if pa.types.is_floating(kind):
            finite = pc.is_finite(values)
            nan = pc.and_(pc.is_nan(values), pc.is_valid(values))
            values = pc.if_else(nan, pa.scalar(None, kind), values)
            whole = pc.all(pc.or_kleene(pc.equal(pc.floor(values), values), pc.invert(finite))).as_py()
            if whole is not False and pc.all(pc.or_kleene(finite, pc.is_null(values))).as_py() is not False:
                return values.cast(pa.int64()).cast(pa.string())
        values = values.to_pylist()
    return pa.array([key(v) for v in _iterate(values)], type=pa.string())


def _iterate(values: Any) -> Iterable[Any]:
    found: Iterable[Any] = values.tolist() if isinstance(values, np.ndarray) else values
    return found
