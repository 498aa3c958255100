"""The serving gateway against `mlflow models serve`, and its routing and faults under load. Prints one JSON
object; every ratio is against a reference measured in the same run.

The same scikit-learn model (logistic regression on the breast-cancer data, single-row `dataframe_split`
requests) is served directly by `mlflow models serve` (one worker, the sandbox's default) and through
`modelbot serve` (one model process per version), closed-loop, after a warm-up, in alternated rounds (--rounds,
each figure the median of its rounds):
  p50_ratio_c1, p50_ratio_c8       gateway p50 / direct p50 at 1 and 8 concurrent clients (target <= 1.25)
  throughput_ratio_c8              gateway / direct requests per second at 8 clients (target >= 0.8)
  canary_share_error               |observed share of version 2 - 10 %| over 10,000 requests (target <= 0.02)
  switch_failed_requests           non-200 answers through a blue-green preview, its switch and two more
                                   reloads, under 4 clients (target 0)
  kill_failed_requests             non-200 answers when the serving version's process is SIGKILLed (--kills
                                   times, each once it is back) under 4 clients, with a fallback version
                                   configured (target 0); kill_back_in_s: kill to answering again
  fallback_p99_ms, fallback_timeout_ms   p99 latency of the answers the fallback gave, and the policy's timeout
                                   (target: p99 <= timeout + 20); kill_fallback_reasons: the gateway's count
  shadow_p50_ratio                 live p50 with a shadow version mirrored at 100 % / at 0 %, one client
                                   alternating blocks between two stages of one gateway (target <= 1.1); with
                                   the gateway's own CPU per request either way
--phases runs some of the phases (latency, canary, switch, kill, shadow). The machine is shared: figures move
with what else runs on it (load_before, load_after: the 1-minute load average).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bot.infra import loadtest, sandbox  # noqa: E402
from bot.infra.client import encode_split, prepare  # noqa: E402
from tests.serving.support import Gateway, Registry, running  # noqa: E402
from tests.support.mlflow_models import MlflowStore, dataset  # noqa: E402

TIMEOUT_MS = 200
PATH = "/models/tumor/production/invocations"


@dataclass
class Tally:
    """What a closed-loop client pool saw: statuses, who answered, and the fallback's latencies."""

    statuses: Counter[int] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    fallback_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != 200) + len(self.errors)


