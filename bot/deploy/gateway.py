"""`gateway`: tell a running `modelbot serve` to apply the pushed revision, and check that it serves it.

    deployers:
      - {type: gateway, url: "http://127.0.0.1:8080", timeout_s: 60}

The gateway follows its ref by itself (it polls); this deployer makes the deploy step wait until the new state
is live: `POST /-/reload` (accepted from the loopback address only, so the deploy job runs on the gateway's
machine), then `GET /models/{model}/{stage}` must name the deployment's version. Speaking HTTP only, it
imports nothing of the gateway.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bot import gitio
from bot.deploy.base import DeployError, Deployment, Outcome
from bot.errors import GitError

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT_S = 60.0


class Gateway:
    name = "gateway"

    def __init__(self, url: str, repo: Path | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DeployError(f"gateway: url must be http(s)://HOST:PORT; got {url!r}")
        self.url = url.rstrip("/")
        self.repo = repo
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=b"" if method == "POST" else None,
            headers={"User-Agent": "modelbot", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                said = json.loads(exc.read(2000)).get("message")
            except (ValueError, AttributeError):
                said = exc.reason
            return exc.code, said
        except TimeoutError:
            raise DeployError(f"gateway {self.url} did not answer {method} {path} within {self.timeout_s:g}s") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeployError(f"gateway {self.url} cannot be reached: {getattr(exc, 'reason', exc)}") from None

    def deploy(self, deployment: Deployment) -> Outcome:
        status, reloaded = self._call("POST", "/-/reload")
        if status != 200 or not isinstance(reloaded, dict):
            raise DeployError(f"gateway {self.url} refused the reload ({status}): {reloaded}")
        served = str(reloaded.get("commit") or "")
        if self.repo is not None and served:
            try:
                behind = not gitio.is_ancestor(self.repo, deployment.commit, served)
            except GitError:
                behind = False  # the gateway follows another clone: its commit cannot be compared here
            if behind:
                raise DeployError(
                    f"gateway {self.url} serves {served[:12]}, which does not contain "
                    f"{deployment.commit[:12]}: its --ref is not the deployed branch"
                )
        model, stage = (urllib.parse.quote(part, safe="") for part in (deployment.model, deployment.stage))
        status, found = self._call("GET", f"/models/{model}/{stage}")
        where = f"{deployment.model} {deployment.stage}"
        if deployment.version is None:
            if status == 404:
                return Outcome("done", f"gateway {self.url} at {served[:12]}: {where} serves nothing")
            raise DeployError(f"gateway {self.url} still serves {where}, which the registry empties")
        if status != 200 or not isinstance(found, dict):
            raise DeployError(f"gateway {self.url} does not serve {where} after the reload ({status}): {found}")
        versions = {str(v.get("version")): v for v in found.get("versions", []) if isinstance(v, dict)}
        if deployment.version not in versions:
            raise DeployError(
                f"gateway {self.url} serves {where} with versions {', '.join(versions) or 'none'}, "
                f"not {deployment.version}"
            )
        state = versions[deployment.version].get("state")
        traffic = ", ".join(f"{v}: {w:g}%" for v, w in (found.get("traffic") or {}).items())
        return Outcome(
            "done" if reloaded.get("changed") else "unchanged",
            f"gateway {self.url} at {served[:12]}: {where} {found.get('strategy')} ({traffic}); "
            f"version {deployment.version} {state}",
        )
