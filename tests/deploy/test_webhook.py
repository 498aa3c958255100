"""The webhook deployer against a real HTTP server on 127.0.0.1: a signed POST, and every way it can fail."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from bot.deploy.base import DeployError, Deployment
from bot.deploy.catalog import Context, build
from bot.deploy.webhook import SIGNATURE_HEADER, Webhook, verify_signature
from bot.policy.load import parse_deploy
from tests.deploy.conftest import HookServer

SECRET = "s3cret-for-tests"
DEPLOYMENT = Deployment(model="churn", stage="production", version="7", previous="6", commit="a" * 40, pr=12,
                        uri="models:/churn/7", state={"strategy": "direct", "traffic": {7: 100}})


def test_the_post_carries_the_deployment_signed_with_hmac_sha256(hook_server: HookServer) -> None:
    outcome = Webhook(hook_server.url, SECRET).deploy(DEPLOYMENT)

    assert outcome.status == "done" and outcome.detail.endswith(": 200")
    [got] = hook_server.received
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers[SIGNATURE_HEADER] == expected
    assert verify_signature(SECRET, got.body, got.headers[SIGNATURE_HEADER])
    assert not verify_signature("another secret", got.body, got.headers[SIGNATURE_HEADER])
    assert got.headers["X-Modelbot-Delivery"] == DEPLOYMENT.key
    assert got.headers["Content-Type"] == "application/json"
    body = json.loads(got.body)
    assert body["event"] == "deployment"
    assert (body["deployment"]["model"], body["deployment"]["version"], body["deployment"]["pr"]) == ("churn", "7", 12)


def test_a_receiver_that_answers_late_is_a_timeout(hook_server: HookServer) -> None:
    hook_server.delay_s = 5
    with pytest.raises(DeployError, match=r"did not answer within 0.3s"):
        Webhook(hook_server.url, SECRET, timeout_s=0.3).deploy(DEPLOYMENT)


def test_a_refusal_says_the_status_and_the_body(hook_server: HookServer) -> None:
    hook_server.status = 503
    with pytest.raises(DeployError, match=r"answered 503: \{\"error\": \"deploy refused\"\}"):
        Webhook(hook_server.url, SECRET).deploy(DEPLOYMENT)


def test_nothing_listening_is_unreachable(unused_port: int) -> None:
    with pytest.raises(DeployError, match="cannot be reached"):
        Webhook(f"http://127.0.0.1:{unused_port}/hook", SECRET).deploy(DEPLOYMENT)


def test_an_unsigned_webhook_is_refused_and_the_secret_comes_from_the_named_variable(
        hook_server: HookServer, tmp_path: object) -> None:
    spec = parse_deploy({"deployers": [{"type": "webhook", "url": hook_server.url, "secret_env": "HOOK_SECRET"}]})
    [unsigned] = build(spec, Context(repo=tmp_path, environ={}))  # type: ignore[arg-type]
    with pytest.raises(DeployError, match="no secret to sign with"):
        unsigned.deploy(DEPLOYMENT)
    assert hook_server.received == []
    [signed] = build(spec, Context(repo=tmp_path, environ={"HOOK_SECRET": SECRET}))  # type: ignore[arg-type]
    signed.deploy(DEPLOYMENT)
    assert verify_signature(SECRET, hook_server.received[0].body, hook_server.received[0].headers[SIGNATURE_HEADER])


def test_credentials_in_the_url_never_reach_a_message(unused_port: int) -> None:
    with pytest.raises(DeployError) as caught:
        Webhook(f"http://user:hunter2@127.0.0.1:{unused_port}/hook?token=abc", SECRET).deploy(DEPLOYMENT)
    assert "hunter2" not in str(caught.value) and "token=abc" not in str(caught.value)