def clients(port: int, body: bytes, tally: Tally, stop: threading.Event, count: int | None = None,
            concurrency: int = 4) -> list[threading.Thread]:
    """`concurrency` keep-alive clients sending `body` until `stop` (or `count` requests in all)."""
    left = [count if count is not None else -1]

    def one() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            with tally.lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            started = time.perf_counter()
            try:
                conn.request("POST", PATH, body, {"Content-Type": "application/json"})
                answer = conn.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with tally.lock:
                    tally.errors.append(str(exc))
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with tally.lock:
                tally.statuses[answer.status] += 1
                tally.versions[answer.getheader("X-Modelbot-Version") or ""] += 1
                if answer.getheader("X-Modelbot-Fallback") == "true":
                    tally.fallback_ms.append(elapsed)
        conn.close()

    threads = [threading.Thread(target=one, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    return threads


def load(port: int, path: str, body: bytes, concurrency: int, requests: int) -> loadtest.LoadResult:
    payload = loadtest.Payload(prepare(port, body, path), 1)
    spec = loadtest.LoadSpec(concurrency=concurrency, requests=requests, warmup=50 * concurrency, timeout_s=30)
    return loadtest.run(port, [payload], spec)


def production(registry: Registry, state: dict[str, Any], held: str = "1") -> None:
    entry = registry.models["tumor"]
    if entry["stages"]["production"] == int(held) and entry.get("deployment") == {"production": state}:
        return  # served already (a phase run first, or alone)
    entry["stages"]["production"] = int(held)
    entry["deployment"] = {"production": state}
    registry.commit(f"tumor production: {state}")


PHASES = ("latency", "canary", "switch", "kill", "shadow")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests per latency measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds the latency requests are split into")
    parser.add_argument("--canary-requests", type=int, default=10_000)
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated phases to run, in this order: {', '.join(PHASES)} (default: all)")
    parser.add_argument("--kills", type=int, default=3, help="times the serving process is killed in the kill phase")
    parser.add_argument("--shadow-block", type=int, default=50,
                        help="requests per block in the shadow phase (blocks alternate between 0 and 100 %% mirrored)")
    args = parser.parse_args()
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = [p for p in args.phases if p not in PHASES]
    if unknown:
        parser.error(f"--phases: unknown phase {unknown[0]!r}; phases are {', '.join(PHASES)}")
    root = Path(tempfile.mkdtemp(prefix="modelbot-bench-gateway-"))
    try:
        out = measure(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # the MLflow store, the registry and the prediction log
    print(json.dumps(out))
    return 0


def measure(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    store = MlflowStore(root / "mlflow", experiment="bench-gateway")
    data = dataset("binary")
    v1 = store.register("tumor", LogisticRegression(max_iter=5000), data).uri
    v2 = store.register("tumor", LogisticRegression(C=0.01, max_iter=5000), data).uri
    body = encode_split(data.evaluation[list(data.features)].iloc[:1])
    registry = Registry(root / "repo", production_ms=TIMEOUT_MS)
    registry.set("tumor", {"1": v1, "2": v2}, {"staging": "1", "production": "1"},
                 {"production": {"strategy": "direct", "traffic": {1: 100}}})
    env = {**os.environ, **store.env()}
    out: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    with contextlib.ExitStack() as stack:
        gateway = stack.enter_context(running(registry.path, env, root / "log", timeout_s=30.0))
        if "latency" in args.phases:
            direct = stack.enter_context(sandbox.serve(sandbox.SandboxSpec(v1, env=store.env())))
            out.update(latency(direct.port, gateway, body, args))
        if "canary" in args.phases:
            out.update(canary(gateway, registry, body, args))
        if "switch" in args.phases:
            out.update(switch(gateway, registry, body))
        if "kill" in args.phases:
            out.update(kill(gateway, registry, body, args))
        if "shadow" in args.phases:
            out.update(shadow(gateway, registry, body, args))
    out["load_after"] = os.getloadavg()[0]
    return out


def latency(direct_port: int, gateway: Gateway, body: bytes, args: argparse.Namespace) -> dict[str, Any]:
    """Latency and throughput, direct and through the gateway, alternated in rounds (what else runs on the
    machine drifts over a run; each figure is the median of its rounds, so a burst hits both sides alike)."""
    out: dict[str, Any] = {}
    rounds: dict[str, list[loadtest.LoadResult]] = {}
    each = max(1, args.requests // args.rounds)
    for concurrency in (1, 8):
        for _ in range(args.rounds):
            rounds.setdefault(f"direct_c{concurrency}", []).append(
                load(direct_port, "/invocations", body, concurrency, each))
            rounds.setdefault(f"gateway_c{concurrency}", []).append(
                load(gateway.port, PATH, body, concurrency, each))
    p50 = {name: statistics.median(r.p50_ms or 0.0 for r in results) for name, results in rounds.items()}
    rps = {name: statistics.median(r.throughput_rps for r in results) for name, results in rounds.items()}
    for name, results in rounds.items():
        out[f"{name}_p50_ms"] = round(p50[name], 3)
        out[f"{name}_rps"] = round(rps[name], 1)
        out[f"{name}_errors"] = sum(r.sent - r.ok for r in results)
    out["p50_ratio_c1"] = round(p50["gateway_c1"] / (p50["direct_c1"] or 1), 3)
    out["p50_ratio_c8"] = round(p50["gateway_c8"] / (p50["direct_c8"] or 1), 3)
    out["throughput_ratio_c8"] = round(rps["gateway_c8"] / rps["direct_c8"], 3)
    return out


def canary(gateway: Gateway, registry: Registry, body: bytes, args: argparse.Namespace) -> dict[str, Any]:
    """The canary's share of version 2 over --canary-requests requests at 10 %."""
    production(registry, {"strategy": "canary", "step": 0, "traffic": {1: 90, 2: 10}}, held="2")
    gateway.reload()
    tally = Tally()
    for thread in clients(gateway.port, body, tally, threading.Event(), args.canary_requests, concurrency=8):
        thread.join()
    served = sum(tally.versions.values())
    return {
        "canary_requests": served,
        "canary_share": round(tally.versions["2"] / served, 4),
        "canary_share_error": round(abs(tally.versions["2"] / served - 0.10), 4),
    }


def switch(gateway: Gateway, registry: Registry, body: bytes) -> dict[str, Any]:
    """A blue-green preview, its switch, and two more reloads under 4 clients."""
    tally, stop = Tally(), threading.Event()
    threads = clients(gateway.port, body, tally, stop)
    time.sleep(0.5)
    for state, held in (({"strategy": "blue-green", "traffic": {1: 100}, "preview": 2}, "2"),
                        ({"strategy": "blue-green", "traffic": {2: 100}}, "2"),
                        ({"strategy": "canary", "step": 0, "traffic": {2: 50, 1: 50}}, "1"),
                        (KILL_STATE, "2")):
        production(registry, state, held)
        gateway.reload()
        time.sleep(0.7)
    stop.set()
    for thread in threads:
        thread.join()
    return {
        "switch_requests": sum(tally.statuses.values()) + len(tally.errors),
        "switch_failed_requests": tally.failed,
        "switch_statuses": {str(k): v for k, v in tally.statuses.items()},
    }


KILL_STATE = {"strategy": "direct", "traffic": {2: 100}, "fallback": 1}


def kill(gateway: Gateway, registry: Registry, body: bytes, args: argparse.Namespace) -> dict[str, Any]:
    """The serving version's process SIGKILLed under 4 clients, --kills times (each once it is back and has
    answered), with version 1 as the fallback: no client may see a failure, and the fallback's answers must
    come within the policy's timeout + 20 ms."""
    production(registry, KILL_STATE, "2")
    gateway.reload()
    tally, stop = Tally(), threading.Event()
    threads = clients(gateway.port, body, tally, stop)
    time.sleep(1.0)
    kills = 0
    restarts: list[float] = []
    for _ in range(args.kills):
        [two] = [v for v in gateway.stage("tumor", "production")["versions"] if v["version"] == "2"]
        if two["state"] != "ready" or two["pid"] is None:
            break
        os.kill(int(two["pid"]), signal.SIGKILL)
        killed = time.monotonic()
        kills += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # back, and answering live requests again
            time.sleep(0.5)
            [two] = [v for v in gateway.stage("tumor", "production")["versions"] if v["version"] == "2"]
            if two["state"] == "ready" and two["answered"] > 0:
                restarts.append(round(time.monotonic() - killed, 1))
                break
        time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    ordered = sorted(tally.fallback_ms)
    return {
        "kills": kills,
        "kill_back_in_s": restarts,
        "kill_requests": sum(tally.statuses.values()) + len(tally.errors),
        "kill_failed_requests": tally.failed,
        "kill_fallback_answers": len(tally.fallback_ms),
        "fallback_p50_ms": round(loadtest.percentile(ordered, 50), 3) if ordered else None,
        "fallback_p99_ms": round(loadtest.percentile(ordered, 99), 3) if ordered else None,
        "fallback_max_ms": round(ordered[-1], 3) if ordered else None,
        "fallback_timeout_ms": TIMEOUT_MS,
        "kill_fallback_reasons": gateway_reasons(gateway),
    }


def gateway_reasons(gateway: Gateway) -> dict[str, float]:
    """The gateway's own count of fallback answers by why the routed version failed."""
    found: Counter[str] = Counter()
    for (name, labels), value in gateway.metrics().items():
        if name == "modelbot_fallbacks_total":
            found[dict(labels)["reason"]] += value
    return dict(found)


def shadow(gateway: Gateway, registry: Registry, body: bytes, args: argparse.Namespace) -> dict[str, Any]:
    """Live p50 at 1 client with version 2 mirrored at 100 % against 0 %, and the gateway process's own CPU per
    request either way (its share of a mirror's work, whatever the machine's load).

    Both sides run on one gateway at once, with the same processes: staging shadows version 2 at 100 %,
    production at 0 % (version 1 answers both; one process per model serves both stages). One client alternates
    blocks of --shadow-block requests between the two stages, so load from elsewhere, which comes and goes over
    seconds, falls on both sides alike. After a mirrored block the next waits until every mirror of it is done
    (compared, failed or dropped), so the shadow's work never lands in a block without mirrors."""
    entry = registry.models["tumor"]
    entry["stages"] = {"staging": 2, "production": 2}
    entry["deployment"] = {stage: {"strategy": "shadow", "traffic": {1: 100}, "shadow": 2, "mirror_percent": share}
                           for stage, share in (("production", 0), ("staging", 100))}
    registry.commit("tumor: staging mirrors version 2 at 100 %, production at 0 %")
    gateway.reload()
    paths = {"without": PATH, "with": PATH.replace("/production/", "/staging/")}
    latencies: dict[str, list[float]] = {"without": [], "with": []}
    cpu = {"without": 0.0, "with": 0.0}
    looks = {"without": 0, "with": 0}
    statuses: Counter[int] = Counter()
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    headers = {"Content-Type": "application/json"}

    def ask(path: str) -> float:
        started = time.perf_counter()
        conn.request("POST", path, body, headers)
        answer = conn.getresponse()
        answer.read()
        statuses[answer.status] += 1
        return (time.perf_counter() - started) * 1000

    labels = {"model": "tumor", "stage": "staging", "version": "2"}

    def settle() -> int:
        """Wait until the gateway has done with every mirror sent so far (the shadow's `mirrors_pending`); returns
        how many times it looked."""
        deadline, looks = time.monotonic() + 60, 0
        while time.monotonic() < deadline:
            looks += 1
            [two] = [v for v in gateway.stage("tumor", "staging")["versions"] if v["version"] == "2"]
            if not two["mirrors_pending"]:
                break
            time.sleep(0.05)
        return looks

    for _ in range(50):  # warm-up, both sides
        ask(paths["without"])
        ask(paths["with"])
    settle()
    block = max(2, args.shadow_block)
    for number in range(max(2, 2 * args.requests // block)):
        side = ("without", "with")[number % 2]
        before = cpu_s(gateway.proc.pid)
        for _ in range(block):
            latencies[side].append(ask(paths[side]))
        looks[side] += settle()  # the mirrors' work after the block is theirs; the looks themselves are not
        cpu[side] += cpu_s(gateway.proc.pid) - before
    conn.close()
    p50 = {side: statistics.median(found) for side, found in latencies.items()}
    # what a look at the stage costs the gateway, measured alone, is taken off each side's CPU
    before = cpu_s(gateway.proc.pid)
    for _ in range(200):
        gateway.stage("tumor", "staging")
    look = (cpu_s(gateway.proc.pid) - before) / 200
    per_request = {side: (cpu[side] - looks[side] * look) * 1000 / len(latencies[side]) for side in cpu}
    return {
        "live_p50_ms_without_shadow": round(p50["without"], 3),
        "live_p50_ms_with_shadow": round(p50["with"], 3),
        "shadow_p50_ratio": round(p50["with"] / p50["without"], 3),
        "gateway_cpu_ms_per_request_without_shadow": round(per_request["without"], 3),
        "gateway_cpu_ms_per_request_with_shadow": round(per_request["with"], 3),
        "shadow_phase_statuses": {str(k): v for k, v in statuses.items()},
        "shadow_compared": gateway.metric("modelbot_shadow_compared_total", **labels),
        "shadow_errors": gateway.metric("modelbot_shadow_errors_total", **labels),
        "shadow_dropped": gateway.metric("modelbot_shadow_dropped_total", **labels),
    }


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    sys.exit(main())
