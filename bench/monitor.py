"""`modelbot monitor` over logged predictions at 1M and 10M rows x 20 features, against a bare pyarrow scan of the
same files in the same run. Prints one JSON object:
  monitor_over_scan_1m, monitor_over_scan_10m   monitor time / time of a bare pyarrow dataset scan of the same
                                                columns of the same Parquet files (target <= 3)
  rss_growth_10m_over_1m                        the monitor's peak RSS at 10M rows / at 1M rows (target <= 1.5)
and the raw seconds and peak RSS (MB) behind them, and `monitor_cpu_over_scan_cpu_*`: the same ratio of the two
processes' CPU seconds (user + system, every thread), which moves less than wall time when others load the
machine. Data: 18 numeric and 2 categorical features, a prediction, a label on 10 % of the rows, latency and
error, over 7 days (7 windows of 24h), written as Parquet files of 1M rows into a temporary directory that is
removed at the end. Each measurement runs in a fresh process, so peak RSS is its own; both sides import
pyarrow.dataset before their timer, and the monitor pays any other import it makes lazily. The files are in the
page cache before the first timed run (one untimed scan); scan and monitor alternate, the order swapped every
round, and each side's figure is its best of REPEATS. The machine is shared: figures move with what else runs on
it (`load_average_before`/`_after`, the 1-minute load average, say how busy it was; 2 is both cores of a 2-core
machine busy).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 7
NUMERIC, CATEGORICAL = 18, 2
FILE_ROWS = 1_000_000
REPEATS = 7
ROW_GROUP = 1 << 17  # rows per Parquet row group, as a log writer flushing every ~100k rows would
COLUMNS = [f"x{i}" for i in range(NUMERIC)] + [f"c{i}" for i in range(CATEGORICAL)]


def _rows(rng: np.random.Generator, count: int, start_ms: int, span_ms: int) -> dict[str, object]:
    import pyarrow as pa

    data: dict[str, object] = {
        "ts": pa.array(np.sort(rng.integers(start_ms, start_ms + span_ms, count)), pa.timestamp("ms", "UTC"))
    }
    for i in range(NUMERIC):
        data[f"x{i}"] = rng.normal(i, 1.0 + i / 10, count)
    for i in range(CATEGORICAL):
        data[f"c{i}"] = pa.array(np.array(["a", "b", "c", "d", "e"])[rng.integers(0, 5, count)]).dictionary_encode()
    prediction = (rng.random(count) < 0.4).astype(np.int64)
    data["prediction"] = prediction
    label = np.where(rng.random(count) < 0.9, prediction, 1 - prediction).astype(np.float64)
    label[rng.random(count) >= 0.1] = np.nan
    data["label"] = pa.array(label, from_pandas=True).cast(pa.int64())
    data["latency_ms"] = rng.exponential(12.0, count)
    data["error"] = rng.random(count) < 0.002
    return data


def generate(folder: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    start_ms = int(START.timestamp() * 1000)
    span = DAYS * 86_400_000
    files = -(-rows // FILE_ROWS)
    for part in range(files):
        count = min(FILE_ROWS, rows - part * FILE_ROWS)
        piece = span // files
        table = pa.table(_rows(rng, count, start_ms + part * piece, piece))
        pq.write_table(table, folder / f"part-{part:03d}.parquet", row_group_size=ROW_GROUP)


def reference(folder: Path) -> None:
    import pandas as pd

    rng = np.random.default_rng(2)
    count = 5000
    frame = pd.DataFrame({f"x{i}": rng.normal(i, 1.0 + i / 10, count) for i in range(NUMERIC)})
    for i in range(CATEGORICAL):
        frame[f"c{i}"] = np.array(["a", "b", "c", "d", "e"])[rng.integers(0, 5, count)]
    frame["y"] = (rng.random(count) < 0.4).astype(int)
    frame.to_parquet(folder / "reference.parquet")


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def child_scan(folder: Path) -> dict[str, float]:
    import pyarrow.dataset as ds

    cpu = _cpu()
    began = time.perf_counter()
    rows = 0
    columns = ["ts", "prediction", *COLUMNS, "label", "latency_ms", "error"]
    for batch in ds.dataset(str(folder), format="parquet").scanner(columns=columns, batch_size=1 << 17).to_batches():
        rows += batch.num_rows
    return {"seconds": time.perf_counter() - began, "cpu": _cpu() - cpu, "rows": rows}


def child_monitor(folder: Path, reference_file: Path) -> dict[str, float]:
    import pandas as pd
    import pyarrow.dataset  # noqa: F401  (imported before the timer, as the scan's child does)

    from bot.monitor import reference as references
    from bot.monitor import run
    from bot.monitor.windows import Windows
    from bot.policy.monitor import parse

    ref = references.summarise(pd.read_parquet(reference_file), "reference.parquet", "binary_classification", "y")
    policy = parse(
        {
            "window": "24h",
            "performance": {"metric": "accuracy", "min": 0.8, "min_rows": 100, "resamples": 200},
            "slo": {"p95_ms": 100, "max_error_rate": 0.01},
        }
    )
    windows = Windows.between(START, START + timedelta(days=DAYS), policy.window)
    cpu = _cpu()
    began = time.perf_counter()
    report = run.monitor("bench", "production", folder, ref, windows, policy, datetime.now(UTC))
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "cpu": _cpu() - cpu,
        "rows": report.rows,
        "breaches": len(report.breaches),
        "verdicts": ",".join(c.current.verdict.value for c in report.checks),  # type: ignore[dict-item]
    }


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM, the high-water mark of its address space. Not ru_maxrss, which Linux
    keeps across fork and exec: a child started by this (large) bench process would report at least the
    parent's RSS at the time (the parent just generated the data), which floored the 10M figure at ~545 MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(*argv: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True, check=True, cwd=PROJECT
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--child", choices=["scan", "monitor"])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--sizes", default="1000000,10000000", help="row counts to measure (default: 1M and 10M)")
    args = parser.parse_args()
    if args.child:
        found = child_scan(args.data) if args.child == "scan" else child_monitor(args.data, args.reference)
        found["rss_mb"] = peak_rss_mb()
        print(json.dumps(found))
        return
    work = Path(tempfile.mkdtemp(prefix="modelbot-bench-monitor-"))
    figures: dict[str, object] = {"load_average_before": round(os.getloadavg()[0], 2)}
    try:
        reference(work)
        for rows in (int(s) for s in args.sizes.split(",")):
            tag = f"{rows // 1_000_000}m" if rows >= 1_000_000 else f"{rows // 1000}k"
            folder = work / tag
            generate(folder, rows)
            measure("--child", "scan", "--data", str(folder))  # warm the page cache for both
            ref_file = str(work / "reference.parquet")
            scans: list[dict[str, float]] = []
            runs: list[dict[str, float]] = []
            for round_ in range(REPEATS):  # interleaved, order swapped each round, best of each: the machine is shared
                for side in ("scan", "monitor") if round_ % 2 == 0 else ("monitor", "scan"):
                    if side == "scan":
                        scans.append(measure("--child", "scan", "--data", str(folder)))
                    else:
                        runs.append(measure("--child", "monitor", "--data", str(folder), "--reference", ref_file))
            scan = min(scans, key=lambda r: r["seconds"])
            watched = {**min(runs, key=lambda r: r["seconds"]), "rss_mb": max(r["rss_mb"] for r in runs)}
            figures[f"monitor_over_scan_{tag}"] = round(watched["seconds"] / scan["seconds"], 3)
            scan_cpu, monitor_cpu = min(r["cpu"] for r in scans), min(r["cpu"] for r in runs)
            figures[f"monitor_cpu_over_scan_cpu_{tag}"] = round(monitor_cpu / scan_cpu, 3)
            figures[f"scan_cpu_seconds_{tag}"] = round(scan_cpu, 3)
            figures[f"monitor_cpu_seconds_{tag}"] = round(monitor_cpu, 3)
            figures[f"scan_seconds_{tag}"] = round(scan["seconds"], 3)
            figures[f"monitor_seconds_{tag}"] = round(watched["seconds"], 3)
            figures[f"monitor_rss_mb_{tag}"] = round(watched["rss_mb"], 1)
            figures[f"scan_rss_mb_{tag}"] = round(scan["rss_mb"], 1)
            figures[f"verdicts_{tag}"] = watched["verdicts"]
            shutil.rmtree(folder)
        if "monitor_rss_mb_10m" in figures and "monitor_rss_mb_1m" in figures:
            figures["rss_growth_10m_over_1m"] = round(
                float(figures["monitor_rss_mb_10m"]) / float(figures["monitor_rss_mb_1m"]),  # type: ignore[arg-type]
                3,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
