"""`manifests`: render the stage's serving resources for an existing engine into a path of the repository,
and commit them, so that Argo CD or Flux syncs them to the cluster.

- KServe (`engine: kserve`): an `InferenceService` serving the candidate; while a canary runs,
  `canaryTrafficPercent` sends that share to it and the rest to the last ready revision (the stable version),
  as KServe's canary rollout does. A blue-green preview is a second `InferenceService` (`<name>-preview`).
  KServe has no mirrored or sticky split of its own, so shadow and A/B need `engine: seldon`.
- Seldon Core v2 (`engine: seldon`): one `Model` per serving version and an `Experiment` with the candidates'
  weights, a `mirror` for shadow traffic, and the sticky key as an annotation for the gateway.

The fallback (a failover version, or a constant answer, on error or after `timeout_ms`) has no field of its own
in either engine: a failover version is rendered as its own resource (`<name>-fallback`) and the primary
carries `modelbot.io/fallback-*` annotations naming it, the constant and the timeout, for the router in front.
One file per (model, stage) holds every resource, so a resource that is no longer needed disappears with it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from bot import gitio
from bot.deploy.base import DeployError, Deployment, Outcome
from bot.deploy.strategies import Rollout, from_state
from bot.errors import GitError

KSERVE_API = "serving.kserve.io/v1beta1"
SELDON_API = "mlops.seldon.io/v1alpha1"
ENGINES = ("kserve", "seldon")
BOT_IDENTITY = ("-c", "user.name=modelbot", "-c", "user.email=modelbot@users.noreply.github.com")


@dataclass(frozen=True)
class Settings:
    engine: str = "kserve"
    path: str = "deploy/manifests"
    namespace: str = "models"
    storage_uri: str = "{uri}"
    model_format: str = "mlflow"
    commit: bool = True

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> Settings:
        engine = str(raw.get("engine", "kserve"))
        if engine not in ENGINES:
            raise DeployError(f"manifests: engine must be one of {', '.join(ENGINES)}; got {engine!r}")
        path = str(raw.get("path", cls.path))
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise DeployError(f"manifests: path must be a folder inside the repository; got {path!r}")
        return cls(
            engine,
            path,
            str(raw.get("namespace", cls.namespace)),
            str(raw.get("storage_uri", cls.storage_uri)),
            str(raw.get("model_format", cls.model_format)),
            bool(raw.get("commit", True)),
        )


def dns_name(*parts: str) -> str:
    """A Kubernetes resource name (RFC 1123 label: lowercase, digits and '-', at most 63 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return name[:63].rstrip("-") or "model"


def _storage(settings: Settings, d: Deployment, version: str) -> str:
    uri = d.uri_of(version) or (d.uri if version == d.version else d.previous_uri) or ""
    return settings.storage_uri.format(model=d.model, stage=d.stage, version=version, uri=uri)


def _metadata(
    settings: Settings, d: Deployment, name: str, version: str, role: str, extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    annotations = {"modelbot.io/version": version, "modelbot.io/role": role, "modelbot.io/commit": d.commit}
    if d.pr is not None:
        annotations["modelbot.io/pr"] = str(d.pr)
    annotations.update(extra or {})
    return {
        "name": name,
        "namespace": settings.namespace,
        "labels": {
            "app.kubernetes.io/managed-by": "modelbot",
            "modelbot.io/model": dns_name(d.model),
            "modelbot.io/stage": dns_name(d.stage),
        },
        "annotations": annotations,
    }


def _fallback_annotations(d: Deployment, base: str) -> dict[str, str]:
    fb = d.fallback
    out: dict[str, str] = {}
    if fb.version is not None:
        out["modelbot.io/fallback-service"] = f"{base}-fallback"
        out["modelbot.io/fallback-version"] = fb.version
    if fb.constant is not None:
        out["modelbot.io/fallback-constant"] = json.dumps(fb.constant, sort_keys=True)
    if fb.configured and fb.timeout_ms is not None:
        out["modelbot.io/fallback-timeout-ms"] = f"{fb.timeout_ms:g}"
    return out


def _rollout(d: Deployment) -> Rollout | None:
    if d.version is None:
        return None
    return from_state(d.state, d.version) or Rollout("direct", d.version, traffic={d.version: 100.0})


# --- KServe -------------------------------------------------------------------------------------------------
def _isvc(
    settings: Settings,
    d: Deployment,
    name: str,
    version: str,
    role: str,
    extra: Mapping[str, str] | None = None,
    canary: float | None = None,
) -> dict[str, Any]:
    predictor: dict[str, Any] = {}
    if canary is not None:
        predictor["canaryTrafficPercent"] = round(canary)
    if role == "primary" and d.fallback.configured and d.fallback.timeout_ms is not None:
        predictor["timeout"] = max(1, math.ceil(d.fallback.timeout_ms / 1000))
    predictor["model"] = {
        "modelFormat": {"name": settings.model_format},
        "protocolVersion": "v2",
        "storageUri": _storage(settings, d, version),
    }
    return {
        "apiVersion": KSERVE_API,
        "kind": "InferenceService",
        "metadata": _metadata(settings, d, name, version, role, extra),
        "spec": {"predictor": predictor},
    }


def render_kserve(settings: Settings, d: Deployment) -> list[dict[str, Any]]:
    rollout = _rollout(d)
    if rollout is None:
        return []
    base = dns_name(d.model, d.stage)
    notes = {**_fallback_annotations(d, base), "modelbot.io/strategy": rollout.strategy}
    if rollout.shadow is not None or (rollout.strategy == "ab" and not rollout.complete):
        raise DeployError(
            f"manifests: KServe cannot render strategy '{rollout.strategy}' (it has no mirrored or "
            "sticky traffic split); use engine: seldon for shadow and ab"
        )
    docs: list[dict[str, Any]] = []
    if rollout.preview is not None:
        stable = rollout.stable or rollout.candidate
        docs.append(_isvc(settings, d, base, stable, "primary", notes))
        docs.append(_isvc(settings, d, f"{base}-preview", rollout.preview, "preview"))
    elif rollout.complete or rollout.stable is None:
        docs.append(_isvc(settings, d, base, rollout.candidate, "primary", notes))
    else:
        docs.append(_isvc(settings, d, base, rollout.candidate, "primary", notes, canary=rollout.candidate_percent))
    if d.fallback.version is not None:
        docs.append(_isvc(settings, d, f"{base}-fallback", d.fallback.version, "fallback"))
    return docs


# --- Seldon Core v2 -------------------------------------------------------------------------------------------
def _model(
    settings: Settings, d: Deployment, name: str, version: str, role: str, extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": SELDON_API,
        "kind": "Model",
        "metadata": _metadata(settings, d, name, version, role, extra),
        "spec": {"storageUri": _storage(settings, d, version), "requirements": [settings.model_format]},
    }


def _weights(traffic: Mapping[str, float], names: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"name": names[v], "weight": round(w)} for v, w in traffic.items() if w > 0]


def render_seldon(settings: Settings, d: Deployment) -> list[dict[str, Any]]:
    rollout = _rollout(d)
    if rollout is None:
        return []
    base = dns_name(d.model, d.stage)
    notes = {**_fallback_annotations(d, base), "modelbot.io/strategy": rollout.strategy}
    stable = rollout.stable
    if rollout.complete or stable is None:
        docs = [_model(settings, d, base, rollout.candidate, "primary", notes)]
    elif rollout.preview is not None:
        docs = [
            _model(settings, d, base, stable, "primary", notes),
            _model(settings, d, f"{base}-preview", rollout.preview, "preview"),
        ]
    else:
        candidate = f"{base}-candidate"
        docs = [
            _model(settings, d, base, stable, "primary", notes),
            _model(settings, d, candidate, rollout.candidate, "candidate"),
        ]
        spec: dict[str, Any] = {
            "default": base,
            "candidates": _weights(rollout.traffic, {stable: base, rollout.candidate: candidate}),
        }
        if rollout.shadow is not None:
            spec["mirror"] = {"name": candidate, "percent": round(rollout.mirror_percent or 0)}
        extra = {"modelbot.io/sticky-key": rollout.sticky_key} if rollout.sticky_key else {}
        docs.append(
            {
                "apiVersion": SELDON_API,
                "kind": "Experiment",
                "metadata": _metadata(settings, d, f"{base}-rollout", rollout.candidate, "experiment", extra),
                "spec": spec,
            }
        )
    if d.fallback.version is not None:
        docs.append(_model(settings, d, f"{base}-fallback", d.fallback.version, "fallback"))
    return docs


def render(settings: Settings, d: Deployment) -> str | None:
    """The file's text (YAML documents), or None when the stage serves nothing and the file should go."""
    import yaml

    docs = render_kserve(settings, d) if settings.engine == "kserve" else render_seldon(settings, d)
    if not docs:
        return None
    header = f"# Rendered by modelbot from models.yaml at {d.commit[:12]}: do not edit by hand.\n"
    return header + yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=4096)


