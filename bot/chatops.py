"""Slash commands in comments: grammar, parsing with clear errors, and authorization. Pure; no I/O.

Only the first line of a comment is read, and only when it starts with `/`; every argument must match a strict
pattern, so text from a comment can never smuggle anything else into what the bot does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.errors import ModelbotError

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
WRITE_LEVELS = frozenset({"write", "maintain", "admin"})
MAX_LINE = 200

USAGE: dict[str, str] = {
    "promote": "/promote MODEL VERSION to STAGE",
    "rollback": "/rollback MODEL [STAGE]",
    "validate": "/validate",
    "status": "/status [MODEL]",
    "cancel": "/cancel",
    "help": "/help",
}
HELP_TEXT = "modelbot commands (first line of a comment):\n" + "\n".join(f"- `{u}`" for u in USAGE.values())


class CommandError(ModelbotError):
    """A comment that looks like a command but is not a valid one; the message shows the right syntax."""


@dataclass(frozen=True)
class Command:
    verb: str
    model: str | None = None
    version: str | None = None
    stage: str | None = None
    args: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        words = [f"/{self.verb}", self.model, self.version]
        if self.verb == "promote":
            words.append("to")
        words.append(self.stage)
        return " ".join(w for w in words if w)


def _check(value: str, pattern: re.Pattern[str], what: str, verb: str) -> str:
    if not pattern.fullmatch(value):
        raise CommandError(f"`{value[:40]}` is not a valid {what}. Usage: `{USAGE[verb]}`")
    return value


def parse(body: str) -> Command | None:
    """The command in a comment body, None when the comment holds none, CommandError when it is malformed."""
    first = body.lstrip("\ufeff").split("\n", 1)[0].strip().rstrip("\r")
    if not first.startswith("/") or first.startswith("//"):
        return None
    if len(first) > MAX_LINE:
        raise CommandError(f"command line longer than {MAX_LINE} characters")
    words = first[1:].split()
    verb = words[0].lower() if words else ""
    if verb not in USAGE:
        if re.fullmatch(r"[a-z-]+", verb):
            _unknown(verb)  # a near-miss of a verb is answered; anything else is not a command
        return None
    args = words[1:]
    if verb == "promote":
        if len(args) != 4 or args[2].lower() != "to":
            raise CommandError(f"Usage: `{USAGE[verb]}`, e.g. `/promote churn 7 to production`")
        return Command(
            verb,
            _check(args[0], NAME, "model name", verb),
            _check(args[1], VERSION, "version", verb),
            _check(args[3], NAME, "stage", verb),
        )
    if verb == "rollback":
        if not 1 <= len(args) <= 2:
            raise CommandError(f"Usage: `{USAGE[verb]}`, e.g. `/rollback churn production`")
        stage = _check(args[1], NAME, "stage", verb) if len(args) == 2 else None
        return Command(verb, _check(args[0], NAME, "model name", verb), stage=stage)
    if verb == "status":
        if len(args) > 1:
            raise CommandError(f"Usage: `{USAGE[verb]}`")
        return Command(verb, _check(args[0], NAME, "model name", verb) if args else None)
    if args:
        raise CommandError(f"`/{verb}` takes no arguments. Usage: `{USAGE[verb]}`")
    return Command(verb)


def _unknown(verb: str) -> None:
    """Words like `/cc` are common in comments; only near-misses of our verbs deserve an answer."""
    close = [v for v in USAGE if v.startswith(verb[:3])]
    if close:
        raise CommandError(f"unknown command `/{verb}`; did you mean `{USAGE[close[0]]}`?")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def authorize(
    command: Command,
    *,
    actor: str,
    permission: str,
    is_bot: bool,
    command_roles: Mapping[str, tuple[str, ...]],
    actor_roles: Iterable[str],
) -> Decision:
    """May `actor` run `command`? At least write permission, and one of the roles the policy names for it."""
    if is_bot or actor.endswith("[bot]"):
        return Decision(False, "commands from bots are ignored")
    if permission not in WRITE_LEVELS:
        return Decision(False, f"@{actor} has {permission} permission; `/{command.verb}` needs write or more")
    needed = command_roles.get(command.verb, ())
    if needed and not set(needed) & set(actor_roles):
        return Decision(
            False,
            f"`/{command.verb}` needs one of the roles {', '.join(needed)}; @{actor} has "
            f"{', '.join(sorted(actor_roles)) or 'none'}",
        )
    return Decision(True, "authorized")
