"""Shared parts for the deploy tests: one real MLflow registry (SQLite) holding three real versions of the example
classifier, and real git repositories holding the example registry with the deploy policy a test asks for.

Tests share the registry, so each deploys under its own alias prefix (`Context.alias_prefix`) and reads only
its own aliases and tags.
"""

from __future__ import annotations

import copy
import http.server
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.deploy.catalog import Context
from bot.registry.edit import set_deployment, set_stage
from tests.support.gitrepo import GitRepo, example_repo

MODEL = "tumor-malignancy"


@dataclass(frozen=True)
class Registry:
    tracking_uri: str
    versions: tuple[str, ...]

    def client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def aliases(self, prefix: str) -> dict[str, str]:
        found = self.client().get_registered_model(MODEL).aliases
        return {a.removeprefix(prefix): str(v) for a, v in found.items() if a.startswith(prefix)}

    def tags(self, version: str, prefix: str) -> dict[str, str]:
        found = self.client().get_model_version(MODEL, version).tags
        return {k: v for k, v in found.items() if k.startswith(f"modelbot.{prefix}")}


@pytest.fixture(scope="session")
def mlflow_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    from sklearn.linear_model import LogisticRegression

    from tests.support.mlflow_models import MlflowStore, dataset

    store = MlflowStore(tmp_path_factory.mktemp("mlflow"))
    data = dataset("binary")
    versions = [store.register(MODEL, LogisticRegression(C=c, max_iter=5000), data).version for c in (1.0, 0.5, 0.1)]
    # Version 4 cannot answer the evaluation rows: its signature wants a column they do not have.
    columns = [*data.features[:3], "not_in_the_data"]
    frame = data.train[list(data.features[:3])].assign(not_in_the_data=1.0)
    fitted = LogisticRegression(max_iter=5000).fit(frame[columns], data.train[data.target])
    versions.append(store.log(MODEL, fitted, frame[columns], proba=True).version)
    return Registry(store.tracking_uri, tuple(versions))


def set_policy_deploy(repo: GitRepo, stage: str, deploy: dict[str, Any]) -> None:
    """Replace the `deploy` section of one stage of policies/default.yaml (and its `rollout` section, given as
    the key `rollout` of `deploy`)."""
    policy = yaml.safe_load(repo.read("policies/default.yaml"))
    deploy = copy.deepcopy(deploy)
    if "rollout" in deploy:
        policy["stages"][stage]["rollout"] = deploy.pop("rollout")
    policy["stages"][stage]["deploy"] = deploy
    repo.write("policies/default.yaml", yaml.safe_dump(policy, sort_keys=False))


@dataclass
class Repo:
    git: GitRepo

    @property
    def path(self) -> Path:
        return self.git.path

    def head(self) -> str:
        return self.git.git("rev-parse", "HEAD")

    def promote(self, stage: str, version: str | None, message: str | None = None) -> str:
        text, _ = set_stage(self.git.read("models.yaml"), MODEL, stage, version)
        self.git.write("models.yaml", text)
        return self.git.commit(message or f"Promote {MODEL} {version} to {stage}")

    def set_state(self, stage: str, state: dict[str, Any] | None, message: str) -> str:
        text, _ = set_deployment(self.git.read("models.yaml"), MODEL, stage, state)
        self.git.write("models.yaml", text)
        return self.git.commit(message)


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Repo]:
    """A git repository with the example registry; `deploys` maps stage -> its policy `deploy` section."""
    def make(deploys: dict[str, dict[str, Any]] | None = None, name: str = "repo") -> Repo:
        git = example_repo(tmp_path / name)
        for stage, deploy in (deploys or {}).items():
            set_policy_deploy(git, stage, deploy)
        if deploys:
            git.commit("Set the deploy policy")
        return Repo(git)

    return make


def context(repo: Repo, registry: Registry, prefix: str, **kwargs: Any) -> Context:
    return Context(repo=repo.path, tracking_uri=registry.tracking_uri, alias_prefix=prefix, **kwargs)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HookServer:
    """A real HTTP server on 127.0.0.1 that records what it receives; `delay_s` makes it answer late."""

    status: int = 200
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def hook_server() -> Iterator[HookServer]:
    state = HookServer()
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(Received("POST", self.path, dict(self.headers), body))
            if state.delay_s:
                release.wait(state.delay_s)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}' if state.status < 400 else b'{"error": "deploy refused"}')

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/deploy"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PROMETHEUS_ANSWERS = {
    ("duration_seconds", "8"): "NaN",
    ("requests_total", "7"): "412",
    ("errors_total", "7"): "3",
    ("duration_seconds", "7"): "37.5",
    ("requests_total", "6"): "3700",
    ("errors_total", "6"): "30",
    ("duration_seconds", "6"): "30",
    ("shadow_compared", "7"): "500",
    ("shadow_agreed", "7"): "490",
    ("requests_total", "2"): "412",
    ("errors_total", "2"): "3",
    ("duration_seconds", "2"): "37.5",
    ("requests_total", "1"): "3700",
    ("errors_total", "1"): "30",
    ("duration_seconds", "1"): "30",
}


@pytest.fixture
def prometheus() -> Iterator[tuple[str, list[str]]]:
    """Answers /api/v1/query like Prometheus, from PROMETHEUS_ANSWERS: the first (metric, version) pair found in
    the query names the value; NaN latency for version 8."""
    queries: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["query"][0]
            queries.append(query)
            value = next(
                (v for (metric, version), v in PROMETHEUS_ANSWERS.items()
                 if metric in query and f'version="{version}"' in query),
                "0",
            )
            body = {"status": "success", "data": {"resultType": "vector",
                                                  "result": [{"metric": {}, "value": [1763892000.0, value]}]}}
            if "bad" in query:
                self.send_response(400)
                body = {"status": "error", "errorType": "bad_data", "error": "parse error"}
            else:
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", queries
    server.shutdown()
    server.server_close()


from tests.support.localhub import localhub_factory  # noqa: E402,F401  (the fixture, for the localhub flow)
