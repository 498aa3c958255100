"""`webhook`: POST the deployment as JSON to a URL, signed with HMAC-SHA256 the way GitHub signs its webhooks.

Headers: `X-Modelbot-Event: deployment`, `X-Modelbot-Delivery: <deployment key>` (a receiver ignores a repeat
by it) and `X-Modelbot-Signature-256: sha256=<hex digest of the body>`. A receiver checks the signature with
`verify_signature`. An unsigned webhook is refused: the secret must be set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request

from bot.deploy.base import DeployError, Deployment, Outcome

SIGNATURE_HEADER = "X-Modelbot-Signature-256"
DEFAULT_TIMEOUT_S = 10.0


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(signature(secret, body), header)


def _shown(url: str) -> str:
    """The URL without credentials or query, for messages."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def body_of(deployment: Deployment) -> bytes:
    return json.dumps({"event": "deployment", "deployment": deployment.as_dict()}, sort_keys=True).encode()


class Webhook:
    name = "webhook"

    def __init__(self, url: str, secret: str | None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise DeployError(f"webhook: url must be http(s); got {_shown(url)!r}")
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s

    def deploy(self, deployment: Deployment) -> Outcome:
        if not self.secret:
            raise DeployError(
                f"webhook {_shown(self.url)}: no secret to sign with (set the variable named by "
                "'secret_env', default MODELBOT_WEBHOOK_SECRET)"
            )
        body = body_of(deployment)
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "modelbot",
                "X-Modelbot-Event": "deployment",
                "X-Modelbot-Delivery": deployment.key,
                SIGNATURE_HEADER: signature(self.secret, body),
            },
        )
        where = _shown(self.url)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            said = exc.read(300).decode("utf-8", "replace").strip()
            raise DeployError(f"webhook {where} answered {exc.code}: {said or exc.reason}") from None
        except TimeoutError:
            raise DeployError(f"webhook {where} did not answer within {self.timeout_s:g}s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise DeployError(f"webhook {where} did not answer within {self.timeout_s:g}s") from None
            raise DeployError(f"webhook {where} cannot be reached: {exc.reason}") from None
        return Outcome("done", f"POST {where}: {status}")
