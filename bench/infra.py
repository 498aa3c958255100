"""How well the load test measures a model: a pyfunc model with a known added delay of 20 ms, served by the
real sandbox (`mlflow models serve`), load-tested at concurrency 1 and 8. Prints one JSON object:
  true_delay_ms            the delay the model adds to every predict (time.sleep)
  p50_ms_c1, p50_ms_c8     the load test's measured p50 at concurrency 1 and 8 (single-row requests)
  p50_error_c1, _c8        |p50 - true delay| / true delay (target <= 0.10 each)
  server_floor_ms          p50 of the same model without the delay, same server settings, same run: what
                           MLflow's serving stack (uvicorn, JSON decoding, schema casting) adds per request
                           when requests come back to back
  server_floor_idle_ms     the same, with each request sent after 20 ms of idleness, as the delayed model's
                           server idles 20 ms in every request: on this VM (cpuidle haltpoll) a CPU that sat
                           idle runs the same Python code about 1.4x slower, so this is the floor that applies
  p50_error_c1_net, _c8_net  the errors after subtracting server_floor_idle_ms: the load tester's own error
  p50_ms_c8_one_worker     concurrency 8 against a single worker, to show the queueing it avoids
  sandbox_start_s          from launch to healthy, one worker (the sandbox's default)
  overhead_ratio           the load tester's own CPU time per request over the model's delay

Concurrency 8: `mlflow models serve -w N` starts N uvicorn workers; each runs predict in asyncio's default
thread pool (min(32, cores + 4) threads, 6 on a 2-core machine), so one worker queues the 7th and 8th
concurrent request. The c8 figures use `--workers 4` (24 threads for 8 connections, however the kernel
spreads the connections over the workers).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bot.infra import loadtest, sandbox  # noqa: E402
from bot.infra.client import Connection, encode_split, prepare  # noqa: E402

DELAY_S = 0.020
MODEL_CODE = """
import time
import mlflow


class Delayed(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.delay = float((context.model_config or {}).get("delay_s", 0))

    def predict(self, context, model_input, params=None):
        if self.delay:
            time.sleep(self.delay)
        return model_input["x"].to_numpy() * 2


mlflow.models.set_model(Delayed())
"""


def log_models(root: Path) -> tuple[dict[str, str], str, str]:
    """A private SQLite MLflow with the delayed model and its zero-delay twin; returns (env, uris)."""
    import warnings

    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\.")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("bench-infra", artifact_location=(root / "artifacts").as_uri())
    code = root / "delayed_model.py"
    code.write_text(MODEL_CODE)
    example = pd.DataFrame({"x": [1.0, 2.0]})
    uris = []
    for delay in (DELAY_S, 0.0):
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.pyfunc.log_model(name="model", python_model=str(code), model_config={"delay_s": delay},
                                           signature=infer_signature(example, example["x"].to_numpy()),
                                           pip_requirements=["mlflow"], registered_model_name="delayed")
        uris.append(f"models:/delayed/{info.registered_model_version}")
    return {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}, uris[0], uris[1]


def measure(uri: str, env: dict[str, str], workers: int, runs: dict[int, int], paced: bool = False) -> dict[str, Any]:
    """Serve `uri` with `workers`; for each concurrency -> request count, a load test after a warm-up; and
    with `paced`, the p50 of requests that each follow DELAY_S of idleness."""
    import pandas as pd

    spec = sandbox.SandboxSpec(uri, load_deadline_s=120, workers=workers, env=env)
    found: dict[str, Any] = {}
    with sandbox.serve(spec) as server:
        found["start_s"] = server.load_s
        payloads = [loadtest.Payload(prepare(server.port, encode_split(pd.DataFrame({"x": [float(i)]}))), 1)
                    for i in range(50)]
        for concurrency, requests in runs.items():
            result = loadtest.run(server.port, payloads,
                                  loadtest.LoadSpec(concurrency, requests, warmup=4 * concurrency), server.death)
            if result.error_rate or result.aborted:
                raise SystemExit(f"the load test failed: {result.as_dict()}")
            found[concurrency] = result
        if paced:
            found["idle_p50_ms"] = _paced_p50(server.port, payloads[0].request, requests=min(runs.values()))
    return found


def _paced_p50(port: int, request: bytes, requests: int) -> float:
    """p50 of single requests each sent after DELAY_S of idleness (one connection, after a warm-up)."""
    conn = Connection(port, 10.0)
    latencies = []
    try:
        for index in range(requests + 20):
            time.sleep(DELAY_S)
            start = time.perf_counter()
            conn.exchange(request)
            if index >= 20:
                latencies.append((time.perf_counter() - start) * 1000)
    finally:
        conn.close()
    return loadtest.percentile(sorted(latencies), 50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests at concurrency 1 (x5 at 8)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-infra-"))
    try:
        env, delayed, instant = log_models(root)
        c1, c8 = args.requests, args.requests * 5
        one = measure(delayed, env, 1, {8: c8})
        four = measure(delayed, env, 4, {1: c1, 8: c8})
        floor = measure(instant, env, 4, {1: c1}, paced=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    true_ms = DELAY_S * 1000
    floor_ms, idle_floor_ms = floor[1].p50_ms, floor["idle_p50_ms"]
    p50_c1, p50_c8 = four[1].p50_ms, four[8].p50_ms
    print(json.dumps({
        "true_delay_ms": true_ms,
        "p50_ms_c1": round(p50_c1, 3),
        "p50_ms_c8": round(p50_c8, 3),
        "p50_error_c1": round(abs(p50_c1 - true_ms) / true_ms, 4),
        "p50_error_c8": round(abs(p50_c8 - true_ms) / true_ms, 4),
        "server_floor_ms": round(floor_ms, 3),
        "server_floor_idle_ms": round(idle_floor_ms, 3),
        "p50_error_c1_net": round(abs(p50_c1 - idle_floor_ms - true_ms) / true_ms, 4),
        "p50_error_c8_net": round(abs(p50_c8 - idle_floor_ms - true_ms) / true_ms, 4),
        "p50_ms_c8_one_worker": round(one[8].p50_ms, 3),
        "p95_ms_c1": round(four[1].p95_ms, 3),
        "p95_ms_c8": round(four[8].p95_ms, 3),
        "throughput_rps_c8": round(four[8].throughput_rps, 1),
        "sandbox_start_s": round(one["start_s"], 3),
        "sandbox_start_s_4_workers": round(four["start_s"], 3),
        "overhead_ratio": round(max(four[1].client_cpu_ms_per_request, four[8].client_cpu_ms_per_request)
                                / true_ms, 4),
        "client_cpu_ms_per_request": {"c1": round(four[1].client_cpu_ms_per_request, 4),
                                      "c8": round(four[8].client_cpu_ms_per_request, 4)},
        "workers": {"c1": 4, "c8": 4, "one_worker_run": 1},
        "requests": {"c1": c1, "c8": c8},
    }, indent=2))


if __name__ == "__main__":
    main()
