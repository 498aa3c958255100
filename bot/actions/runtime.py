"""What GitHub Actions hands a step (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, ...) and what a step hands back:
step outputs in the GITHUB_OUTPUT file, Markdown in the GITHUB_STEP_SUMMARY file."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import UsageError


@dataclass(frozen=True)
class Runtime:
    event_name: str
    event_path: Path
    environ: Mapping[str, str]

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], event_name: str | None = None, event_path: str | None = None
    ) -> Runtime:
        name = event_name or environ.get("GITHUB_EVENT_NAME", "")
        path = event_path or environ.get("GITHUB_EVENT_PATH", "")
        if not name:
            raise UsageError("GITHUB_EVENT_NAME is not set: run inside GitHub Actions, or pass --event-name")
        if not path:
            raise UsageError("GITHUB_EVENT_PATH is not set: run inside GitHub Actions, or pass --event-path")
        return cls(name, Path(path), environ)

    def payload(self) -> dict[str, Any]:
        try:
            data = json.loads(self.event_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{self.event_path}: the event payload file does not exist") from None
        except ValueError as exc:
            raise UsageError(f"{self.event_path}: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{self.event_path}: expected a JSON object")
        return data

    def get(self, name: str) -> str | None:
        return self.environ.get(name) or None


def write_outputs(path: str | None, outputs: Mapping[str, str]) -> None:
    """Append `name=value` lines; multi-line values use the heredoc form with a random delimiter, as
    GitHub documents, so a value can never close its own block."""
    if not path or not outputs:
        return
    with open(path, "a", encoding="utf-8") as out:
        for name, value in outputs.items():
            if "\n" in value:
                delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
                out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                out.write(f"{name}={value}\n")


def write_summary(path: str | None, markdown: str) -> None:
    if path and markdown:
        with open(path, "a", encoding="utf-8") as out:
            out.write(markdown.rstrip("\n") + "\n")
