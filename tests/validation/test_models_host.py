"""Models load and answer in a child process without the workflow's token: a model that hangs, crashes, raises
or prints is a ModelProblem with the reason, its process is gone, and its answers come back as data only."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from bot import sandboxing
from bot.infra import procs
from bot.validation import models
from bot.validation.host import encode
from tests.infra.conftest import InfraStore, group_gone, xy_frame


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> InfraStore:
    return InfraStore(tmp_path_factory.mktemp("host-mlflow"))


@pytest.fixture(autouse=True)
def _pointed(store: InfraStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.point()
    for name, value in store.env().items():
        monkeypatch.setenv(name, value)


def test_a_model_answers_from_its_own_process_as_it_would_in_ours(store: InfraStore) -> None:
    model = models.load(store.behaviour(chatty=True))
    pid = model.host.pid
    try:
        frame = xy_frame(7)
        answer = models.predict(model, frame)
        assert isinstance(answer, np.ndarray) and answer.dtype == np.float64
        assert answer.tolist() == (2 * frame["x"] + frame["y"]).tolist()  # the prints did not get in the way
        assert [c.name for c in model.inputs or ()] == ["x", "y"]
        assert pid != os.getpid() and procs.running(pid)
    finally:
        model.close()
    assert group_gone(pid)


def test_the_model_never_sees_the_workflow_token(store: InfraStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "oidc")
    model = models.load(store.behaviour(token_probe=True))
    try:
        assert models.predict(model, xy_frame(3)).tolist() == [0.0, 0.0, 0.0]
    finally:
        model.close()
    environment = sandboxing.environment("/tmp/home", {
        "GITHUB_TOKEN": "t", "INPUT_GITHUB-TOKEN": "t", "ACTIONS_RUNTIME_TOKEN": "t", "MODELBOT_WEBHOOK_SECRET": "s",
        "MLFLOW_TRACKING_URI": "u", "MLFLOW_TRACKING_TOKEN": "m", "PATH": "p", "GITHUB_REPOSITORY": "acme/models",
        "AWS_SECRET_ACCESS_KEY": "k", "DB_PASSWORD": "x", "LANG": "C.UTF-8"})
    assert {k: v for k, v in environment.items() if k != "PATH"} == {
        "MLFLOW_TRACKING_URI": "u", "LANG": "C.UTF-8", "HOME": "/tmp/home", "TMPDIR": "/tmp/home",
        "PYTHONNOUSERSITE": "1"}
    assert environment["PATH"].endswith(os.pathsep + "p")
    assert "MLFLOW_TRACKING_TOKEN" in sandboxing.environment("/h", {"MLFLOW_TRACKING_TOKEN": "m"}, credentials=True)


def test_a_model_that_hangs_is_stopped_at_the_time_limit(store: InfraStore) -> None:
    model = models.load(store.behaviour(delay_s=30))
    pid = model.host.pid
    with pytest.raises(models.ModelProblem, match="did not predict within the time limit; its process was stopped"):
        models.predict(model, xy_frame(2), timeout_s=1.0)
    assert group_gone(pid)


@pytest.mark.parametrize("config, message", [
    ({"crash_after": 0}, r"failed to predict: its process ended \(exit 3\)"),
    ({"raise": True}, "failed to predict: behaviour model: predict failed on purpose"),
])
def test_a_model_that_dies_or_raises_is_a_problem_with_its_reason(store: InfraStore, config: dict[str, object],
                                                                  message: str) -> None:
    model = models.load(store.behaviour(**config))
    try:
        with pytest.raises(models.ModelProblem, match=message):
            models.predict(model, xy_frame(2))
    finally:
        model.close()


def test_loading_failures_and_slow_loads_are_problems_too(store: InfraStore) -> None:
    broken, slow = models.load_many([store.behaviour(fail_load=True), store.behaviour(load_sleep_s=30)],
                                    timeout_s=8.0)
    assert isinstance(broken, models.ModelProblem)
    assert "failed to load: behaviour model: refusing to load" in str(broken)
    assert isinstance(slow, models.ModelProblem) and "did not load within the time limit" in str(slow)
    with pytest.raises(models.ModelProblem, match=r"not a URI listed in models\.yaml"):
        models.load("models:/elsewhere/1", allowed={"models:/behaviour/1"})


@pytest.mark.parametrize("raw", [
    np.array([[0.1, 0.9], [0.7, 0.3]]),
    np.array(["cat", "dog", "cat"], dtype=object),
    np.zeros((2, 2, 2)),
    pd.DataFrame({0: [0.2, 0.8], "b": [0.8, 0.2]}),
    pd.Series([1, 0, 1]),
    [1, 2, 3],
])
def test_answers_cross_the_process_boundary_as_data(raw: object) -> None:
    back = models.decode(encode(raw))
    if isinstance(raw, pd.DataFrame):
        assert list(back.columns) == [0, "b"] and back.to_numpy().tolist() == raw.to_numpy().tolist()
    elif isinstance(raw, pd.Series):
        assert isinstance(back, pd.Series) and back.tolist() == raw.tolist()
    else:
        expected = np.asarray(raw)
        assert back.shape == expected.shape and back.tolist() == expected.tolist()


def test_start_returns_before_the_models_load_and_ready_gives_them_in_order(store: InfraStore) -> None:
    slow, quick = store.behaviour(load_sleep_s=2), store.behaviour(chatty=True)
    started = models.start([slow, "models:/elsewhere/1", quick], allowed={slow, quick})
    assert isinstance(started[1], models.ModelProblem) and "not a URI listed in models.yaml" in str(started[1])
    first, refused, second = models.ready(started)
    try:
        assert isinstance(first, models.LoadedModel) and first.uri == slow
        assert isinstance(second, models.LoadedModel) and second.uri == quick
        assert refused is started[1]
        assert models.predict(first, xy_frame(3)).tolist() == [0.0, 2.25, 4.5]
    finally:
        for loaded in (first, second):
            if isinstance(loaded, models.LoadedModel):
                loaded.close()


def test_models_discarded_while_they_load_leave_no_process(store: InfraStore) -> None:
    started = models.start([store.behaviour(load_sleep_s=30)])
    models.discard(started)
    [pending] = started
    assert not isinstance(pending, (models.ModelHost, models.ModelProblem))
    host = pending.result(timeout=models.LOAD_TIMEOUT_S)
    assert isinstance(host, models.ModelHost)
    deadline = time.monotonic() + 30
    while not group_gone(host.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group_gone(host.pid) and host not in models._LIVE
