"""Bot-written texts (PR bodies, replies, status sections) are Jinja2 templates in bot/templates.

Every value that comes from people (descriptions, params, names) goes through `md` or `code` so that it
cannot inject Markdown, HTML or @-mentions into what the bot posts.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

# `&` too: an entity (`&#64;`, `&lt;`) is another way to write a mention or a tag
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def md(value: Any, limit: int = 500) -> str:
    """Untrusted text as inert Markdown: one line, specials escaped, mentions defused, bounded length."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text).replace("@", "@\u200b")


def code(value: Any, limit: int = 200) -> str:
    """Untrusted text as an inline code span (no Markdown, no mentions inside)."""
    text = " ".join(str(value).split()).replace("`", "'")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"`{text}`" if text else "``"


@cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML: values are escaped with `md` and `code` instead
    )
    env.filters["md"] = md
    env.filters["code"] = code
    return env


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)


def say(name: str, **values: Any) -> str:
    """One of the bot's short answers: the macro `name` of templates/replies.md.j2."""
    macro = getattr(environment().get_template("replies.md.j2").module, name)
    return str(macro(**values)).strip()
