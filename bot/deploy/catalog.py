"""The deployers a stage's policy names, built from their settings (policy `deploy.deployers`).

An item is a name (`mlflow-alias`) or a mapping with `type` and the deployer's settings:

    deployers:
      - mlflow-alias
      - github-deployment
      - {type: manifests, engine: kserve, path: deploy/manifests, namespace: models,
         storage_uri: "s3://mlflow/{model}/{version}"}
      - {type: command, run: ["./scripts/deploy.sh"], timeout_s: 120}
      - {type: webhook, url: "https://deploy.example.com/hook", secret_env: DEPLOY_HOOK_SECRET, timeout_s: 10}
      - {type: gateway, url: "http://127.0.0.1:8080", timeout_s: 60}   # a running `modelbot serve`

Settings are checked here, before any deployer runs, so a mistake in them changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.deploy.base import Deployer, DeployError
from bot.policy.deploy import DeployPolicy

if TYPE_CHECKING:
    from bot.github.forge import Forge


@dataclass(frozen=True)
class Context:
    """What deployers may use: the repository checkout, the environment, GitHub (or None when local), MLflow."""

    repo: Path
    environ: Mapping[str, str] = field(default_factory=dict)
    forge: Forge | None = None
    tracking_uri: str | None = None
    alias_prefix: str = ""
    skip: frozenset[str] = frozenset()
    mlflow_timeout_s: float = 10.0


def _number(raw: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise DeployError(f"{where}: '{key}' must be a positive number of seconds; got {value!r}")
    return float(value)


def _mlflow(raw: Mapping[str, Any], ctx: Context) -> Deployer:
    from bot.deploy.mlflow_alias import MlflowAlias

    return MlflowAlias(
        raw.get("tracking_uri") or ctx.tracking_uri, _number(raw, "timeout_s", ctx.mlflow_timeout_s, "mlflow-alias")
    )


def _github(raw: Mapping[str, Any], ctx: Context) -> Deployer:
    from bot.deploy.github_deployment import GitHubDeployment

    return GitHubDeployment(ctx.forge, str(raw.get("environment", "{model}/{stage}")))


def _manifests(raw: Mapping[str, Any], ctx: Context) -> Deployer:
    from bot.deploy.manifests import Manifests, Settings

    return Manifests(ctx.repo, Settings.from_config(raw))


def _command(raw: Mapping[str, Any], ctx: Context) -> Deployer:
    from bot.deploy.command import DEFAULT_TIMEOUT_S, Command

    if not raw.get("run"):
        raise DeployError("command: needs 'run', the program and its arguments (a list, or one string)")
    return Command(raw["run"], ctx.repo, _number(raw, "timeout_s", DEFAULT_TIMEOUT_S, "command"), ctx.environ)


def _webhook(raw: Mapping[str, Any], ctx: Context) -> Deployer:
    from bot.deploy.webhook import DEFAULT_TIMEOUT_S, Webhook

    if not raw.get("url"):
        raise DeployError("webhook: needs 'url'")
    secret_env = str(raw.get("secret_env", "MODELBOT_WEBHOOK_SECRET"))
    return Webhook(
        str(raw["url"]), ctx.environ.get(secret_env), _number(raw, "timeout_s", DEFAULT_TIMEOUT_S, "webhook")
    )


def _gateway(raw: Mapping[str, Any], ctx: Context) -> Deployer:
    from bot.deploy.gateway import DEFAULT_TIMEOUT_S, DEFAULT_URL, Gateway

    return Gateway(str(raw.get("url", DEFAULT_URL)), ctx.repo, _number(raw, "timeout_s", DEFAULT_TIMEOUT_S, "gateway"))


BUILDERS: dict[str, Callable[[Mapping[str, Any], Context], Deployer]] = {
    "mlflow-alias": _mlflow,
    "github-deployment": _github,
    "manifests": _manifests,
    "command": _command,
    "webhook": _webhook,
    "gateway": _gateway,
}


def build(deploy: DeployPolicy, ctx: Context) -> list[Deployer]:
    """The stage's deployers in the policy's order (less those `ctx.skip` names, as a drill asks)."""
    out = []
    for spec in deploy.deployers:
        if spec.kind in ctx.skip:
            continue
        if spec.kind not in BUILDERS:
            raise DeployError(f"unknown deployer {spec.kind!r}; known: {', '.join(BUILDERS)}")
        out.append(BUILDERS[spec.kind](spec.settings, ctx))
    return out
