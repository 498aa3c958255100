"""A registry repository and a running `modelbot serve` for the serving tests and the bench.

`Registry` writes models.yaml (versions pointing at real MLflow models) and a `serving` policy into a real git
repository and commits each change; `Gateway` runs `python -m bot serve` on it as a separate process on a free
loopback port and talks to it over real HTTP.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.gitrepo import PROJECT, GitRepo

SHA = "0" * 64
SERVING_POLICY = """\
version: 1
extends: default
description: The serving tests' policy.
stages:
  staging:
    deploy:
      strategy: direct
      fallback: {constant: -1, timeout_ms: %(staging_ms)s}
  production:
    deploy:
      strategy: canary
      fallback: {version: previous, timeout_ms: %(production_ms)s}
"""


def until(check: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    """Poll `check` until it holds or `timeout_s` has passed; the last check's result."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Registry:
    """A registry repository whose models.yaml the test rewrites: `set(model, uris, stages, deployment)`.

    Its `serving` policy: staging falls back to the constant -1 after `staging_ms`, production to the previous
    version after `production_ms` (long, so a loaded machine does not turn slow answers into fallbacks)."""

    def __init__(self, path: Path, staging_ms: int = 300, production_ms: int = 3000) -> None:
        path.mkdir(parents=True, exist_ok=True)
        shutil.copytree(PROJECT / "policies", path / "policies")
        policy = SERVING_POLICY % {"staging_ms": staging_ms, "production_ms": production_ms}
        (path / "policies" / "serving.yaml").write_text(policy)
        self.repo = GitRepo(path)
        self.repo.git("init", "-q", "-b", "main")
        self.models: dict[str, dict[str, Any]] = {}
        self.path = path

    def set(self, model: str, uris: Mapping[str, str], stages: Mapping[str, str | None],
            deployment: Mapping[str, Any] | None = None, commit: bool = True) -> str | None:
        entry: dict[str, Any] = {
            "description": f"{model} (serving tests)", "owners": ["dana-ds"], "task": "binary_classification",
            "policy": "serving",
            "evaluation": {"data": "data/eval.csv", "sha256": SHA, "target": "y"},
            "versions": [{"version": int(v) if v.isdigit() else v, "uri": uri,
                          "created_at": f"2026-11-0{i + 1}T09:00:00Z", "created_by": "dana-ds"}
                         for i, (v, uri) in enumerate(uris.items())],
            "stages": {s: (int(v) if v and v.isdigit() else v) for s, v in stages.items()},
        }
        if deployment:
            entry["deployment"] = dict(deployment)
        self.models[model] = entry
        if commit:
            return self.commit(f"{model}: {dict(stages)}")
        return None

    def commit(self, message: str) -> str:
        text = yaml.safe_dump({"version": 1, "models": self.models}, sort_keys=False)
        self.repo.write("models.yaml", text)
        return self.repo.commit(message)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def version(self) -> str | None:
        return self.headers.get("x-modelbot-version")


class Gateway:
    """`python -m bot serve` on a registry repository, as its own process."""

    def __init__(self, repo: Path, env: Mapping[str, str], log_dir: Path, *, poll_s: float = 0.0,
                 hang_s: float = 30.0, timeout_s: float = 10.0, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.output = log_dir / "gateway.out"
        log_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "bot", "serve", "--repo", str(repo), "--port", str(self.port),
                "--log-dir", str(log_dir), "--poll-s", str(poll_s), "--hang-s", str(hang_s),
                "--timeout-s", str(timeout_s), *extra]
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=PROJECT, env={**os.environ, **env}, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self._conn: http.client.HTTPConnection | None = None

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the gateway exited ({self.proc.returncode}): {self.tail()}")
            with contextlib.suppress(OSError):
                if self.get("/readyz").status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the gateway did not get ready in {timeout_s}s: {self.tail()}")

    def tail(self) -> str:
        return self.output.read_text(errors="replace")[-3000:]

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Answer:
        for attempt in (1, 2):
            conn = self._conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self._conn = conn
            try:
                conn.request(method, path, body=body, headers=dict(headers or {}))
                response = conn.getresponse()
                data = response.read()
                return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("not reached")

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def invoke(self, model: str, stage: str, payload: Any, headers: Mapping[str, str] | None = None,
               content_type: str = "application/json") -> Answer:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request("POST", f"/models/{model}/{stage}/invocations", body,
                            {"Content-Type": content_type, **(headers or {})})

    def reload(self) -> dict[str, Any]:
        answer = self.request("POST", "/-/reload")
        assert answer.status == 200, answer.body
        result: dict[str, Any] = answer.json()
        return result

    def stage(self, model: str, stage: str) -> dict[str, Any]:
        answer = self.get(f"/models/{model}/{stage}")
        assert answer.status == 200, answer.body
        result: dict[str, Any] = answer.json()
        return result

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """The /metrics samples by (name, labels)."""
        from prometheus_client.parser import text_string_to_metric_families

        out = {}
        for family in text_string_to_metric_families(self.get("/metrics").body.decode()):
            for sample in family.samples:
                out[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return out

    def metric(self, name: str, **labels: str) -> float:
        """A metric summed over the samples whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.metrics().items() if n == name and wanted <= ls)

    def log_records(self) -> list[dict[str, Any]]:
        path = self.log_dir / "predictions.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@contextlib.contextmanager
def running(repo: Path, env: Mapping[str, str], log_dir: Path, **kwargs: Any) -> Iterator[Gateway]:
    gateway = Gateway(repo, env, log_dir, **kwargs)
    try:
        gateway.wait_ready()
        yield gateway
    finally:
        gateway.stop()
