"""A workflow run's artifacts as GitHub's REST API returns them (rest-api.json, `artifact`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localhub.rest.render.common import node_id
from localhub.state import Artifact

if TYPE_CHECKING:
    from localhub.hub import Hub


def expired(item: Artifact, moment: datetime | None = None) -> bool:
    """Past its retention: still listed, no longer downloadable (GitHub's `expired`)."""
    when = datetime.strptime(item.expires_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (moment or datetime.now(UTC)) >= when


def artifact(hub: Hub, item: Artifact) -> dict[str, Any]:
    api = f"{hub.base_url}/repos/{hub.state.repo.full_name}"
    return {
        "id": item.id,
        "node_id": node_id("Artifact", item.id),
        "name": item.name,
        "size_in_bytes": item.size_in_bytes,
        "url": f"{api}/actions/artifacts/{item.id}",
        "archive_download_url": f"{api}/actions/artifacts/{item.id}/zip",
        "expired": expired(item),
        "created_at": item.created_at,
        "updated_at": item.created_at,
        "expires_at": item.expires_at,
        "digest": item.digest,
        "workflow_run": {
            "id": item.run_id,
            "repository_id": hub.state.repo.id,
            "head_repository_id": hub.state.repo.id,
            "head_branch": item.head_branch or "",
            "head_sha": item.head_sha,
        },
    }
