"""Benchmark of the offline validation against the models' own predict time and against mlflow.models.evaluate.

    python bench/validation.py [--rows N] [--repeat R] [--small-only]
                                              (defaults: 1,000,000 rows; the small part R=3 times, medians)

Builds N evaluation rows (8 numeric features, two slice columns of 10 values each, a binary target), a
candidate and a champion (scikit-learn HistGradientBoostingClassifier, 100 iterations each, registered in a
throw-away SQLite MLflow and loaded
through mlflow.pyfunc), and prints one JSON object:
  predict_s              the two models' predict on the frame, alone, in this process (the models' own cost)
  validate_s             every offline gate with its intervals (engine.assess on the loaded frame and models, each
                         model in its own process as the bot runs them, so the frame crosses to it and back:
                         both predictions, metrics, champion/baseline comparisons, slices and their cross,
                         error analysis, robustness probes, data checks with drift against 100k reference rows)
  validate_over_predict  validate_s / predict_s                       (target <= 1.5)
  mlflow_evaluate_s      mlflow.models.evaluate for both models on the same frame, explainability off
  speedup_vs_mlflow      mlflow_evaluate_s / validate_s               (target >= 3)
  peak_rss_over_frame    (peak RSS during validation - RSS before the frame existed) / frame size (target <= 3)
Loading the CSV/Parquet file and verifying its sha256 are not part of validate_s (reported as load_s when
--with-file is given).
And the fixed cost, on SMALL_ROWS rows, in the same run:
  small_validate_s          `modelbot validate` as a user runs it (a fresh process: registry, policy, data
                            file and its sha256, both models loaded in their isolated processes, every gate)
  small_floor_s             a cold `import mlflow.pyfunc` in a fresh process + the two models' predict on
                            those rows (what any tool that loads these models must pay)
  small_validate_over_floor small_validate_s / small_floor_s                  (target <= 2)
  small_load_s              a cold fresh process that imports mlflow.pyfunc, loads both models from the registry
                            and predicts (loading is not in the floor: for these scikit-learn models it imports
                            scikit-learn and skops, and MLflow checks the models' requirements)
  small_validate_over_load  small_validate_s / small_load_s: what validation adds to loading the models at all
Each small figure is the median of --repeat runs, taken in turns (validate, floor, load), so a busy machine
weighs on all of them alike. --small-only skips the large frame (its keys are then absent).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = [f"x{i}" for i in range(8)]
SLICES = ("region", "segment")
TARGET = "label"
TRAIN_ROWS = 50_000
SMALL_ROWS = 5_000
REFERENCE_ROWS = 100_000

GATES: dict[str, Any] = {
    "confidence": 0.95,
    "bootstrap": {"resamples": 1000, "seed": 7},
    "metrics": {"roc_auc": {"min": 0.6}, "accuracy": {"min": 0.6}, "brier": {"max": 0.3}},
    "champion": {"roc_auc": {"non_inferiority": 0.01}, "f1": {"non_inferiority": 0.02}},
    "baseline": {"roc_auc": {"min_gain": 0.05}, "log_loss": {"min_gain": 0.01}},
    "slices": {"metric": "roc_auc", "min_rows": 100, "worst_ratio": 0.8, "max_regression": 0.05, "correction": "holm"},
    "error_analysis": {"max_flip_rate": 0.5},
    "robustness": {
        "probes": ["nulls", "unseen_categories", "out_of_range", "empty_strings", "extra_columns", "reordered_columns"]
    },
    "data": {"max_null_rate": 0.05, "drift": {"psi": 0.25, "ks": 0.2, "wasserstein": 0.5}},
}


def frame_of(rows: int, seed: int) -> Any:
    """Rows built column by column, so building never needs much more memory than the frame itself."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {name: rng.normal(size=rows) for name in FEATURES}
    for name in SLICES:
        values = np.array([f"{name[:3]}{i}" for i in range(10)])
        columns[name] = pd.array(values[rng.integers(0, 10, rows)], dtype="str")
    region_effect = (rng.integers(0, 10, rows) - 4.5) * 0.05
    logit = columns["x0"] + 0.6 * columns["x1"] - 0.4 * columns["x2"] * columns["x3"] + region_effect
    columns[TARGET] = (logit + rng.logistic(size=rows) > 0).astype(np.int64)
    return pd.DataFrame(columns)


