"""The demo's live rollouts: the seeded policies a platform team would write for them, and the traffic that
drives them.

Production of tumor-malignancy and staging of diabetes-progression roll out as canaries through the gateway
(10 %, then 50 %, then all of it), analysed against the stable version on the gateway's prediction log, each step
merging itself, with a live check of the deployed version after every deploy; diabetes' rollbacks need no
approval, so a failed canary is restored by the bot alone. A `Traffic` thread replays evaluation rows through
the gateway as clients would, one row per request, and remembers when a client first got a fallback answer.
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from bot.demo.serving import DemoGateway, GatewayFailed

STEPS = [10, 50]
MIN_REQUESTS = 150


def _round_trip() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 120
    return yaml


def _edit(text: str, change: Any) -> str:
    """`text` with `change(data)` applied, comments and order kept (ruamel.yaml's round trip)."""
    yaml = _round_trip()
    data = yaml.load(text)
    change(data)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _canary(url: str, extra_deployers: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `deploy` and `rollout` sections of a stage served through the gateway at `url`."""
    deploy = {
        "strategy": "canary",
        "deployers": [*extra_deployers, {"type": "gateway", "url": url}],
        "fallback": {"version": "previous", "timeout_ms": 2000},
        "verify": {"url": f"{url}/models/{{model}}/{{stage}}/invocations", "rows": 5, "timeout_s": 60},
    }
    rollout = {
        "steps": list(STEPS),
        "min_requests": MIN_REQUESTS,
        "analysis": {"error_rate": {"max_increase": 0.03}},
        "auto_merge": True,
        "approvals": [],
    }
    return deploy, rollout


def production_canary(policy: str, url: str) -> str:
    """policies/default.yaml with production rolled out as a live canary through the gateway."""

    def change(data: Any) -> None:
        stage = data["stages"]["production"]
        deploy, rollout = _canary(url, ["mlflow-alias", "github-deployment"])
        stage["deploy"] = deploy
        stage["rollout"] = rollout

    return _checked(_edit(policy, change), "production")


def staging_canary(policy: str, url: str) -> str:
    """policies/regression.yaml with staging rolled out as a live canary, rollbacks that need no approval, and
    monitoring (drift and data quality over 10-second windows) that opens incident issues."""

    def change(data: Any) -> None:
        stage = data["stages"]["staging"]
        deploy, rollout = _canary(url, ["mlflow-alias"])
        stage["deploy"] = deploy
        stage["rollout"] = rollout
        data["rollback"]["approvals"] = []
        # Monitoring of what the stage serves, over short windows (the demo lives minutes, not days).
        data["monitor"] = {
            "window": "10s",
            "windows": 3,
            "min_rows": 50,
            "checks": ["drift", "quality"],
            "action": ["issue"],
        }

    return _checked(_edit(policy, change), "staging")


def _checked(text: str, stage: str) -> str:
    """Parse the edited policy back: the stage must say what the demo needs."""
    import yaml

    found = yaml.safe_load(text)["stages"][stage]
    if found["deploy"]["strategy"] != "canary" or not found["rollout"]["auto_merge"]:
        raise GatewayFailed(f"the seeded policy's {stage} came out as {found}")
    return text


class Traffic:
    """Clients of (model, stage): one request per evaluation row, in a loop, until `stop`."""

    def __init__(self, gateway: DemoGateway, model: str, stage: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self.gateway = gateway
        self.model = model
        self.stage = stage
        self.rows = list(rows)
        self.answered: Counter[str] = Counter()
        self.fallbacks = 0
        self.failed = 0
        self.first_fallback: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"traffic {model} {stage}", daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set():
            row = self.rows[index % len(self.rows)]
            index += 1
            try:
                answer = self.gateway.invoke(self.model, self.stage, [row])
            except GatewayFailed:
                self.failed += 1
                time.sleep(0.05)
                continue
            if answer.status != 200:
                self.failed += 1
                continue
            self.answered[answer.version] += 1
            if answer.fallback:
                self.fallbacks += 1
                if self.first_fallback is None:
                    self.first_fallback = time.monotonic()
