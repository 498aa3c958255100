"""Which version answers a request: pure functions of the stage's plan, a draw in [0, 100) and the headers.

- canary: a uniform draw per request against the cumulative weights (stable first);
- A/B: the draw is a hash of the sticky key's value (the header the state's `sticky_key` names, else
  `X-Modelbot-Key`), so one user stays in one arm as long as the weights stay. Only A/B: a canary's evidence is
  judged per arm, and a key would let a client choose the arm its requests (slow ones, failing ones, or
  flattering ones) land in;
- shadow: the live answer comes from the traffic arms; a second draw decides whether the request is mirrored;
- blue-green: the preview version answers only requests that ask for it (`X-Modelbot-Preview: 1`);
- pinned: `X-Modelbot-Version: N` asks for one version the stage holds (live, shadow, preview or fallback), as
  the deploy's live check does to compare the candidate's answers with its offline predictions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.deploy.traffic import PINNED_ARM
from bot.serving.state import Plan

DEFAULT_KEY_HEADER = "x-modelbot-key"
PREVIEW_HEADER = "x-modelbot-preview"
VERSION_HEADER = "x-modelbot-version"


@dataclass(frozen=True)
class Route:
    """Where one request goes: the version asked first and its arm label, and the shadow version (if mirrored)."""

    version: str
    arm: str
    shadow: str | None = None


def pick(traffic: Sequence[tuple[str, float]], draw: float) -> str:
    """The arm whose cumulative weight band holds `draw` (0 <= draw < 100); weights need not add up to 100."""
    total = sum(w for _, w in traffic if w > 0)
    if total <= 0:
        raise ValueError("no version has a positive traffic weight")
    point = draw / 100.0 * total
    seen = 0.0
    for version, weight in traffic:
        if weight <= 0:
            continue
        seen += weight
        if point < seen:
            return version
    return next(v for v, w in reversed(traffic) if w > 0)


def key_draw(model: str, stage: str, key: str) -> float:
    """A stable draw in [0, 100) for a sticky key: the same key lands in the same band on every gateway."""
    digest = hashlib.sha256(f"{model}\0{stage}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


def sticky_value(plan: Plan, headers: Mapping[str, str]) -> str | None:
    name = (plan.sticky_key or DEFAULT_KEY_HEADER).lower()
    value = headers.get(name)
    if value is None and name != DEFAULT_KEY_HEADER:
        value = headers.get(DEFAULT_KEY_HEADER)
    return value or None


def wants_preview(headers: Mapping[str, str]) -> bool:
    return headers.get(PREVIEW_HEADER, "").strip().lower() in ("1", "true", "yes")


def route(plan: Plan, headers: Mapping[str, str], draw: float, mirror_draw: float) -> Route:
    """The route of one request. `draw` and `mirror_draw` are uniform in [0, 100), supplied by the caller so
    this stays a function of its inputs."""
    pinned = headers.get(VERSION_HEADER, "").strip()
    if pinned and pinned in plan.versions:
        return Route(pinned, PINNED_ARM)
    if plan.preview is not None and wants_preview(headers):
        return Route(plan.preview, "preview")
    key = sticky_value(plan, headers) if plan.strategy == "ab" else None
    if key is not None and len(plan.live) > 1:
        draw = key_draw(plan.model, plan.stage, key)
    version = pick(plan.traffic, draw)
    shadow = plan.shadow if plan.shadow is not None and mirror_draw < plan.mirror_percent else None
    return Route(version, plan.arm(version), shadow if shadow != version else None)
