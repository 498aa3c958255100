"""One pass over the batches, per window: counts over every row (rows, nulls, values of the wrong type, numbers
outside the reference's range, category counts, requests, errors, a latency histogram) and bounded fixed-seed
samples (numbers for KS and PSI, labelled rows for performance).

Memory is bounded by the window count, never by the log's size: a sample is a bottom-k sample (every row draws
a random key; a window keeps the rows with the `k` smallest keys), which is a uniform sample without
replacement of whatever the window holds, however many rows that is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.monitor.batch import Batch
from bot.monitor.keys import keys
from bot.monitor.reference import NumericRef, Reference
from bot.monitor.windows import Windows

DRIFT_SAMPLE = 10_000  # rows per window for KS and numeric PSI: KS sampling error about 0.009 (0.87 / sqrt(n))
LABELLED_SAMPLE = 1_000_000  # labelled rows per window for metrics with intervals
SEED = 18
LATENCY_LOW_MS, LATENCY_DECADES, LATENCY_PER_DECADE = 1e-3, 10, 200  # bins 1.16 % wide from 1 µs to 10^7 ms


@dataclass(frozen=True, eq=False)
class NumericStats:
    nulls: int
    type_errors: int
    out_of_range: int
    sample: np.ndarray  # non-null values of a uniform sample of the window's rows, in increasing order


@dataclass(frozen=True, eq=False)
class CategoricalStats:
    nulls: int
    counts: Mapping[str, int]


ColumnStats = NumericStats | CategoricalStats


@dataclass(frozen=True, eq=False)
class Labelled:
    """A uniform sample of the window's labelled rows: truth, prediction, score, slice columns."""

    total: int
    label: Any
    prediction: Any
    score: np.ndarray | None
    slices: Mapping[str, Any]

    @property
    def rows(self) -> int:
        return len(self.label)


@dataclass(frozen=True, eq=False)
class WindowStats:
    rows: int
    requests: int
    errors: int
    latency: np.ndarray | None  # histogram over latency_bins()
    features: Mapping[str, ColumnStats]
    prediction: ColumnStats
    labelled: Labelled | None


def latency_bins() -> np.ndarray:
    """Upper edges of the latency histogram's bins (ms); the last bin holds everything above."""
    count = LATENCY_DECADES * LATENCY_PER_DECADE
    return LATENCY_LOW_MS * 10.0 ** (np.arange(1, count + 1) / LATENCY_PER_DECADE)


def to_numbers(values: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Values as float64 (NaN for missing) and the mask of values that were present but not numbers."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
            return values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False), None
        values = values.to_numpy(zero_copy_only=False)
    array = np.asarray(values)
    if array.dtype.kind in "iuf":
        return array.astype(np.float64, copy=False), None
    if array.dtype.kind == "b":
        return np.full(array.shape, np.nan), np.ones(array.shape, dtype=bool)
    present = pd.notna(array)
    kinds = np.fromiter((isinstance(v, bool) for v in array), bool, array.size) if array.dtype == object else None
    numbers = pd.to_numeric(pd.Series(array, dtype=object), errors="coerce").to_numpy(dtype=np.float64, copy=True)
    if kinds is not None:
        numbers[kinds] = np.nan
    bad = present & np.isnan(numbers)
    return numbers, bad


