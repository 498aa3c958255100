"""A model is untrusted code (issue 12, point 5): with the workflow token in the bot's environment, a model
that hunts for it (its own environment, /proc/*/environ), writes into the checkout, the bot's working
directory and the workspace, and opens other processes' pipes gets nothing, in all three places model code
runs (the validation host, `mlflow models serve`, the parity run), and the answers are still right."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import sandboxing
from bot.infra import parity, sandbox
from bot.infra.client import predictions
from bot.validation import models
from tests.infra.conftest import InfraStore, xy_frame

CANARY = "ghs_canary_0123456789abcdef"
HOSTILE = Path(__file__).parents[1] / "support" / "hostile_model.py"
CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> InfraStore:
    return InfraStore(tmp_path_factory.mktemp("isolation-mlflow"))


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """A job's workspace as a runner lays it out: the bot's, readable by all (0755), outside pytest's 0700 tree."""
    path = Path(tempfile.mkdtemp(prefix="modelbot-workspace-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def hostile(store: InfraStore, workspace: Path) -> str:
    import mlflow
    from mlflow.models import infer_signature

    store.point()
    example = xy_frame(3)
    # Pipes count in this test's process tree only: under pytest-xdist another worker's model servers run as
    # the same user meanwhile, and what a model can do to another test's model is no breach of this bot.
    config = {"targets": [str(CHECKOUT), os.getcwd(), str(workspace), str(workspace.parent)], "within": os.getpid()}
    with mlflow.start_run(experiment_id=store.mlflow.experiment_id):
        info = mlflow.pyfunc.log_model(name="model", python_model=str(HOSTILE), model_config=config,
                                       signature=infer_signature(example, (2 * example["x"]).to_numpy()),
                                       pip_requirements=["mlflow"], registered_model_name="hostile")
    return f"models:/hostile/{info.registered_model_version}"


@pytest.fixture(autouse=True)
def _secret_in_the_bot(store: InfraStore, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store.point()
    for name, value in store.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    monkeypatch.setenv("INPUT_GITHUB-TOKEN", CANARY)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(workspace))


def _report(log: str) -> dict[str, Any]:
    lines = [line for line in log.splitlines() if line.startswith("HOSTILE ")]
    assert lines, f"the hostile model never ran: {log[-2000:]}"
    return dict(json.loads(lines[-1].removeprefix("HOSTILE ")))


def _nothing_got_out(log: str, workspace: Path) -> dict[str, Any]:
    assert CANARY not in log
    got = _report(log)
    assert got["environ"] == [] and got["pipes"] == [], got
    # What the model wrote must not exist for anyone else: a write into /tmp may have "succeeded" in the
    # private /tmp of its mount namespace, which is gone with it.
    private = {"/tmp/written-by-a-model.txt"} if sandboxing.current().namespace else set()
    assert set(got["wrote"]) <= private, got
    for target in (CHECKOUT, Path.cwd(), workspace, workspace.parent):
        assert not (target / "written-by-a-model.txt").exists()
    return got


def test_the_isolation_level_is_decided_and_named() -> None:
    level = sandboxing.current()
    assert level.level in (sandboxing.SEPARATE_USER, sandboxing.SAME_USER, sandboxing.NONE) and level.reason
    if os.geteuid() == 0:  # CI runs as root: models must run as another user
        assert level.level == sandboxing.SEPARATE_USER, level.reason


def test_a_hostile_model_in_the_validation_host_gets_nothing_and_the_answers_are_right(
        store: InfraStore, hostile: str, workspace: Path) -> None:
    candidate, champion = models.load_many([hostile, store.behaviour()])
    assert isinstance(candidate, models.LoadedModel) and isinstance(champion, models.LoadedModel)
    try:
        frame = xy_frame(50)
        expected = (2 * frame["x"] + frame["y"]).tolist()
        assert models.predict(candidate, frame).tolist() == expected
        assert models.predict(champion, frame).tolist() == expected  # its neighbour did not alter it
        candidate.host._log.seek(0)
        got = _nothing_got_out(candidate.host._log.read().decode("utf-8", "replace"), workspace)
    finally:
        candidate.close(), champion.close()
    if sandboxing.current().level == sandboxing.SEPARATE_USER:
        assert got["uid"] != 0 and got["uid"] == sandboxing.current().uid


def test_a_hostile_model_in_the_sandboxed_server_gets_nothing(store: InfraStore, hostile: str,
                                                              workspace: Path) -> None:
    spec = sandbox.SandboxSpec(hostile, load_deadline_s=90, env=store.env())
    with sandbox.serve(spec) as server:
        import urllib.request

        body = json.dumps({"dataframe_split": xy_frame(4).to_dict(orient="split")}).encode()
        request = urllib.request.Request(server.url + "/invocations", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = predictions(response.read(), 4)
        log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert answer == [0.0, 2.25, 4.5, 6.75]
    _nothing_got_out(log, workspace)


def test_a_hostile_model_in_the_parity_run_gets_nothing(hostile: str, workspace: Path) -> None:
    with parity.LocalRun(hostile, xy_frame(4), 120.0) as run:
        answer = run.result()
        log = (run._tmp / "log.txt").read_text(encoding="utf-8", errors="replace")
    assert answer == [0.0, 2.25, 4.5, 6.75]
    _nothing_got_out(log, workspace)


def test_a_hostile_model_in_the_deploy_s_smoke_check_gets_nothing(
        store: InfraStore, hostile: str, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deploy job holds a write token: its smoke check runs the model like every other model run."""
    from bot.deploy.verify import SmokeCheck

    logs: list[str] = []
    close = models.LoadedModel.close

    def keep_log(model: models.LoadedModel) -> None:
        model.host._log.seek(0)
        logs.append(model.host._log.read().decode("utf-8", "replace"))
        close(model)

    monkeypatch.setattr(models.LoadedModel, "close", keep_log)
    check = SmokeCheck(store.env().get("MLFLOW_TRACKING_URI"), workspace)
    answered = check.answer(hostile, xy_frame(5))
    assert answered["answers"] == 5 and answered["finite"] and answered["isolation"]["level"], answered
    [log] = logs
    _nothing_got_out(log, workspace)
