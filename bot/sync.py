"""Versions registered in MLflow that models.yaml does not list yet, as version entries with their lineage,
so the file stays the single source of truth without anyone copying metadata by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.registry import Registry
from bot.registry.edit import add_version


@dataclass(frozen=True)
class Found:
    model: str
    version: str
    entry: dict[str, Any]


def unlisted(registry: Registry, tracking_uri: str | None = None) -> list[Found]:
    """For every model of the registry, the MLflow versions it does not list, oldest first."""
    from mlflow.tracking import MlflowClient

    from bot.mlflow_meta import version_entry

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    found: list[Found] = []
    for name, model in registry.models.items():
        listed = {v.id for v in model.versions}
        versions = client.search_model_versions(f"name = '{name}'")
        for mv in sorted(versions, key=lambda v: int(v.version)):
            if str(mv.version) not in listed:
                uri = f"models:/{name}/{mv.version}"
                found.append(Found(name, str(mv.version), version_entry(uri, str(mv.version), tracking_uri)))
    return found


def apply(text: str, found: list[Found]) -> str:
    """models.yaml with one version block appended per found version; nothing else changes."""
    for item in found:
        text, _ = add_version(text, item.model, item.entry)
    return text


def open_pull(forge: Any, text: str, found: list[Found], base: str, on_head: Any = None) -> Any:
    """One registration PR for everything found (updated in place by later runs). `on_head`: the caller's record
    of a new head, before the pull request shows it (bot.github.forge.OnHead)."""
    from bot.texts import render
    from bot.workspace import REGISTRY_FILE

    title = f"Register {len(found)} model version(s) from MLflow"
    return forge.promotion_pr(
        "registry",
        "sync",
        {REGISTRY_FILE: apply(text, found)},
        title,
        render("sync_pr.md.j2", found=found),
        base=base,
        labels=["registration"],
        on_head=on_head,
    )
