"""Reports: the Markdown comment (report.md, within GitHub's comment limit) and the JSON evidence record."""

from bot.report.render import LIMIT, markdown, write

__all__ = ["LIMIT", "markdown", "write"]
