"""The bot as a GitHub App (issue 15): it mints its own installation token from the app's id and private key,
acts as `<slug>[bot]`, and its check runs belong to its app; localhub authenticates apps as GitHub does."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from bot.errors import UsageError
from bot.github import connect
from bot.github.identity import APP_ID, APP_PRIVATE_KEY, app_credentials
from localhub.hub import ACTIONS_BOT
from tests.support.localhub import RunningHub

REPO = "/repos/acme/models"
PERMISSIONS = {"checks": "write", "contents": "write", "pull_requests": "write", "issues": "write",
               "statuses": "write", "deployments": "write", "actions": "write", "metadata": "read"}


def _env(app: Any) -> dict[str, str]:
    return {APP_ID: str(app.id), APP_PRIVATE_KEY: app.private_key_pem.decode()}


def _jwt(app: Any, key: bytes | None = None, lifetime: int = 540, issued: int = -60) -> str:
    now = int(time.time())
    claims = {"iat": now + issued, "exp": now + issued + lifetime, "iss": str(app.id)}
    return jwt.encode(claims, key or app.private_key_pem, algorithm="RS256")


def test_the_bot_mints_an_installation_token_and_acts_as_its_app(hub: RunningHub) -> None:
    app = hub.hub.add_app("modelbot-acme", PERMISSIONS)
    mark = hub.log.mark()
    forge = connect(api_url=hub.url, repository="acme/models", environ=_env(app))
    minted = [f"{r.method} {r.path}" for r in hub.log.since(mark)]
    assert minted == [f"GET {REPO}/installation", f"POST /app/installations/{app.installation_id}/access_tokens"]
    assert forge.bot_login == "modelbot-acme[bot]"

    sha = hub.hub.git.resolve("main")
    forge.set_check_run(sha, "modelbot/validation", "success", "ok", "all gates pass")
    _, _, runs = hub.request("GET", f"{REPO}/commits/{sha}/check-runs", "bob")
    [run] = runs["check_runs"]
    assert run["app"]["slug"] == "modelbot-acme" and run["app"]["id"] == app.id
    again = connect(api_url=hub.url, repository="acme/models", environ=_env(app))  # a later run
    assert again.check_conclusion(sha, "modelbot/validation") == "success"  # found as its own
    workflow_bot = connect(api_url=hub.url, repository="acme/models", token=hub.hub.token_for(ACTIONS_BOT),
                           environ={}, bot_login=ACTIONS_BOT)
    assert workflow_bot.check_conclusion(sha, "modelbot/validation") is None  # not github-actions' own


def test_a_check_run_is_created_only_by_an_app_and_changed_only_by_the_app_that_made_it(hub: RunningHub) -> None:
    app = hub.hub.add_app("modelbot-acme", PERMISSIONS)
    token, _ = hub.hub.token_for_installation(app)
    sha = hub.hub.git.resolve("main")
    body = {"name": "modelbot/validation", "head_sha": sha, "status": "completed", "conclusion": "success"}
    status, _, refused = hub.request("POST", f"{REPO}/check-runs", "bob", body=body)
    assert status == 403 and "GitHub App" in refused["message"]  # a maintainer's personal token
    status, _, forged = hub.request("POST", f"{REPO}/check-runs", ACTIONS_BOT, body=body)
    assert status == 201 and forged["app"]["slug"] == "github-actions"
    status, _, _ = hub.request("PATCH", f"{REPO}/check-runs/{forged['id']}", token=token,
                               body={"conclusion": "failure", "status": "completed"})
    assert status == 403
    status, _, own = hub.request("POST", f"{REPO}/check-runs", token=token, body=body)
    assert status == 201 and own["app"]["slug"] == "modelbot-acme"
    status, _, _ = hub.request("PATCH", f"{REPO}/check-runs/{own['id']}", ACTIONS_BOT,
                               body={"conclusion": "failure", "status": "completed"})
    assert status == 403 and hub.hub.state.check_runs[own["id"]].conclusion == "success"


def test_an_installation_token_holds_only_the_apps_permissions(hub: RunningHub) -> None:
    app = hub.hub.add_app("reader", {"contents": "read", "metadata": "read"})
    token, _ = hub.hub.token_for_installation(app)
    assert hub.request("GET", f"{REPO}/contents/models.yaml", token=token)[0] == 200
    status, _, answer = hub.request("POST", f"{REPO}/issues/1/comments", token=token, body={"body": "hi"})
    assert status == 403 and answer["message"] == "Resource not accessible by integration"


@pytest.mark.parametrize("case", ["other key", "too long", "expired", "unknown issuer"])
def test_a_jwt_github_would_refuse_is_refused(hub: RunningHub, case: str) -> None:
    app = hub.hub.add_app("modelbot-acme", PERMISSIONS)
    other = hub.hub.add_app("other", PERMISSIONS)
    token = {
        "other key": _jwt(app, key=other.private_key_pem),
        "too long": _jwt(app, lifetime=3600),
        "expired": _jwt(app, issued=-1200),
        "unknown issuer": jwt.encode({"iat": int(time.time()) - 60, "exp": int(time.time()) + 300, "iss": "999999"},
                                     app.private_key_pem, algorithm="RS256"),
    }[case]
    assert hub.request("GET", f"{REPO}/installation", token=token)[0] == 401
    assert hub.request("GET", f"{REPO}/installation", token=_jwt(app))[0] == 200  # the same, well made


def test_a_jwt_opens_only_the_apps_own_endpoints_and_a_token_never_those(hub: RunningHub) -> None:
    app = hub.hub.add_app("modelbot-acme", PERMISSIONS)
    assert hub.request("GET", f"{REPO}/contents/models.yaml", token=_jwt(app))[0] == 401
    assert hub.request("GET", "/app", "bob")[0] == 401
    status, _, me = hub.request("GET", "/app", token=_jwt(app))
    assert status == 200 and me["slug"] == "modelbot-acme"


@pytest.mark.parametrize(("env", "names"), [
    ({APP_ID: "12"}, APP_PRIVATE_KEY),
    ({APP_PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----"}, APP_ID),
    ({APP_ID: "my-app", APP_PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----"}, "numeric id"),
    ({APP_ID: "12", APP_PRIVATE_KEY: "not a key"}, "PEM"),
])
def test_half_or_malformed_app_credentials_are_refused_naming_what_to_set(env: dict[str, str], names: str) -> None:
    with pytest.raises(UsageError, match=names):
        app_credentials(env)
    assert app_credentials({}) is None


def test_the_app_manifest_asks_for_exactly_the_permissions_the_bot_needs() -> None:
    import json
    from pathlib import Path

    from bot.github.identity import APP_PERMISSIONS

    manifest = json.loads((Path(__file__).parents[2] / ".github" / "modelbot-app-manifest.json").read_text())
    assert manifest["default_permissions"] == APP_PERMISSIONS
    assert manifest["hook_attributes"]["active"] is False  # the bot runs in Actions: no webhook to receive