def _smallest(draws: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k smallest draws, in increasing order: the rows are then copied front to back (a gather in
    order is several times faster than in random order) and the sample keeps arrival order."""
    m = draws.shape[0]
    # the draws are uniform below their largest, so the k smallest are almost surely under this cut (six standard
    # deviations above k / m of the range): selecting among those is cheaper than among all; if fewer fall under
    # it, among all
    cut = float(draws.max()) * min(1.0, (k + 6.0 * k**0.5 + 16.0) / m)
    under = draws[draws < cut]
    kth = np.partition(under if under.shape[0] >= k else draws, k - 1)[k - 1]
    index = np.flatnonzero(draws <= kth)
    if index.shape[0] != k:  # another draw equal to the k-th (64-bit draws: practically never)
        index = np.sort(np.argpartition(draws, k - 1)[:k])
    return index


class _Sample:
    """Bottom-k sample of aligned columns for one window, rows in arrival order (a bootstrap's blocks follow it)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.total = 0
        self.threshold = np.inf
        self.keys: list[np.ndarray] = []
        self.parts: list[dict[str, Any]] = []
        self.size = 0

    def add(self, draws: np.ndarray, columns: Mapping[str, Any], rows: np.ndarray | None = None) -> None:
        """Offer a batch's rows (`rows`: indices of the batch rows in this window, None for all): `draws` holds
        their keys. Only the rows that can still be in the sample are copied out of the columns: those under the
        threshold, and of them at most the k with the smallest keys (the rest cannot be among the window's k
        smallest), so the sample holds the same rows as if every row had been added."""
        self.total += draws.shape[0]
        keep = np.flatnonzero(draws < self.threshold)
        if keep.shape[0] > self.k:
            keep = keep[_smallest(draws[keep], self.k)]
            # the window's k smallest keys are all at most the largest of these k: rows of later batches with a
            # larger key are never copied (the sample is the same, the copies fewer)
            self.threshold = min(self.threshold, float(draws[keep].max()))
        if keep.shape[0] == 0:
            return
        whole = rows is None and keep.shape[0] == draws.shape[0]
        index = keep if rows is None else rows[keep]
        self.keys.append(draws if whole else draws[keep])
        self.parts.append({n: c if whole else _take(c, index) for n, c in columns.items()})
        self.size += keep.shape[0]
        if self.size > 2 * self.k:
            self._prune()

    def _prune(self) -> None:
        draws = np.concatenate(self.keys)
        columns = {n: _concat([p[n] for p in self.parts]) for n in self.parts[0]}
        if draws.shape[0] > self.k:
            index = _smallest(draws, self.k)
            draws, columns = draws[index], {n: _take(c, index) for n, c in columns.items()}
            self.threshold = float(draws.max())
        self.keys, self.parts, self.size = [draws], [columns], draws.shape[0]

    def result(self) -> dict[str, Any] | None:
        if not self.parts:
            return None
        self._prune()
        return self.parts[0]


def _take(column: Any, index: np.ndarray) -> Any:
    import pyarrow as pa

    if column is None:
        return None
    if isinstance(column, pa.Array):
        return column.filter(pa.array(index)) if index.dtype == bool else column.take(pa.array(index))
    return column[index]


def _concat(parts: Sequence[Any]) -> Any:
    import pyarrow as pa

    if parts[0] is None:
        return None
    if isinstance(parts[0], pa.Array):
        return pa.concat_arrays(list(parts))
    return np.concatenate(parts)


@dataclass(frozen=True, eq=False)
class _Layout:
    """Where a batch's rows fall: each row's window and, when the rows are in time order (the usual case), each
    window present as a run of positions, so that counting per window is counting over slices."""

    window: np.ndarray
    sizes: np.ndarray  # rows per window
    runs: tuple[tuple[int, int, int], ...] | None  # (window, start, end) in order; None when rows are not in order

    @classmethod
    def of(cls, window: np.ndarray, count: int) -> _Layout:
        sizes = np.bincount(window, minlength=count)
        if window.shape[0] > 1 and not bool((window[1:] >= window[:-1]).all()):
            return cls(window, sizes, None)
        ends = np.cumsum(sizes)
        runs = tuple((w, int(ends[w] - sizes[w]), int(ends[w])) for w in np.flatnonzero(sizes).tolist())
        return cls(window, sizes, runs)

    def count(self, mask: np.ndarray) -> np.ndarray:
        """Rows per window where `mask` holds."""
        if self.runs is None:
            return np.bincount(self.window[mask], minlength=self.sizes.shape[0])
        found = np.zeros(self.sizes.shape[0], dtype=np.int64)
        for w, start, end in self.runs:
            found[w] = np.count_nonzero(mask[start:end])
        return found

    def parts(self) -> list[tuple[int, np.ndarray]]:
        """Each window present with the positions of its rows, in order."""
        if self.runs is None:
            return [(w, np.flatnonzero(self.window == w)) for w in np.flatnonzero(self.sizes).tolist()]
        return [(w, np.arange(start, end)) for w, start, end in self.runs]


class _Counts:
    """Per-window counts of the rows where a mask holds."""

    def __init__(self, windows: int) -> None:
        self.sums = np.zeros(windows, dtype=np.int64)

    def add(self, layout: _Layout, mask: np.ndarray) -> None:
        self.sums += layout.count(mask)


class Accumulator:
    def __init__(self, reference: Reference, windows: Windows, columns: Sequence[str], slices: Sequence[str]) -> None:
        self.reference, self.windows = reference, windows
        self.columns, self.slices = tuple(columns), tuple(slices)
        n = windows.count
        self.rng = np.random.default_rng(SEED)
        self.rows, self.requests, self.errors = _Counts(n), _Counts(n), _Counts(n)
        self.latency: np.ndarray | None = None
        self.nulls = {c: _Counts(n) for c in (*columns, "(prediction)")}
        self.type_errors = {c: _Counts(n) for c in (*columns, "(prediction)")}
        self.out_of_range = {c: _Counts(n) for c in (*columns, "(prediction)")}
        self.categories: dict[str, list[dict[str, int]]] = {}
        self.numeric = [c for c in columns if isinstance(reference.feature(c), NumericRef)]
        self.samples = [_Sample(DRIFT_SAMPLE) for _ in range(n)]
        self.labelled = [_Sample(LABELLED_SAMPLE) for _ in range(n)]
        self.complete_ms: int | None = None  # every row before this time has been added
        self.handed = 0  # windows before this one were handed out by completed()

    def add(self, batch: Batch) -> None:
        if batch.complete_ms is not None:
            known = self.complete_ms
            self.complete_ms = batch.complete_ms if known is None else max(known, batch.complete_ms)
        count = self.windows.count
        window = self.windows.assign(batch.ts)
        inside = window >= 0
        every = bool(inside.all())
        layout = _Layout.of(window, count) if every else None
        if batch.request_ts is batch.ts:
            self._requests(batch, window, layout)
        else:
            self._requests(batch, self.windows.assign(batch.request_ts), None)
        if batch.rows == 0:
            return
        if layout is None:
            if not inside.any():
                return
            batch = _select(batch, inside)
            window = window[inside]
            layout = _Layout.of(window, count)
        self.rows.sums += layout.sizes
        numbers: dict[str, np.ndarray] = {}
        for name in self.columns:
            ref = self.reference.feature(name)
            if isinstance(ref, NumericRef):
                numbers[name] = self._numeric(name, ref, batch.columns[name], layout)
            else:
                self._categorical(name, batch.columns[name], layout)
        prediction = self.reference.target
        if isinstance(prediction, NumericRef):
            numbers["(prediction)"] = self._numeric("(prediction)", prediction, batch.prediction, layout)
        else:
            self._categorical("(prediction)", batch.prediction, layout)
        draws = np.asarray(self.rng.random(window.shape[0]), dtype=np.float64)
        parts = layout.parts()
        if len(parts) == 1:
            self.samples[parts[0][0]].add(draws, numbers)
        else:
            for w, rows in parts:
                self.samples[w].add(draws[rows], numbers, rows)
        if batch.label is not None:
            self._labelled(batch, layout, draws)

    def _requests(self, batch: Batch, window: np.ndarray, layout: _Layout | None) -> None:
        """`window`: each request's window (-1 outside them all); `layout` when every request is inside one."""
        inside: np.ndarray | None = None
        if layout is None:
            inside = window >= 0
            if not inside.any():
                return
            window = window[inside]
            layout = _Layout.of(window, self.windows.count)
        self.requests.sums += layout.sizes
        if batch.error is not None:
            error = np.asarray(batch.error, dtype=bool)
            self.errors.add(layout, error if inside is None else error[inside])
        if batch.latency_ms is not None:
            latency = np.asarray(batch.latency_ms, dtype=np.float64)
            latency = latency if inside is None else latency[inside]
            known = np.isfinite(latency)
            if not known.all():
                latency, window = latency[known], window[known]
            bins = LATENCY_DECADES * LATENCY_PER_DECADE
            scaled = np.log10(np.maximum(latency, LATENCY_LOW_MS) / LATENCY_LOW_MS) * LATENCY_PER_DECADE
            slot = np.clip(np.ceil(scaled) - 1, 0, bins - 1).astype(np.int64)
            counts = np.bincount(window * bins + slot, minlength=self.windows.count * bins)
            found = counts.reshape(self.windows.count, bins)
            self.latency = found if self.latency is None else self.latency + found

    def _numeric(self, name: str, ref: NumericRef, values: Any, layout: _Layout) -> np.ndarray:
        numbers, bad = to_numbers(values)
        missing = np.isnan(numbers)
        self.nulls[name].add(layout, missing if bad is None else missing & ~bad)
        if bad is not None:
            self.type_errors[name].add(layout, bad)
        self.out_of_range[name].add(layout, (numbers < ref.low) | (numbers > ref.high))
        return numbers

    def _categorical(self, name: str, values: Any, layout: _Layout) -> None:
        """Counts per window and category key (see `_codes`)."""
        labels, codes, missing = _codes(values)
        width = max(len(labels), 1)
        valid: np.ndarray | None = None
        if missing is not None:
            self.nulls[name].add(layout, missing)
            valid = ~missing
        counts = np.zeros((self.windows.count, width), dtype=np.int64)
        if layout.runs is not None:
            for w, start, end in layout.runs:
                run = codes[start:end] if valid is None else codes[start:end][valid[start:end]]
                counts[w] = np.bincount(run, minlength=width)
        else:
            window = layout.window if valid is None else layout.window[valid]
            cells = np.add(window * width, codes if valid is None else codes[valid], dtype=np.int64)
            counts += np.bincount(cells, minlength=self.windows.count * width).reshape(self.windows.count, width)
        table = self.categories.setdefault(name, [{} for _ in range(self.windows.count)])
        for w in np.flatnonzero(counts.any(axis=1)).tolist():
            row = counts[w]
            for index in np.flatnonzero(row).tolist():
                label = labels[index]
                table[w][label] = table[w].get(label, 0) + int(row[index])

    def _labelled(self, batch: Batch, layout: _Layout, draws: np.ndarray) -> None:
        """Offer the labelled rows to their windows' samples, taken by position (labels are usually few)."""
        import pyarrow as pa

        label = batch.label if isinstance(batch.label, pa.Array) else pa.array(_objects(batch.label), from_pandas=True)
        known = np.flatnonzero(label.is_valid().to_numpy(zero_copy_only=False))
        if known.shape[0] == 0:
            return
        if layout.runs is not None:  # positions in order: each window's are a stretch of them
            cuts = np.searchsorted(known, [end for _, _, end in layout.runs])
            parts = [
                (w, known[low:high]) for (w, _, _), low, high in zip(layout.runs, [0, *cuts[:-1]], cuts, strict=True)
            ]
        else:
            window = layout.window[known]
            parts = [
                (w, known[window == w])
                for w in np.flatnonzero(np.bincount(window, minlength=layout.sizes.shape[0])).tolist()
            ]
        for w, rows in parts:
            if rows.shape[0] == 0:
                continue
            columns: dict[str, Any] = {
                "label": _take(_plain(label), rows),
                "prediction": _take(_plain(batch.prediction), rows),
                "score": None if batch.score is None else batch.score[rows],
            }
            for name in self.slices:
                found = batch.columns.get(name)
                column = np.full(layout.window.shape[0], None, dtype=object) if found is None else _plain(found)
                columns[f"slice:{name}"] = _take(column, rows)
            self.labelled[w].add(draws[rows], columns)

    def completed(self) -> list[int]:
        """The windows found complete (every row of theirs added, by the batches' `complete_ms`) since the last
        call, oldest first."""
        if self.complete_ms is None:
            return []
        ended = (self.complete_ms - self.windows.start_ms) // self.windows.width_ms
        done = max(0, min(int(ended), self.windows.count))
        found = list(range(self.handed, done))
        self.handed = max(self.handed, done)
        return found

    def window(self, w: int) -> WindowStats:
        """Window `w`'s statistics, its samples cut to size. Once `w` is complete this may run in another thread
        while batches are still added: they touch none of its values."""
        sample = self.samples[w].result() or {}
        features = {name: self._stats(name, w, sample) for name in self.columns}
        picked = self.labelled[w].result()
        labelled = None
        if picked is not None:
            labelled = Labelled(
                self.labelled[w].total,
                picked["label"],
                picked["prediction"],
                picked["score"],
                {n: picked[f"slice:{n}"] for n in self.slices},
            )
        return WindowStats(
            int(self.rows.sums[w]),
            int(self.requests.sums[w]),
            int(self.errors.sums[w]),
            None if self.latency is None else self.latency[w],
            features,
            self._stats("(prediction)", w, sample),
            labelled,
        )

    def result(self) -> list[WindowStats]:
        return [self.window(w) for w in range(self.windows.count)]

    def _stats(self, name: str, w: int, sample: Mapping[str, np.ndarray]) -> ColumnStats:
        ref = self.reference.target if name == "(prediction)" else self.reference.feature(name)
        nulls = int(self.nulls[name].sums[w])
        if not isinstance(ref, NumericRef):
            return CategoricalStats(nulls, dict(self.categories.get(name, [{}] * self.windows.count)[w]))
        values = np.sort(sample.get(name, np.array([])))
        if values.size and np.isnan(values[-1]):  # missing values (NaN) sort last
            values = values[: values.shape[0] - np.count_nonzero(np.isnan(values))]
        return NumericStats(
            nulls,
            int(self.type_errors[name].sums[w]),
            int(self.out_of_range[name].sums[w]),
            values,
        )


NARROW = 1024  # integer columns spanning fewer values than this are counted by value, not hashed


def _codes(values: Any) -> tuple[list[Any], np.ndarray, np.ndarray | None]:
    """A category column as its keys, each row's code (position among the keys) and the mask of missing rows
    (None when nothing is missing). The values are dictionary-encoded (in pyarrow), so only the distinct values of
    the batch are turned into keys; integers of a narrow range (class labels) are their own codes, offset by the
    smallest (no hashing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not isinstance(array, pa.Array):
        array = keys(array)
    narrow = _narrow_integers(array)
    if narrow is not None:
        return narrow[0], narrow[1], None
    encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
    labels: list[Any] = keys(encoded.dictionary).to_pylist()
    indices = encoded.indices
    if indices.null_count == 0 and labels and None not in labels:  # nothing missing: no masks to build
        return labels, np.asarray(indices.to_numpy(zero_copy_only=False)), None
    missing = indices.is_null().to_numpy(zero_copy_only=False)
    codes = indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    unknown = np.array([label is None for label in labels] + [True], dtype=bool)  # NaN in a float dictionary
    missing |= unknown[np.minimum(codes, len(labels))] if len(labels) else True
    return labels, codes, missing


def _narrow_integers(array: Any) -> tuple[list[Any], np.ndarray] | None:
    """An integer array without nulls whose values span fewer than NARROW integers: the keys of every integer from
    its smallest to its largest, and each value's position among them."""
    import pyarrow as pa

    if not pa.types.is_integer(array.type) or array.null_count or len(array) == 0:
        return None
    values = np.asarray(array.to_numpy())
    low, high = int(values.min()), int(values.max())
    if high - low >= NARROW:
        return None
    labels: list[Any] = [str(v) for v in range(low, high + 1)]  # as `keys` writes an integer
    if values.dtype == np.uint64:  # may not fit int64 before the offset is taken away
        return labels, (values - values.min()).astype(np.int64)
    return labels, values.astype(np.int64) - low


def _plain(values: Any) -> Any:
    """A column as something `_take` indexes: a pyarrow array stays, anything else becomes a numpy array."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values if isinstance(values, pa.Array) else np.asarray(values, dtype=object)


def _objects(values: Any) -> list[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def _select(batch: Batch, mask: np.ndarray) -> Batch:
    """The batch's rows where mask holds (its requests unchanged: they are counted before)."""
    return Batch(
        batch.ts[mask],
        {n: _take(_plain(c), mask) for n, c in batch.columns.items()},
        _take(_plain(batch.prediction), mask),
        None if batch.score is None else batch.score[mask],
        None if batch.label is None else _take(_plain(batch.label), mask),
        batch.request_ts,
        batch.latency_ms,
        batch.error,
        batch.complete_ms,
    )
