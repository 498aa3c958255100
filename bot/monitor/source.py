"""Where logged predictions come from, read out of core as batches of bounded size.

Two sources:

- The gateway's prediction log (`modelbot serve --log-dir`): a directory holding `predictions.jsonl` and its
  rotated `.1` … `.N` (or one such file). Answers of `MODEL`/`STAGE` are read (shadow answers are not: no
  customer saw them); each request's `inputs` (dataframe_split, dataframe_records, a column mapping, CSV text)
  become its rows; `/feedback` lines give the true label of a request (a list for a request of several rows).
- A user's table: a Parquet or CSV file, or a directory of them, with these columns (TABLE_COLUMNS):
  `ts` (timestamp, ISO-8601 text or epoch milliseconds), one column per model input named as in the evaluation
  reference, `prediction` (the label or value answered); optionally `score` (the positive class's probability),
  `label` (the true label or value; empty until known), `latency_ms`, `error` (true when the request failed),
  `request_id`, and `model`/`stage` (then only the rows of MODEL and STAGE are read). Each row is one request.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import RefusedError
from bot.monitor import prefetch
from bot.monitor.batch import Batch
from bot.monitor.keys import key

LOG_FILE = "predictions.jsonl"
_log = logging.getLogger("modelbot.monitor")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK = 50_000  # log lines per batch
TABLE_COLUMNS = {
    "ts": "when the prediction was made: timestamp, ISO-8601 text or epoch milliseconds (required)",
    "prediction": "the label or value the model answered (required)",
    "<feature>": "one column per model input, named as in the evaluation reference (required)",
    "score": "probability of the positive class (optional; needed by ROC AUC, PR AUC, log loss, Brier)",
    "label": "the true label or value, empty until known (optional; needed by performance checks)",
    "latency_ms": "request latency in milliseconds (optional; needed by the latency SLO)",
    "error": "true when the request failed or fell back (optional; needed by the error-rate SLO)",
    "request_id": "the request's id (optional)",
    "model, stage": "when present, only rows of MODEL and STAGE are read (optional)",
}


class BadLog(RefusedError):
    """A log or table that cannot be monitored as given: the message names the file and what is expected."""


@dataclass(frozen=True)
class Needs:
    """The columns a run reads: model inputs and slice columns (present in the reference or declared)."""

    model: str
    stage: str
    features: tuple[str, ...]
    slices: tuple[str, ...]
    classes: tuple[str, ...]  # classification: class keys in probability-column order; () for regression
    since_ms: int
    until_ms: int


def is_table(path: Path) -> bool:
    """A Parquet or CSV file, or a directory of them (a gateway log directory holds predictions.jsonl)."""
    if path.is_dir():
        return not (path / LOG_FILE).exists() and any(_table_files(path))
    return path.suffix.lower() in (".parquet", ".pq", ".csv")


def _table_files(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(folder.rglob("*")) if p.suffix.lower() in (".parquet", ".pq", ".csv"))


def _to_ms(values: Any, where: str) -> np.ndarray:
    """A timestamp column (pyarrow) as int64 epoch milliseconds; naive timestamps are taken as UTC."""
    import pandas as pd
    import pyarrow as pa

    if values.null_count:
        raise BadLog(f"{where}: column 'ts' has {values.null_count} empty values; every row needs its time")
    kind = values.type
    if pa.types.is_timestamp(kind):
        return np.asarray(values.cast(pa.timestamp("ms", kind.tz), safe=False).cast(pa.int64()).to_numpy())
    if pa.types.is_integer(kind):
        return np.asarray(values.to_numpy(), dtype=np.int64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            parsed = pd.to_datetime(values.to_pandas(), utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise BadLog(f"{where}: column 'ts' holds text that is not an ISO-8601 time: {exc}") from None
        return np.asarray(parsed.astype("int64").to_numpy() // 1_000_000, dtype=np.int64)
    raise BadLog(f"{where}: column 'ts' holds {kind}; expected a timestamp, ISO-8601 text or epoch milliseconds")


def read_table(path: Path, needs: Needs, batch_rows: int = 1 << 17) -> Iterator[Batch]:
    """Batches of a Parquet/CSV table (file or directory), scanned with pyarrow datasets: only the needed
    columns are read, and rows of other models, stages or times are skipped where the format allows."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    files = [path] if path.is_file() else list(_table_files(path))
    if not files:
        raise BadLog(f"{path}: no such file, or a directory with no .parquet or .csv file")
    fmt = "csv" if files[0].suffix.lower() == ".csv" else "parquet"
    try:
        dataset = ds.dataset([str(f) for f in files], format=fmt)
        schema = dataset.schema
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadLog(f"{path}: cannot be read as {fmt}: {str(exc).splitlines()[0]}") from None
    present = set(schema.names)
    required = ["ts", "prediction", *needs.features]
    missing = [c for c in required if c not in present]
    if missing:
        documented = "; ".join(f"{k}: {v}" for k, v in TABLE_COLUMNS.items())
        raise BadLog(f"{path}: missing column(s) {', '.join(missing)}. Expected columns: {documented}")
    optional = [c for c in ("score", "label", "latency_ms", "error") if c in present]
    slices = [c for c in needs.slices if c in present]
    columns = list(dict.fromkeys([*required, *optional, *slices]))
    condition = None
    for name, wanted in (("model", needs.model), ("stage", needs.stage)):
        if name in present:
            term = ds.field(name) == wanted
            condition = term if condition is None else condition & term
    if fmt == "parquet":
        batches = _parquet_batches(dataset, needs, columns, condition, batch_rows)
    else:
        scanner = dataset.scanner(columns=columns, filter=condition, batch_size=batch_rows)
        batches = ((b, None) for b in scanner.to_batches())
    try:
        for record_batch, complete_ms in batches:
            if record_batch.num_rows == 0:
                continue
            ts = _to_ms(record_batch.column("ts"), str(path))
            get = record_batch.column
            score = get("score").to_numpy(zero_copy_only=False).astype(np.float64) if "score" in optional else None
            error = None
            if "error" in optional:
                error = np.asarray(get("error").fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
            latency = None
            if "latency_ms" in optional:
                latency = get("latency_ms").to_numpy(zero_copy_only=False).astype(np.float64)
            yield Batch(
                ts,
                {c: get(c) for c in (*needs.features, *slices)},
                get("prediction"),
                score,
                get("label") if "label" in optional else None,
                ts,
                latency,
                error,
                complete_ms,
            )
    except pa.ArrowInvalid as exc:
        raise BadLog(f"{path}: cannot be read as {fmt}: {str(exc).splitlines()[0]}") from None


def _parquet_batches(
    dataset: Any, needs: Needs, columns: list[str], condition: Any, batch_rows: int
) -> Iterator[tuple[Any, int | None]]:
    """Record batches of the Parquet files in file and row order, one row group at a time (columns decoded in
    parallel), decoded one batch ahead in a background thread while the caller works on the current one (see
    `prefetch`: a dataset scanner's own read-ahead buffers more and more behind a slow caller), so memory holds
    a row group or two whatever the table's size. Row groups whose `ts` statistics lie wholly outside
    [since, until) are never read; rows outside the windows are dropped when they are assigned to windows (a row
    filter would copy every batch). Each batch comes with the time before which every row has been read (the
    smallest `ts` of the row groups still to read, by their statistics; see Batch.complete_ms)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    inside = None
    if pa.types.is_timestamp(dataset.schema.field("ts").type):
        tz = dataset.schema.field("ts").type.tz
        low = pa.scalar(needs.since_ms, pa.timestamp("ms", tz))
        high = pa.scalar(needs.until_ms, pa.timestamp("ms", tz))
        inside = (ds.field("ts") >= low) & (ds.field("ts") < high)
    groups = [
        group
        for fragment in dataset.get_fragments()
        for group in fragment.split_by_row_group(filter=inside, schema=dataset.schema)
    ]

    # remaining[i]: the smallest time of row groups i, i + 1, ... (None once one of them has no statistics)
    remaining: list[int | None] = [needs.until_ms]
    for group in reversed(groups):
        first, later = _first_ms(group), remaining[-1]
        remaining.append(None if first is None or later is None else min(first, later))
    remaining.reverse()

    def read() -> Iterator[tuple[Any, int | None]]:
        for i, group in enumerate(groups):  # one row group each, no read-ahead of pyarrow's own
            scanner = ds.Scanner.from_fragment(
                group, schema=dataset.schema, columns=columns, batch_size=batch_rows, batch_readahead=0
            )
            held = None  # a group's last batch completes it: each batch is handed on once the next one is known
            for batch in scanner.to_batches():
                if held is not None:
                    yield held, remaining[i]
                held = batch
            if held is not None:
                yield held, remaining[i + 1]

    for batch, complete_ms in prefetch.ahead(read):
        if condition is not None:
            batch = pa.Table.from_batches([batch]).filter(condition).combine_chunks().to_batches()
            if not batch:
                continue
            batch = batch[0]
        yield batch, complete_ms


def _first_ms(group: Any) -> int | None:
    """A row group's smallest `ts` (epoch ms, rounded down) by its statistics; None without them."""
    try:
        low = group.row_groups[0].statistics.get("ts", {}).get("min")
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    if isinstance(low, datetime):
        return ((low if low.tzinfo else low.replace(tzinfo=UTC)) - EPOCH) // timedelta(milliseconds=1)
    if isinstance(low, int) and not isinstance(low, bool):
        return low
    return None


# --- the gateway's prediction log -----------------------------------------------------------------------------


def log_files(path: Path) -> list[Path]:
    """The log's files, oldest first: predictions.jsonl.N … .1, then predictions.jsonl."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BadLog(f"{path}: no such file or directory; expected the gateway's log directory or a table")
    rotated = sorted(
        (p for p in path.glob(f"{LOG_FILE}.*") if p.suffix[1:].isdigit()), key=lambda p: -int(p.suffix[1:])
    )
    files = [*rotated, *([path / LOG_FILE] if (path / LOG_FILE).exists() else [])]
    if not files:
        raise BadLog(f"{path}: holds no {LOG_FILE}; expected the gateway's log directory (modelbot serve --log-dir)")
    return files


def _lines(files: Sequence[Path]) -> Iterator[tuple[Path, int, str]]:
    for file in files:
        with file.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield file, number, line


def _decode(file: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLog(f"{file}:{number}: not a JSON line ({exc.msg}); expected one JSON object per line") from None
    if not isinstance(record, dict):
        raise BadLog(f"{file}:{number}: a JSON {type(record).__name__}; expected one JSON object per line")
    return record


@dataclass(frozen=True)
class Feedback:
    """True labels by request id (the one the gateway counted: the first sent about the answer), with the line
    that sent each."""

    labels: Mapping[str, Any]
    where: Mapping[str, str]


def read_feedback(files: Sequence[Path], needs: Needs) -> Feedback:
    """The `/feedback` lines the gateway matched with an answer of MODEL/STAGE (it names them). Anyone who can
    reach the gateway can send feedback: a line it could not match (no model: an id it did not remember, or
    that named two answers), or did not count (a second label of one answer), is nobody's label, and no such
    line may refuse the run, or one anonymous request would stop the monitoring of every model."""
    labels: dict[str, Any] = {}
    where: dict[str, str] = {}
    for file, number, line in _lines(files):
        if '"feedback"' not in line:
            continue
        record = _decode(file, number, line)
        if record.get("kind") != "feedback":
            continue
        if record.get("model") != needs.model or record.get("stage") != needs.stage:
            continue
        request_id = record.get("request_id")
        if not isinstance(request_id, str) or record.get("counted") is False or request_id in labels:
            continue
        labels[request_id] = record.get("truth")
        where[request_id] = f"{file.name}:{number}"
    return Feedback(labels, where)


def rows_of(inputs: Any) -> list[Mapping[str, Any]] | None:
    """A request's inputs as rows of named values; None when they name no columns (e.g. bare tensors)."""
    if isinstance(inputs, str):
        return list(csv.DictReader(io.StringIO(inputs)))
    if isinstance(inputs, dict):
        if "columns" in inputs and "data" in inputs:
            columns = inputs["columns"]
            return [dict(zip(columns, row, strict=False)) for row in inputs["data"]]
        lists = [v for v in inputs.values() if isinstance(v, list)]
        if lists and len(lists) == len(inputs):
            count = len(lists[0])
            return [{k: v[i] if i < len(v) else None for k, v in inputs.items()} for i in range(count)]
        return [inputs]
    if isinstance(inputs, list) and all(isinstance(r, dict) for r in inputs):
        return inputs
    return None


def answer_of(prediction: Any, classes: Sequence[str]) -> tuple[Any, float]:
    """One row's answer as (label or value, positive-class score or NaN): a vector of class probabilities (or a
    mapping by class) gives the most probable class and the last class's probability."""
    if isinstance(prediction, dict):
        if classes and all(key(k) in classes for k in prediction):
            by_key = {key(k): v for k, v in prediction.items()}
            probabilities = [float(by_key.get(c) or 0.0) for c in classes]
            return classes[int(np.argmax(probabilities))], probabilities[-1]
        prediction = next(iter(prediction.values())) if len(prediction) == 1 else prediction
    if isinstance(prediction, list):
        if len(prediction) == 1:
            return answer_of(prediction[0], classes)
        numbers = [p for p in prediction if isinstance(p, int | float) and not isinstance(p, bool)]
        if numbers and len(numbers) == len(prediction):
            best = int(np.argmax(numbers))
            return (classes[best] if best < len(classes) else best), float(numbers[-1])
    return prediction, float("nan")


def _ms(text: Any, where: str) -> int:
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise BadLog(f"{where}: 'ts' is {text!r}; expected an ISO-8601 time") from None


class _Block:
    """Rows and requests gathered from log lines until a batch is full."""

    def __init__(self, needs: Needs) -> None:
        self.needs = needs
        self.ts: list[int] = []
        self.columns: dict[str, list[Any]] = {c: [] for c in (*needs.features, *needs.slices)}
        self.prediction: list[Any] = []
        self.score: list[float] = []
        self.label: list[Any] = []
        self.request_ts: list[int] = []
        self.latency: list[float] = []
        self.error: list[bool] = []

    def batch(self) -> Batch:
        return Batch(
            np.array(self.ts, dtype=np.int64),
            {c: np.array(v, dtype=object) for c, v in self.columns.items()},
            np.array(self.prediction, dtype=object),
            np.array(self.score, dtype=np.float64),
            np.array(self.label, dtype=object),
            np.array(self.request_ts, dtype=np.int64),
            np.array(self.latency, dtype=np.float64),
            np.array(self.error, dtype=bool),
        )


def read_log(path: Path, needs: Needs) -> Iterator[Batch]:
    """Batches of the gateway's log for MODEL/STAGE, labels joined from its feedback lines. What clients put in the
    log (inputs, labels) cannot refuse the run: a label no answer of MODEL/STAGE in the log carries, or that
    does not give one label per row, and rows that cannot be paired with their answers are left out with a
    warning (read_feedback says which labels count at all)."""
    files = log_files(path)
    feedback = read_feedback(files, needs)
    matched: set[str] = set()
    misfits: list[str] = []
    unpaired: list[str] = []
    block = _Block(needs)
    count = 0
    for file, number, line in _lines(files):
        if f'"{needs.model}"' not in line:
            continue
        record = _decode(file, number, line)
        if record.get("model") != needs.model or record.get("stage") != needs.stage or record.get("shadow"):
            continue
        if record.get("kind") is not None:  # feedback, dropped mirrors: no answer (decided on the record, not
            continue  # on its text, which holds the client's inputs)
        where = f"{file}:{number}"
        ts = _ms(record.get("ts"), where)
        block.request_ts.append(ts)
        latency = record.get("latency_ms")
        block.latency.append(float(latency) if isinstance(latency, int | float) else np.nan)
        block.error.append(bool(record.get("error")) or int(record.get("status") or 200) >= 500)
        count += 1
        predictions = record.get("prediction")
        rows = rows_of(record.get("inputs")) if predictions is not None else None
        answers = predictions if isinstance(predictions, list) else [predictions]
        if rows and len(answers) != len(rows):
            # the inputs are logged as the client shaped them (MLflow may broadcast a scalar column), so rows
            # this reader cannot pair with the answers are left out and said, never a refusal of the run
            unpaired.append(where)
        elif rows:
            request_id = record.get("request_id")
            truth = feedback.labels.get(request_id) if isinstance(request_id, str) else None
            if isinstance(request_id, str) and request_id in feedback.labels:
                matched.add(request_id)
            truths = _truths(truth, len(rows))
            if truths is None:
                misfits.append(feedback.where.get(str(request_id), where))
                truths = [None] * len(rows)
            for row, answer, true in zip(rows, answers, truths, strict=True):
                value, score = answer_of(answer, needs.classes)
                block.ts.append(ts)
                for column, values in block.columns.items():
                    values.append(row.get(column))
                block.prediction.append(value)
                block.score.append(score)
                block.label.append(true)
        if count >= CHUNK:
            yield block.batch()
            block, count = _Block(needs), 0
    if count:
        yield block.batch()
    unknown = [r for r in feedback.labels if r not in matched]
    if unknown or misfits:
        # labels are the clients' word, and late ones outlive rotated answers: left out and said, never a refusal
        _log.warning(
            "%s: %d feedback label(s) of %s/%s left out: %d name a request no answer in the log carries (e.g. %s), "
            "%d do not give one label per row of their answer (e.g. %s)",
            path,
            len(unknown) + len(misfits),
            needs.model,
            needs.stage,
            len(unknown),
            feedback.where[unknown[0]] if unknown else "-",
            len(misfits),
            misfits[0] if misfits else "-",
        )
    if unpaired:
        _log.warning(
            "%s: the rows of %d request(s) of %s/%s left out (counted as requests): their logged inputs and "
            "predictions hold different numbers of rows (e.g. %s)",
            path,
            len(unpaired),
            needs.model,
            needs.stage,
            unpaired[0],
        )


def _truths(truth: Any, rows: int) -> list[Any] | None:
    """One label per row (None for each without a label); None when `truth` cannot label this request's rows."""
    if truth is None:
        return [None] * rows
    if isinstance(truth, list):
        return truth if len(truth) == rows else None
    return [truth] if rows == 1 else None
