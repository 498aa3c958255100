"""localhub: a local stand-in for GitHub, as real as it can be.

A stateful REST server on loopback (`server.LocalHubServer`) answering the operations the bot uses with
GitHub's own shapes, backed by a real bare git repository (`gitrepo.GitRepo`), emitting the webhook payload
GitHub would send for every change (`hub.Hub.deliveries`), logging every request (`requestlog`), injecting
faults on demand (`faults`), and running `.github/workflows` for an event as Actions would (`runner`). Request
bodies are checked against GitHub's rest-api.json; a strict server checks its own answers and webhooks too
(`conformance`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localhub.faults import Faults
    from localhub.rest.server import LocalHubServer


def start(
    workdir: Path,
    seed: Path | None = None,
    owner: str = "acme",
    name: str = "models",
    port: int = 0,
    faults: Faults | None = None,
    strict: bool = False,
) -> LocalHubServer:
    """Create a hub under `workdir` (its repository seeded from `seed`) and serve it on 127.0.0.1; `strict`
    checks every answer and webhook against GitHub's schemas (`server.conformance.problems`)."""
    from localhub.hub import Hub
    from localhub.rest.server import LocalHubServer

    hub = Hub.create(workdir, owner=owner, name=name, seed=seed)
    return LocalHubServer(hub, port=port, faults=faults, strict=strict).start()
