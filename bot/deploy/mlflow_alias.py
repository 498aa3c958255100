"""`mlflow-alias`: point the stage's MLflow alias at the version it now serves.

Clients load `models:/<name>@<alias>`, so the alias is what "deployed" means for them. The alias (policy
`deploy.alias`, default the stage name) moves only when a rollout is complete; while a canary, shadow,
blue-green preview or A/B test runs, the candidate carries `<alias>-canary`, `-shadow`, `-preview` or
`-challenger` and the alias stays on the stable version. The replaced version keeps `<alias>-previous`. The
version is tagged with the pull request, commit and run that deployed it. Every write is preceded by a read, so
a repeat changes nothing. This module is also the deployment ledger: tag `modelbot.<alias>.deployed` holds the
key of the last deployment that completed under that alias (every deployer and the smoke check), so a re-run skips it.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.deploy.base import DeployError, Deployment, Outcome
from bot.deploy.strategies import from_state

_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
ROLE_SUFFIX = {"canary": "canary", "shadow": "shadow", "blue-green": "preview", "ab": "challenger"}
TRANSIENT = tuple(sorted(set(ROLE_SUFFIX.values())))


@dataclass(frozen=True)
class AliasPlan:
    """Aliases to point (alias -> MLflow version number) and aliases to remove, for one registered model."""

    name: str
    set: Mapping[str, str]
    delete: frozenset[str]


def registry_ref(uri: str | None, version: str | None) -> tuple[str, str]:
    """(registered model name, MLflow version number) from a models.yaml URI such as models:/churn/7."""
    match = _URI.match(uri or "")
    if not match:
        raise DeployError(
            f"version {version}: mlflow-alias needs a registry URI like models:/<name>/<version>; "
            f"models.yaml has {uri!r}"
        )
    return match["name"], match["version"]


def plan_aliases(deployment: Deployment) -> AliasPlan:
    """Which aliases should point where after this deployment (pure)."""
    base = deployment.stage_alias
    ref_uri = deployment.uri or deployment.previous_uri
    name, _ = registry_ref(ref_uri, deployment.version or deployment.previous)
    wanted: dict[str, str] = {}
    transient = {f"{base}-{suffix}" for suffix in TRANSIENT}
    rollout = from_state(deployment.state, deployment.version)
    if deployment.version is None:
        if deployment.previous is not None:
            wanted[f"{base}-previous"] = _number(deployment.previous_uri, deployment.previous)
        return AliasPlan(name, wanted, frozenset({base, *transient}))
    if rollout is None or rollout.complete:
        replaced = rollout.stable if rollout is not None and rollout.stable else deployment.previous
        if replaced is not None and replaced != deployment.version:
            wanted[f"{base}-previous"] = _number(deployment.uri_of(replaced) or deployment.previous_uri, replaced)
        wanted[base] = _number(deployment.uri, deployment.version)
        return AliasPlan(name, wanted, frozenset(transient))
    role = f"{base}-{ROLE_SUFFIX[rollout.strategy]}"
    wanted[role] = _number(deployment.uri, deployment.version)
    if rollout.stable is not None:
        wanted[base] = _number(deployment.uri_of(rollout.stable), rollout.stable)
    return AliasPlan(name, wanted, frozenset(transient - {role}))


def _number(uri: str | None, version: str) -> str:
    return registry_ref(uri, version)[1]


def tags_for(deployment: Deployment) -> dict[str, str]:
    prefix = f"modelbot.{deployment.stage_alias}"
    tags = {f"{prefix}.commit": deployment.commit}
    if deployment.pr is not None:
        tags[f"{prefix}.pr"] = str(deployment.pr)
    if deployment.run_url:
        tags[f"{prefix}.run_url"] = deployment.run_url
    return tags


def check_reachable(tracking_uri: str | None, timeout_s: float) -> None:
    """Fail fast and clearly when the tracking store cannot be reached (MLflow's own client retries for minutes,
    and silently creates an empty SQLite store where a file is missing)."""
    if not tracking_uri:
        raise DeployError("no MLflow tracking URI: set MLFLOW_TRACKING_URI (or pass --tracking-uri)")
    if tracking_uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=timeout_s):
                return
        except urllib.error.HTTPError:
            return  # it answered; the registry calls will say what is wrong
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeployError(f"MLflow at {tracking_uri} cannot be reached: {reason}") from None
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise DeployError(f"MLflow store {tracking_uri} cannot be reached: {path} does not exist")


class MlflowAlias:
    name = "mlflow-alias"

    def __init__(
        self, tracking_uri: str | None, timeout_s: float = 10.0, client_factory: Callable[[str], Any] | None = None
    ) -> None:
        self.tracking_uri = tracking_uri
        self.timeout_s = timeout_s
        self._factory = client_factory
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            check_reachable(self.tracking_uri, self.timeout_s)
            assert self.tracking_uri is not None
            if self._factory is not None:
                self._client = self._factory(self.tracking_uri)
            else:
                from mlflow.tracking import MlflowClient

                self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def deploy(self, deployment: Deployment) -> Outcome:
        plan = plan_aliases(deployment)
        changes = _guarded(f"set the aliases of {plan.name}", lambda: self._apply(plan))
        if deployment.version is not None:
            name, number = registry_ref(deployment.uri, deployment.version)
            changes += _guarded(f"tag {name} version {number}", lambda: self._tag(name, number, tags_for(deployment)))
        shown = ", ".join(f"{a} -> {v}" for a, v in plan.set.items())
        if not changes:
            return Outcome("unchanged", f"{plan.name}: {shown} already")
        return Outcome("done", f"{plan.name}: {'; '.join(changes)}")

    def _apply(self, plan: AliasPlan) -> list[str]:
        client = self.client()
        current = dict(client.get_registered_model(plan.name).aliases or {})
        for alias, version in plan.set.items():  # every target must exist before any alias moves
            try:
                client.get_model_version(plan.name, version)
            except Exception as exc:
                raise DeployError(
                    f"cannot set alias '{alias}' of {plan.name} to version {version}: {_message(exc)}"
                ) from None
        done = []
        for alias in sorted(plan.delete & set(current)):
            client.delete_registered_model_alias(plan.name, alias)
            done.append(f"removed {alias}")
        for alias in sorted(plan.set, key=lambda a: not a.endswith("-previous")):
            version = plan.set[alias]
            if str(current.get(alias)) != version:
                try:
                    client.set_registered_model_alias(plan.name, alias, version)
                except Exception as exc:
                    raise DeployError(
                        f"cannot set alias '{alias}' of {plan.name} to version {version}: {_message(exc)}"
                    ) from None
                done.append(f"{alias} -> {version}")
        return done

    def _tag(self, name: str, number: str, tags: Mapping[str, str]) -> list[str]:
        client = self.client()
        current = client.get_model_version(name, number).tags or {}
        written = []
        for key, value in tags.items():
            if current.get(key) != value:
                client.set_model_version_tag(name, number, key, value)
                written.append(key)
        return [f"tagged version {number} ({', '.join(written)})"] if written else []

    # --- ledger ------------------------------------------------------------------------------------------
    def _ledger_key(self, deployment: Deployment) -> tuple[str, str, str] | None:
        if deployment.version is None:
            return None
        name, number = registry_ref(deployment.uri, deployment.version)
        return name, number, f"modelbot.{deployment.stage_alias}.deployed"

    def completed(self, deployment: Deployment) -> bool:
        """True when this deployment completed before and the aliases still say so."""
        where = self._ledger_key(deployment)
        if where is None:
            return False
        name, number, key = where

        def read() -> bool:
            client = self.client()
            if (client.get_model_version(name, number).tags or {}).get(key) != deployment.key:
                return False
            current = dict(client.get_registered_model(name).aliases or {})
            plan = plan_aliases(deployment)
            return all(str(current.get(a)) == v for a, v in plan.set.items()) and not (plan.delete & set(current))

        return bool(_guarded("read the deployment ledger", read))

    def mark_completed(self, deployment: Deployment) -> None:
        where = self._ledger_key(deployment)
        if where is not None:
            name, number, key = where
            _guarded(
                "write the deployment ledger",
                lambda: self.client().set_model_version_tag(name, number, key, deployment.key),
            )


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text).splitlines()[0][:300]


def _guarded(what: str, action: Callable[[], Any]) -> Any:
    """MLflow's exceptions, as one DeployError naming the step."""
    try:
        return action()
    except DeployError:
        raise
    except Exception as exc:  # MlflowException, connection and database errors alike: each becomes the record
        raise DeployError(f"cannot {what}: {_message(exc)}") from None