class Manifests:
    name = "manifests"

    def __init__(self, repo: Path, settings: Settings) -> None:
        self.repo = repo
        self.settings = settings

    def relative(self, d: Deployment) -> str:
        return f"{self.settings.path}/{dns_name(d.model)}/{dns_name(d.stage)}.yaml"

    def deploy(self, deployment: Deployment) -> Outcome:
        text = render(self.settings, deployment)
        relative = self.relative(deployment)
        target = self.repo / relative
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if text == current:
            return Outcome("unchanged", f"{relative} already up to date")
        try:
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise DeployError(f"manifests: cannot write {relative}: {exc.strerror or exc}") from None
        action = "removed" if text is None else "wrote"
        if self.settings.commit:
            sha = self._commit(relative, deployment)
            return Outcome("done", f"{action} {relative}; committed {sha[:12]}")
        return Outcome("done", f"{action} {relative}")

    def _commit(self, relative: str, d: Deployment) -> str:
        message = (
            f"Render {self.settings.engine} manifests for {d.model} {d.stage} "
            f"(version {d.version or 'none'})\n\nFrom models.yaml at {d.commit}."
        )
        try:
            gitio.git(self.repo, "add", "-A", "--", relative)
            gitio.git(self.repo, *BOT_IDENTITY, "commit", "-q", "--only", "-m", message, "--", relative)
            return gitio.git(self.repo, "rev-parse", "HEAD").decode().strip()
        except GitError as exc:
            raise DeployError(f"manifests: wrote {relative} but cannot commit it: {exc}") from None
