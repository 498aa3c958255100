"""All printing of the CLI goes through here: text for people, one JSON object for machines."""

from __future__ import annotations

import json
import sys
from typing import Any

from bot.errors import Problem


def emit_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def line(text: str = "") -> None:
    print(text)


def progress(text: str) -> None:
    """Progress of long work goes to stderr, so --json output stays clean."""
    print(text, file=sys.stderr, flush=True)


def error(message: str, json_mode: bool = False) -> None:
    if json_mode:
        emit_json({"ok": False, "error": message})
    print(f"modelbot: error: {message}", file=sys.stderr)


def problems(found: list[Problem], json_mode: bool = False) -> None:
    if json_mode:
        emit_json({"ok": False, "problems": [p.as_dict() for p in found]})
    for problem in found:
        print(f"{problem}", file=sys.stderr)
    print(f"modelbot: {len(found)} problem(s) found", file=sys.stderr)
