"""`POST /feedback` bodies, read as what they are: claims of anonymous clients about one answer.

A label reaches the rollout's analysis (`bot/deploy/traffic.py`) and monitoring's performance checks
(`bot/monitor/source.py`) through the prediction log, so what the gateway accepts is bounded here: a JSON object
with a `request_id` and one `label` (or `outcome`) that is a finite number, a boolean or a short string, or a flat
list of them, one per row of the answer. Nested values, NaN and infinity are refused at the door (400 naming the
field); anything accepted can be logged, and read back, as plain JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_BYTES = 1024 * 1024
MAX_TEXT = 1000  # characters of one string label
MAX_LABELS = 100_000  # labels of one answer (one per row)


class BadFeedback(ValueError):
    """A feedback body the gateway refuses (400); the message names the field and what is expected."""


@dataclass(frozen=True)
class Feedback:
    request_id: str
    truth: Any  # a scalar, or a list of scalars (one per row)


def _refuse_constant(name: str) -> Any:
    raise BadFeedback(f"the body holds {name}, which is no label: send a finite number, a boolean or a string")


def _scalar(value: Any) -> bool:
    if isinstance(value, bool | str):
        return not isinstance(value, str) or len(value) <= MAX_TEXT
    return isinstance(value, int | float) and math.isfinite(value)


def parse(body: bytes) -> Feedback:
    """The request id and the label of a feedback body, or BadFeedback saying what is wrong with it."""
    try:
        found = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadFeedback("the body is nested too deeply; feedback is a flat JSON object") from None
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, BadFeedback):
            raise
        raise BadFeedback(f"the body is not valid JSON: {exc}") from None
    if not isinstance(found, dict) or not isinstance(found.get("request_id"), str):
        raise BadFeedback(
            "feedback is a JSON object with 'request_id' (a string) and 'label' (the true label) or 'outcome'"
        )
    if "label" not in found and "outcome" not in found:
        raise BadFeedback("feedback needs 'label' (the true label) or 'outcome'")
    field = "label" if "label" in found else "outcome"
    truth = found[field]
    if isinstance(truth, list):
        if not truth or len(truth) > MAX_LABELS or not all(_scalar(v) for v in truth):
            raise BadFeedback(
                f"'{field}' is a list: it must hold 1 to {MAX_LABELS} labels, one per row of the answer, each a "
                f"finite number, a boolean or a string of at most {MAX_TEXT} characters"
            )
    elif not _scalar(truth):
        raise BadFeedback(
            f"'{field}' must be a finite number, a boolean or a string of at most {MAX_TEXT} characters (or a list "
            f"of them, one per row of the answer); got {type(truth).__name__}"
        )
    return Feedback(found["request_id"], truth)


def misfit(truth: Any, rows: int | None) -> str | None:
    """Why `truth` cannot be the labels of an answer of `rows` rows (None when it can, or the rows are unknown):
    one label per row, a bare label only for one row."""
    if rows is None:
        return None
    count = len(truth) if isinstance(truth, list) else 1
    if count == rows:
        return None
    return f"the answer has {rows} row(s) and the feedback {count} label(s); send one label per row"


def rows_of(predictions: Any) -> int | None:
    """How many rows an answer's predictions hold (a list: one item per row), None when that cannot be told."""
    return len(predictions) if isinstance(predictions, Sequence) and not isinstance(predictions, str) else None