def train_and_register(tracking_uri: str, root: Path) -> tuple[Any, Any]:
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.ensemble import HistGradientBoostingClassifier

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    experiment = mlflow.create_experiment("bench", artifact_location=(root / "artifacts").as_uri())
    train = frame_of(TRAIN_ROWS, 1)
    uris = []
    for params in ({"learning_rate": 0.05, "max_depth": 4}, {}):  # champion, then candidate: scikit-learn defaults
        model = HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0, **params)
        model.fit(train[FEATURES], train[TARGET])
        import skops.io

        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name="bench",
                signature=infer_signature(train[FEATURES], model.predict_proba(train[FEATURES][:5])),
                pyfunc_predict_fn="predict_proba",
                pip_requirements=["scikit-learn"],
                skops_trusted_types=trusted,
            )
        uris.append(f"models:/bench/{info.registered_model_version}")
    return uris[1], uris[0]


def rss_kib(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    """Reset VmHWM (Linux: writing 5 to clear_refs), so the next peak belongs to what runs next."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the small part (medians reported)")
    parser.add_argument("--small-only", action="store_true", help="only the fixed cost on SMALL_ROWS rows")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from bot.validation import memory

    memory.return_freed_arrays()  # as `modelbot validate` does
    with tempfile.TemporaryDirectory(prefix="modelbot-bench-") as tmp:
        root = Path(tmp)
        tracking = f"sqlite:///{root / 'mlflow.db'}"
        candidate_uri, champion_uri = train_and_register(tracking, root)
        import mlflow.pyfunc

        own = [mlflow.pyfunc.load_model(u) for u in (candidate_uri, champion_uri)]  # the reference, in-process
        large = {} if args.small_only else large_validate(args.rows, candidate_uri, champion_uri, own, tracking)
        small = small_validate(root, tracking, candidate_uri, champion_uri, own, max(1, args.repeat))
    json.dump({**large, **small}, sys.stdout)
    sys.stdout.write("\n")
    return 0


def large_validate(rows: int, candidate_uri: str, champion_uri: str, own: list[Any], tracking: str) -> dict[str, Any]:
    """Every offline gate on `rows` rows against the models' own predict and mlflow.models.evaluate."""
    from bot.policy.gates import Gates
    from bot.validation import engine, models

    candidate, champion = models.load(candidate_uri), models.load(champion_uri)  # each in its own process
    reference = frame_of(REFERENCE_ROWS, 2)
    subject = engine.Subject(
        "bench",
        "2",
        "production",
        "binary_classification",
        TARGET,
        candidate_uri,
        "1",
        champion_uri,
        SLICES,
        (SLICES,),
    )
    models.predict(candidate, reference.head(100)), models.predict(champion, reference.head(100))  # warm-up
    for model in own:
        model.predict(reference[FEATURES].head(100))
    gc.collect()
    rss_before = rss_kib()
    frame = frame_of(rows, 3)
    frame_bytes = int(frame.memory_usage(deep=True).sum())

    started = time.perf_counter()
    features = frame[FEATURES]
    for model in own:
        model.predict(features)
    predict_s = time.perf_counter() - started
    del features
    gc.collect()

    exact_peak = reset_peak()
    started = time.perf_counter()
    evidence = engine.assess(subject, Gates.of(GATES), frame, candidate, champion, reference)
    validate_s = time.perf_counter() - started
    peak = rss_kib("VmHWM")
    statuses = evidence.counts()

    mlflow_s = mlflow_evaluate(frame, own, tracking)
    candidate.close()
    champion.close()
    del frame
    gc.collect()
    return {
        "rows": rows,
        "predict_s": round(predict_s, 3),
        "validate_s": round(validate_s, 3),
        "validate_over_predict": round(validate_s / predict_s, 3),
        "mlflow_evaluate_s": round(mlflow_s, 3),
        "speedup_vs_mlflow": round(mlflow_s / validate_s, 2),
        "peak_rss_over_frame": round((peak - rss_before) * 1024 / frame_bytes, 3),
        "frame_mb": round(frame_bytes / 2**20, 1),
        "gates": statuses,
        "peak_measure": "VmHWM reset before validation" if exact_peak else "process VmHWM",
    }


_COLD_LOAD = """
import sys
import warnings

warnings.filterwarnings("ignore")
import mlflow.pyfunc
import pandas as pd

frame = pd.read_csv(sys.argv[1])[sys.argv[2].split(",")]
for uri in sys.argv[3:]:
    mlflow.pyfunc.load_model(uri).predict(frame)
"""


def small_validate(root: Path, tracking: str, candidate_uri: str, champion_uri: str, own: list[Any],
                   repeat: int) -> dict[str, Any]:
    """`modelbot validate` on SMALL_ROWS rows in a fresh process, against the floor and the cold load measured
    beside it, `repeat` times in turns."""
    import hashlib
    import statistics
    import subprocess

    import yaml

    repo = root / "registry"
    (repo / "data").mkdir(parents=True)
    (repo / "policies").mkdir()
    frame = frame_of(SMALL_ROWS, 4)
    data = repo / "data" / "eval.csv"
    frame.to_csv(data, index=False)
    sha = hashlib.sha256(data.read_bytes()).hexdigest()
    versions = [{"version": int(uri.rsplit("/", 1)[1]), "uri": uri, "created_at": "2026-11-16T14:40:00Z",
                 "created_by": "bench"} for uri in (champion_uri, candidate_uri)]
    registry = {"version": 1, "models": {"bench": {
        "description": "bench", "owners": ["bench"], "task": "binary_classification",
        "evaluation": {"data": "data/eval.csv", "sha256": sha, "target": TARGET, "slices": list(SLICES),
                       "slice_crosses": [list(SLICES)]},
        "versions": versions, "stages": {"production": versions[0]["version"]}}}}
    (repo / "models.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    (repo / "policies" / "default.yaml").write_text(yaml.safe_dump({"version": 1, "stages": {
        "production": {"gates": {k: v for k, v in GATES.items() if k != "data"}}}}, sort_keys=False))
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "MLFLOW_REGISTRY_URI": tracking}
    features = frame[FEATURES]
    validate_s, floor_s, import_s, load_s, status = [], [], [], [], None
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bot", "validate", "bench",
                               candidate_uri.rsplit("/", 1)[1], "--stage", "production", "--repo", str(repo),
                               "--out", str(root / "small-report"), "--json"],
                              env=env, capture_output=True, text=True, check=False)
        validate_s.append(time.perf_counter() - started)
        status = json.loads(done.stdout).get("status") if done.stdout.strip().startswith("{") else done.stderr[-300:]
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mlflow.pyfunc"], env=env, check=True)
        import_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        for model in own:
            model.predict(features)
        floor_s.append(import_s[-1] + time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", _COLD_LOAD, str(data), ",".join(FEATURES), champion_uri, candidate_uri],
                       env=env, check=True)
        load_s.append(time.perf_counter() - started)
    small, floor, load = (statistics.median(x) for x in (validate_s, floor_s, load_s))
    return {"small_rows": SMALL_ROWS, "small_repeat": repeat, "small_validate_s": round(small, 3),
            "small_status": status, "small_floor_s": round(floor, 3),
            "small_import_s": round(statistics.median(import_s), 3),
            "small_validate_over_floor": round(small / floor, 3),
            "small_load_s": round(load, 3), "small_validate_over_load": round(small / load, 3)}


def mlflow_evaluate(frame: Any, own: list[Any], tracking: str) -> float:
    import mlflow

    started = time.perf_counter()
    for model in own:
        with mlflow.start_run():
            mlflow.models.evaluate(  # type: ignore[no-untyped-call, unused-ignore]
                model=model,
                data=frame[[*FEATURES, TARGET]],
                targets=TARGET,
                model_type="classifier",
                evaluators=["default"],
                evaluator_config={"default": {"log_model_explainability": False}},
            )
    return time.perf_counter() - started


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    sys.exit(main())
