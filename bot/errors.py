"""One error hierarchy: core code raises these, and only the CLI and the Actions entrypoint turn them
into exit codes and messages."""

from __future__ import annotations

from dataclasses import dataclass


class ModelbotError(Exception):
    """Base of every error the bot reports to a person. Exit code 1: refused or invalid."""

    exit_code = 1


class UsageError(ModelbotError):
    """The command line itself is wrong (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Location:
    """Where in which file a problem is: file, 1-based line and column, and a dotted key path."""

    file: str
    line: int | None = None
    column: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.path:
            where += f" ({self.path})"
        return where


@dataclass(frozen=True)
class Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "path": self.location.path,
            "message": self.message,
        }


class InvalidFile(ModelbotError):
    """A registry or policy file that cannot be used; carries every problem found, each located."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class RefusedError(ModelbotError):
    """A well-formed request that the rules refuse (skipped stage, freeze window, ...)."""


class GitError(ModelbotError):
    """A git command failed; the message carries git's own words."""


def names(items: object, limit: int = 10) -> str:
    """A list of names for a message: all of a few, or the first ones and how many more."""
    listed = [str(i) for i in items]  # type: ignore[attr-defined]  # items: any iterable of names; str() of each
    if not listed:
        return "none"
    if len(listed) <= limit:
        return ", ".join(listed)
    return ", ".join(listed[:limit]) + f" and {len(listed) - limit} more"
