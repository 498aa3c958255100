"""Rendered KServe and Seldon Core v2 manifests for every strategy, checked against the fields those engines
document (no JSON schema for their CRDs ships in a PyPI package: KServe's SDK has generated classes, Seldon
Core v2 none), and written and committed into the repository."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from bot.deploy import strategies
from bot.deploy.base import DeployError, Deployment
from bot.deploy.manifests import Manifests, Settings, render
from bot.policy.load import parse_deploy
from tests.support.gitrepo import GitRepo

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# KServe v1beta1 PredictorSpec / ModelSpec fields (kserve.github.io, "Control Plane API"); a subset we may emit.
KSERVE_PREDICTOR_FIELDS = {"model", "canaryTrafficPercent", "timeout", "minReplicas", "maxReplicas"}
KSERVE_MODEL_FIELDS = {"modelFormat", "protocolVersion", "storageUri", "runtime"}
# Seldon Core v2 (docs.seldon.io, "Model" and "Experiment" resources).
SELDON_MODEL_FIELDS = {"storageUri", "requirements", "replicas", "memory"}
SELDON_EXPERIMENT_FIELDS = {"default", "candidates", "mirror", "resourceType"}
URIS = {"1": "models:/churn/1", "2": "models:/churn/2"}


def deployment(raw: dict[str, Any], kind: str = "promote") -> Deployment:
    deploy = parse_deploy(raw)
    rollout = strategies.start(deploy, kind, "1", "2")
    assert rollout is not None
    return Deployment(model="churn", stage="production", version="2", previous="1", commit="c" * 40, pr=4,
                      uri=URIS["2"], previous_uri=URIS["1"], uris=URIS, state=rollout.as_state(),
                      fallback=strategies.fallback(deploy, rollout))


def check_metadata(doc: dict[str, Any]) -> None:
    meta = doc["metadata"]
    assert DNS_1123.match(meta["name"]) and len(meta["name"]) <= 63
    assert DNS_1123.match(meta["namespace"])
    assert all(isinstance(v, str) for v in {**meta["labels"], **meta["annotations"]}.values())


def check_kserve(doc: dict[str, Any]) -> None:
    assert (doc["apiVersion"], doc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    check_metadata(doc)
    predictor = doc["spec"]["predictor"]
    assert set(predictor) <= KSERVE_PREDICTOR_FIELDS
    assert set(predictor["model"]) <= KSERVE_MODEL_FIELDS
    assert predictor["model"]["modelFormat"]["name"] and predictor["model"]["storageUri"]
    if "canaryTrafficPercent" in predictor:
        assert isinstance(predictor["canaryTrafficPercent"], int) and 0 <= predictor["canaryTrafficPercent"] <= 100
    if "timeout" in predictor:
        assert isinstance(predictor["timeout"], int) and predictor["timeout"] > 0


def check_seldon(docs: list[dict[str, Any]]) -> None:
    models = {d["metadata"]["name"] for d in docs if d["kind"] == "Model"}
    for doc in docs:
        assert doc["apiVersion"] == "mlops.seldon.io/v1alpha1"
        check_metadata(doc)
        if doc["kind"] == "Model":
            assert set(doc["spec"]) <= SELDON_MODEL_FIELDS and doc["spec"]["storageUri"]
            assert all(isinstance(r, str) for r in doc["spec"]["requirements"])
        else:
            assert doc["kind"] == "Experiment"
            spec = doc["spec"]
            assert set(spec) <= SELDON_EXPERIMENT_FIELDS and spec["candidates"]
            assert all(set(c) == {"name", "weight"} and isinstance(c["weight"], int) for c in spec["candidates"])
            named = {c["name"] for c in spec["candidates"]} | {spec.get("default"), spec.get("mirror", {}).get("name")}
            assert named - {None} <= models, "an experiment names a model the file does not define"


def docs_of(settings: Settings, d: Deployment) -> list[dict[str, Any]]:
    text = render(settings, d)
    assert text is not None
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_kserve_canary_sends_the_step_share_to_the_candidate_and_carries_the_fallback() -> None:
    deploy = {"strategy": "canary", "canary": {"steps": [10, 50, 100]},
              "fallback": {"version": "previous", "timeout_ms": 1500, "constant": {"malignant": 0}}}
    docs = docs_of(Settings(engine="kserve", storage_uri="s3://models/{model}/{version}"), deployment(deploy))
    for doc in docs:
        check_kserve(doc)
    primary, fallback = docs
    assert primary["metadata"]["name"] == "churn-production"
    assert primary["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert primary["spec"]["predictor"]["model"]["storageUri"] == "s3://models/churn/2"
    assert primary["spec"]["predictor"]["timeout"] == 2
    notes = primary["metadata"]["annotations"]
    assert notes["modelbot.io/fallback-service"] == "churn-production-fallback"
    assert notes["modelbot.io/fallback-constant"] == '{"malignant": 0}'
    assert notes["modelbot.io/fallback-timeout-ms"] == "1500"
    assert (fallback["metadata"]["name"], fallback["spec"]["predictor"]["model"]["storageUri"]) == (
        "churn-production-fallback", "s3://models/churn/1")


def test_kserve_complete_rollout_has_no_canary_and_blue_green_previews_separately() -> None:
    done = docs_of(Settings(), deployment({"strategy": "direct"}))
    assert len(done) == 1 and "canaryTrafficPercent" not in done[0]["spec"]["predictor"]
    assert done[0]["spec"]["predictor"]["model"]["storageUri"] == "models:/churn/2"
    blue, green = docs_of(Settings(), deployment({"strategy": "blue-green"}))
    check_kserve(blue), check_kserve(green)
    assert (blue["metadata"]["name"], blue["spec"]["predictor"]["model"]["storageUri"]) == (
        "churn-production", "models:/churn/1")
    assert (green["metadata"]["name"], green["spec"]["predictor"]["model"]["storageUri"]) == (
        "churn-production-preview", "models:/churn/2")


@pytest.mark.parametrize("strategy", ["shadow", "ab"])
def test_kserve_refuses_what_it_cannot_express(strategy: str) -> None:
    with pytest.raises(DeployError, match="use engine: seldon"):
        render(Settings(engine="kserve"), deployment({"strategy": strategy}))


@pytest.mark.parametrize(
    ("deploy", "candidates", "mirror"),
    [
        ({"strategy": "canary", "canary": {"steps": [25, 100]}},
         [{"name": "churn-production", "weight": 75}, {"name": "churn-production-candidate", "weight": 25}], None),
        ({"strategy": "shadow", "shadow": {"mirror_percent": 30}},
         [{"name": "churn-production", "weight": 100}], {"name": "churn-production-candidate", "percent": 30}),
        ({"strategy": "ab", "ab": {"challenger_percent": 50, "sticky_key": "customer_id"}},
         [{"name": "churn-production", "weight": 50}, {"name": "churn-production-candidate", "weight": 50}], None),
    ],
)
def test_seldon_experiments_weight_the_candidates_and_mirror_the_shadow(
        deploy: dict[str, Any], candidates: list[dict[str, Any]], mirror: dict[str, Any] | None) -> None:
    docs = docs_of(Settings(engine="seldon"), deployment(deploy))
    check_seldon(docs)
    [experiment] = [d for d in docs if d["kind"] == "Experiment"]
    assert experiment["spec"]["default"] == "churn-production"
    assert experiment["spec"]["candidates"] == candidates
    assert experiment["spec"].get("mirror") == mirror
    storage = {d["metadata"]["name"]: d["spec"]["storageUri"] for d in docs if d["kind"] == "Model"}
    assert storage == {"churn-production": "models:/churn/1", "churn-production-candidate": "models:/churn/2"}
    if deploy["strategy"] == "ab":
        assert experiment["metadata"]["annotations"]["modelbot.io/sticky-key"] == "customer_id"


def test_seldon_direct_is_one_model_and_a_failover_version_its_own() -> None:
    docs = docs_of(Settings(engine="seldon"), deployment({"strategy": "direct", "fallback": {"version": "previous"}}))
    check_seldon(docs)
    assert [(d["kind"], d["metadata"]["name"], d["spec"]["storageUri"]) for d in docs] == [
        ("Model", "churn-production", "models:/churn/2"), ("Model", "churn-production-fallback", "models:/churn/1")]


def test_a_rollback_renders_the_restored_version_alone() -> None:
    deploy = parse_deploy({"strategy": "canary", "fallback": {"version": "previous"}})
    rollout = strategies.start(deploy, "rollback", "2", "1")
    assert rollout is not None
    d = Deployment(model="churn", stage="production", version="1", previous="2", commit="d" * 40, kind="rollback",
                   uri=URIS["1"], previous_uri=URIS["2"], uris=URIS, state=rollout.as_state(),
                   fallback=strategies.fallback(deploy, rollout))
    [doc] = docs_of(Settings(), d)
    assert doc["spec"]["predictor"]["model"]["storageUri"] == "models:/churn/1"
    assert "canaryTrafficPercent" not in doc["spec"]["predictor"]


@pytest.mark.parametrize("path", ["/etc/manifests", "../outside", "deploy/../../x"])
def test_the_manifest_path_stays_inside_the_repository(path: str) -> None:
    with pytest.raises(DeployError, match="inside the repository"):
        Settings.from_config({"path": path})


def test_written_manifests_are_committed_once(tmp_path: Any) -> None:
    repo = GitRepo(tmp_path)
    repo.git("init", "-q", "-b", "main")
    repo.write("README.md", "models\n")
    repo.commit("init")
    deployer = Manifests(tmp_path, Settings(path="gitops"))
    d = deployment({"strategy": "direct"})
    first = deployer.deploy(d)
    again = deployer.deploy(d)
    assert first.status == "done" and again.status == "unchanged"
    assert repo.git("log", "--format=%an %s", "-n", "2").splitlines() == [
        "modelbot Render kserve manifests for churn production (version 2)", "Dana DS init"]
    assert repo.git("show", "--name-only", "--format=", "HEAD") == "gitops/churn/production.yaml"
    assert repo.git("status", "--porcelain") == ""
