"""Hidden markers: an HTML comment in a body says which bot comment or pull request it is, so a later run
edits it instead of posting a copy (the way CPython's bedevere tags its comments)."""

from __future__ import annotations

import json
import re
from typing import Any

BODY_LIMIT = 65_536  # GitHub refuses a comment, issue or pull request body longer than this (422)
_CUT_NOTE = "\n\n---\n**Cut** at GitHub's {limit:,}-character limit."
_MARKER = re.compile(r"<!-- modelbot:([^\s>]+) -->")
_PART = re.compile(r"^[A-Za-z0-9._/-]+$")


def marker(model: str, stage: str, kind: str) -> str:
    """`<!-- modelbot:<model>:<stage>:<kind> -->`, one per model, stage and kind of comment."""
    for name, value in (("model", model), ("stage", stage), ("kind", kind)):
        if not _PART.match(value):
            raise ValueError(f"{name} {value!r}: only letters, digits and . _ / - can go in a marker")
    return f"<!-- modelbot:{model}:{stage}:{kind} -->"


def has_marker(body: str | None, mark: str) -> bool:
    return mark in (body or "")


def with_marker(body: str, mark: str) -> str:
    """The body carrying its marker exactly once, on its first line (where GitHub renders nothing), within
    GitHub's limit for the whole body, marker included."""
    return fit(body if body.startswith(mark) else f"{mark}\n{body.replace(mark, '')}")


def fit(text: str, limit: int = BODY_LIMIT) -> str:
    """`text` if GitHub takes it, else cut at a line boundary with a note saying so: a body over the limit is
    refused outright, losing the whole comment. Writers that can say where the rest is (the validation
    report points to report.json) fit themselves first, with room for their marker."""
    if len(text) <= limit:
        return text
    note = _CUT_NOTE.format(limit=limit)
    head = text[: limit - len(note)]
    if "\n" in head:
        head = head[: head.rindex("\n")]
    return head + note


def markers_in(body: str | None) -> list[str]:
    return [f"<!-- modelbot:{m} -->" for m in _MARKER.findall(body or "")]


def promotion_branch(model: str, stage: str) -> str:
    """The one branch per (model, stage) that a promotion pull request lives on."""
    for name, value in (("model", model), ("stage", stage)):
        if not _PART.match(value) or ".." in value or value.startswith(("-", "/")) or value.endswith("/"):
            raise ValueError(f"{name} {value!r}: not usable in a branch name")
    return f"modelbot/promote/{model}/{stage}"


_STATE = re.compile(r"<!-- modelbot-state (\{.*?\}) -->")


def with_state(body: str, state: dict[str, Any]) -> str:
    """`body` carrying facts a later run needs as hidden JSON. Only for text where no other writer can edit
    it (the bot's own check run output): never read back from a comment or a PR body."""
    data = json.dumps(state, sort_keys=True, separators=(",", ":")).replace("--", "\\u002d\\u002d")
    return f"<!-- modelbot-state {data} -->\n{body}"


def state_of(body: str | None) -> dict[str, Any] | None:
    match = _STATE.search(body or "")
    if match is None:
        return None
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# Sections the bot keeps inside a body it shares with people (the model card in a promotion pull request's
# body): between a start and an end marker, replaced in place, never read back for any decision.
_SECTION = re.compile(r"\n*<!-- modelbot:section:([^\s>]+) -->\n.*?\n<!-- modelbot:end:\1 -->\n?", re.DOTALL)
SECTION_LIMIT = 30_000  # a section's share of a body: the person's text and other sections keep the rest


def section_marks(name: str) -> tuple[str, str]:
    if not _PART.match(name.replace(":", "/")):
        raise ValueError(f"section {name!r}: only letters, digits and . _ / - : can go in a marker")
    return f"<!-- modelbot:section:{name} -->", f"<!-- modelbot:end:{name} -->"


def without_sections(body: str | None) -> str:
    """`body` without the bot's sections: what its author (or the bot's own template) wrote."""
    return _SECTION.sub("", body or "").rstrip("\n")


def sections_of(body: str | None) -> str:
    """The bot's sections in `body`, in order, as `with_section` writes them: to append to a rewritten body."""
    found = [m.group(0).strip("\n") for m in _SECTION.finditer(body or "")]
    return "\n\n" + "\n\n".join(found) + "\n" if found else ""


def with_section(body: str | None, name: str, text: str, limit: int = BODY_LIMIT) -> str:
    """`body` with section `name` holding `text` (replaced where it stands, else appended), within `limit`:
    the section is cut to fit, never the rest of the body."""
    start, end = section_marks(name)
    base = body or ""
    room = min(SECTION_LIMIT, limit - len(_SECTION.sub(lambda m: "" if m.group(1) == name else m.group(0), base)))
    room -= len(start) + len(end) + 6
    inner = fit(text.strip("\n"), max(room, 200))
    block = f"\n\n{start}\n{inner}\n{end}\n"
    found = [m for m in _SECTION.finditer(base) if m.group(1) == name]
    if found:
        match = found[0]
        return base[: match.start()] + block + base[match.end() :]
    return base.rstrip("\n") + block
