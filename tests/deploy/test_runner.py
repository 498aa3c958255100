"""Deploy on merge: each stage a push changed goes through its policy's deployers, in order, into a real MLflow
registry and a real git repository; every fault is recorded with the deployer that failed and what was done."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from bot.deploy.runner import Runner
from bot.deploy.verify import SmokeCheck
from bot.evidence import Status
from bot.registry.edit import add_version, set_stage
from tests.deploy.conftest import MODEL, HookServer, Registry, Repo, context
from tests.support.gitrepo import GitRepo

DIRECT = {"strategy": "direct", "deployers": ["mlflow-alias"], "fallback": {"version": "previous"}}


def test_a_merged_promotion_moves_the_alias_keeps_the_previous_and_tags_the_version(
        make_repo: Callable[..., Repo], mlflow_registry: Registry) -> None:
    repo = make_repo({"production": DIRECT})
    before = repo.head()
    after = repo.promote("production", "2", "Promote tumor-malignancy 2 to production (#12)")
    ctx = context(repo, mlflow_registry, "t1-")

    record = Runner(ctx, run_url="http://127.0.0.1/run/1", verifier=SmokeCheck(ctx.tracking_uri, repo.path)).run(
        before, after)

    assert record.ok, record.as_dict()
    assert record.named("deployed") == [f"{MODEL} production 2"]
    assert mlflow_registry.aliases("t1-") == {"production": "2", "production-previous": "1"}
    assert mlflow_registry.tags("2", "t1-") == {
        "modelbot.t1-production.commit": after,
        "modelbot.t1-production.pr": "12",
        "modelbot.t1-production.run_url": "http://127.0.0.1/run/1",
        "modelbot.t1-production.deployed": record.transitions[0].deployment.key,  # type: ignore[union-attr]
    }
    smoke = record.transitions[0].verify
    assert smoke is not None and smoke.status == Status.PASS
    assert smoke.observed["answers"] == 5 and smoke.observed["resolves_to"] == "2"


def test_deploying_the_same_commit_again_changes_nothing(make_repo: Callable[..., Repo],
                                                         mlflow_registry: Registry) -> None:
    manifests = {"type": "manifests", "engine": "kserve", "path": "deploy/manifests"}
    repo = make_repo({"production": {**DIRECT, "deployers": ["mlflow-alias", manifests]}})
    before = repo.head()
    after = repo.promote("production", "2")
    ctx = context(repo, mlflow_registry, "t2-")
    first = Runner(ctx).run(before, after)
    assert first.ok and first.named("deployed") == [f"{MODEL} production 2"]
    head, client = repo.head(), mlflow_registry.client()
    updated = client.get_registered_model(MODEL).last_updated_timestamp
    tags = client.get_model_version(MODEL, "2").tags

    again = Runner(ctx).run(before, after)

    assert again.ok and again.named("unchanged") == [f"{MODEL} production 2"] and again.named("deployed") == []
    assert repo.head() == head  # no second manifests commit
    assert client.get_registered_model(MODEL).last_updated_timestamp == updated
    assert client.get_model_version(MODEL, "2").tags == tags


def test_a_rollback_push_returns_the_alias_and_a_second_stage_follows_in_order(
        make_repo: Callable[..., Repo], mlflow_registry: Registry) -> None:
    repo = make_repo({"production": DIRECT, "staging": {"deployers": ["mlflow-alias"]}})
    start = repo.head()
    repo.promote("production", "2")
    promoted = repo.head()
    Runner(context(repo, mlflow_registry, "t3-")).run(start, promoted)
    repo.git.git("revert", "--no-edit", promoted)
    repo.promote("staging", "1", "Stage 1 again")

    record = Runner(context(repo, mlflow_registry, "t3-")).run(promoted, repo.head())

    assert [(t.change.stage, t.change.kind, t.status) for t in record.transitions] == [
        ("staging", "rollback", "deployed"), ("production", "rollback", "deployed")]
    assert mlflow_registry.aliases("t3-") == {"production": "1", "production-previous": "2",
                                              "staging": "1", "staging-previous": "2"}


def test_mlflow_unreachable_is_recorded_with_what_was_done_before(
        make_repo: Callable[..., Repo], mlflow_registry: Registry, unused_port: int) -> None:
    manifests = {"type": "manifests", "path": "deploy/manifests", "commit": False}
    repo = make_repo({"production": {"deployers": [manifests, "mlflow-alias"]}})
    before = repo.head()
    after = repo.promote("production", "2")
    ctx = context(repo, mlflow_registry, "t4-")
    ctx = type(ctx)(**{**ctx.__dict__, "tracking_uri": f"http://127.0.0.1:{unused_port}"})

    record = Runner(ctx).run(before, after).as_dict()

    assert record["ok"] is False
    failed = record["failed"]
    assert failed["deployer"] == "mlflow-alias"
    assert f"MLflow at http://127.0.0.1:{unused_port} cannot be reached" in failed["reason"]
    assert failed["succeeded_deployers"] == ["manifests"]
    assert (repo.path / "deploy/manifests/tumor-malignancy/production.yaml").is_file()


def test_an_alias_that_cannot_be_set_stops_the_run_and_lists_the_stage_deployed_before(
        make_repo: Callable[..., Repo], mlflow_registry: Registry) -> None:
    repo = make_repo({"production": DIRECT, "staging": {"deployers": ["mlflow-alias"]}})
    before = repo.head()
    entry = {"version": 9, "uri": f"models:/{MODEL}/99", "created_at": "2026-11-20T10:00:00Z", "created_by": "dana"}
    text, _ = add_version(repo.git.read("models.yaml"), MODEL, entry)
    repo.git.write("models.yaml", text)
    repo.git.commit("Register version 9")
    repo.promote("staging", "1", "Stage 1")
    repo.promote("production", "9", "Production 9")
    text, _ = set_stage(repo.git.read("models.yaml"), "diabetes-progression", "staging", None)
    repo.git.write("models.yaml", text)
    repo.git.commit("Empty diabetes staging")

    record = Runner(context(repo, mlflow_registry, "t5-")).run(before, repo.head()).as_dict()

    assert record["deployed"] == [f"{MODEL} staging 1"]
    assert record["failed"]["deployer"] == "mlflow-alias"
    assert "cannot set alias 't5-production' of tumor-malignancy to version 99" in record["failed"]["reason"]
    assert record["not_attempted"] == ["diabetes-progression staging -"]
    assert mlflow_registry.aliases("t5-") == {"staging": "1", "staging-previous": "2"}


def test_a_manifest_path_that_is_not_writable_fails_after_the_alias_moved(
        make_repo: Callable[..., Repo], mlflow_registry: Registry) -> None:
    blocked = {"type": "manifests", "path": "deploy/manifests"}
    repo = make_repo({"production": {"deployers": ["mlflow-alias", blocked]},
                      "staging": {"deployers": ["mlflow-alias"]}})
    repo.git.write("deploy", "a file where the manifests folder should be\n")
    before = repo.git.commit("Block the manifests path")
    repo.promote("staging", "1", "Stage 1")
    repo.promote("production", "2", "Production 2")

    record = Runner(context(repo, mlflow_registry, "t6-")).run(before, repo.head()).as_dict()

    assert record["deployed"] == [f"{MODEL} staging 1"]
    assert record["failed"]["deployer"] == "manifests"
    assert "cannot write deploy/manifests/tumor-malignancy/production.yaml: Not a directory" in record["failed"][
        "reason"]
    assert record["failed"]["succeeded_deployers"] == ["mlflow-alias"]
    assert mlflow_registry.aliases("t6-")["production"] == "2"


def test_settings_mistakes_fail_before_any_deployer_runs(make_repo: Callable[..., Repo],
                                                         mlflow_registry: Registry) -> None:
    repo = make_repo({"production": {"deployers": ["mlflow-alias", {"type": "webhook"}]}})
    before = repo.head()
    record = Runner(context(repo, mlflow_registry, "t7-")).run(before, repo.promote("production", "2")).as_dict()
    assert record["failed"] == {"model": MODEL, "stage": "production", "deployer": "settings",
                                "reason": "webhook: needs 'url'", "succeeded_deployers": []}
    assert mlflow_registry.aliases("t7-") == {}


def test_a_command_gets_the_deployment_as_json_on_stdin(make_repo: Callable[..., Repo],
                                                        mlflow_registry: Registry, tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    script = f"import sys, pathlib; pathlib.Path({str(seen)!r}).write_text(sys.stdin.read()); print('rolled out')"
    repo = make_repo({"production": {"deployers": [{"type": "command", "run": [sys.executable, "-c", script]}]}})
    before = repo.head()
    after = repo.promote("production", "2", "Production 2 (#7)")

    record = Runner(context(repo, mlflow_registry, "t8-")).run(before, after)

    assert record.ok
    got = json.loads(seen.read_text())
    assert (got["model"], got["stage"], got["version"], got["previous"], got["commit"], got["pr"]) == (
        MODEL, "production", "2", "1", after, 7)
    assert got["uri"] == f"models:/{MODEL}/2"
    assert record.transitions[0].steps[0].detail.endswith("rolled out")


def test_a_failing_or_hanging_command_is_recorded(make_repo: Callable[..., Repo], mlflow_registry: Registry) -> None:
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('cluster refused\\n'); sys.exit(3)"]
    hanging = [sys.executable, "-c", "import time; time.sleep(60)"]
    for run, expected in ((failing, "exited with 3: cluster refused"),
                          (hanging, "did not finish within 0.5s and was stopped")):
        repo = make_repo({"production": {"deployers": [{"type": "command", "run": run, "timeout_s": 0.5}]}},
                         name=f"repo-{len(expected)}")
        before = repo.head()
        record = Runner(context(repo, mlflow_registry, "t9-")).run(before, repo.promote("production", "2"))
        assert record.as_dict()["failed"]["deployer"] == "command"
        assert expected in record.as_dict()["failed"]["reason"]


def test_the_policy_order_is_kept(make_repo: Callable[..., Repo], mlflow_registry: Registry) -> None:
    manifests = {"type": "manifests", "path": "out", "commit": False}
    repo = make_repo({"production": {"deployers": [manifests, "mlflow-alias", "github-deployment"]}})
    before = repo.head()
    record = Runner(context(repo, mlflow_registry, "t10-")).run(before, repo.promote("production", "2"))
    steps = [(s.deployer, s.status) for s in record.transitions[0].steps]
    # The GitHub record wraps the others (here skipped: a local run has no GitHub), then the ledger is written.
    assert steps == [("github-deployment", "skipped"), ("manifests", "done"), ("mlflow-alias", "done"),
                     ("github-deployment", "skipped"), ("ledger", "done")]


def test_an_emptied_stage_removes_its_alias_and_its_manifests(make_repo: Callable[..., Repo],
                                                              mlflow_registry: Registry) -> None:
    manifests = {"type": "manifests", "path": "deploy/manifests"}
    repo = make_repo({"staging": {"deployers": ["mlflow-alias", manifests]}})
    start = repo.head()
    first = repo.promote("staging", "1", "Stage 1")
    Runner(context(repo, mlflow_registry, "t11-")).run(start, first)
    file = repo.path / "deploy/manifests/tumor-malignancy/staging.yaml"
    assert yaml.safe_load(file.read_text())["metadata"]["annotations"]["modelbot.io/version"] == "1"
    emptied = repo.promote("staging", None, "Retire staging")

    record = Runner(context(repo, mlflow_registry, "t11-")).run(first, emptied)

    assert record.ok and record.transitions[0].change.kind == "demote"
    assert mlflow_registry.aliases("t11-") == {"staging-previous": "1"}
    assert not file.exists()
    assert GitRepo(repo.path).git("log", "-1", "--format=%s") == (
        "Render kserve manifests for tumor-malignancy staging (version none)")


def test_a_webhook_that_times_out_is_recorded_after_the_stages_before_it(
        make_repo: Callable[..., Repo], mlflow_registry: Registry, hook_server: HookServer) -> None:
    hook_server.delay_s = 5
    hook = {"type": "webhook", "url": hook_server.url, "timeout_s": 0.3}
    repo = make_repo({"production": {"deployers": ["mlflow-alias", hook]},
                      "staging": {"deployers": ["mlflow-alias"]}})
    before = repo.head()
    repo.promote("staging", "1", "Stage 1")
    repo.promote("production", "2", "Production 2")
    ctx = context(repo, mlflow_registry, "t12-")
    ctx = type(ctx)(**{**ctx.__dict__, "environ": {"MODELBOT_WEBHOOK_SECRET": "s"}})

    record = Runner(ctx).run(before, repo.head()).as_dict()

    assert record["deployed"] == [f"{MODEL} staging 1"]
    assert record["failed"]["deployer"] == "webhook"
    assert record["failed"]["reason"].endswith("did not answer within 0.3s")
    assert record["failed"]["succeeded_deployers"] == ["mlflow-alias"]
    assert len(hook_server.received) == 1


def test_an_old_run_after_a_rollback_never_moves_the_stage_off_the_branch(
        make_repo: Callable[..., Repo], mlflow_registry: Registry) -> None:
    from bot.workspace import registry_at

    repo = make_repo({"production": DIRECT, "staging": {"deployers": ["mlflow-alias"]}})
    start = repo.head()
    repo.promote("staging", "1", "Stage 1 again")
    promoted = repo.promote("production", "2")
    Runner(context(repo, mlflow_registry, "t13-")).run(start, promoted)
    repo.git.git("revert", "--no-edit", promoted)
    Runner(context(repo, mlflow_registry, "t13-")).run(promoted, repo.head())
    assert mlflow_registry.aliases("t13-")["production"] == "1"
    tip = registry_at(repo.path, repo.head())
    assert tip is not None

    late = Runner(context(repo, mlflow_registry, "t13-")).run(start, promoted, tip.registry)

    assert sorted((t.change.stage, t.status) for t in late.transitions) == [("production", "superseded"),
                                                                            ("staging", "unchanged")]
    assert late.ok and late.named("superseded") == [f"{MODEL} production 2"]
    [superseded] = [t for t in late.transitions if t.status == "superseded"]
    assert "production is 1 there now" in (superseded.reason or "")
    assert mlflow_registry.aliases("t13-")["production"] == "1"
