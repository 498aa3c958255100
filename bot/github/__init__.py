"""The bot's only door to GitHub (PyGithub lives here and nowhere else).

Handlers depend on the `Forge` protocol (`bot.github.forge`); `connect()` builds the real adapter from the
Actions environment or explicit values. Nothing is imported from PyGithub until `connect()` is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.github.client import GitHubForge
    from bot.github.retry import Retrier


def connect(
    api_url: str | None = None,
    repository: str | None = None,
    token: str | None = None,
    environ: Mapping[str, str] | None = None,
    retrier: Retrier | None = None,
    bot_login: str | None = None,
) -> GitHubForge:
    """A GitHubForge for GITHUB_API_URL / GITHUB_REPOSITORY and the bot's identity, explicit values winning: a
    GitHub App's installation token when MODELBOT_APP_ID and MODELBOT_APP_PRIVATE_KEY are set (`identity.py`),
    else GITHUB_TOKEN.

    The bot edits only comments it wrote itself: its login is `bot_login`, else MODELBOT_BOT_LOGIN, else
    github-actions[bot] inside Actions (GITHUB_ACTIONS=true); elsewhere any author's marker counts."""
    import os

    from bot.github.client import GitHubForge
    from bot.github.config import GitHubConfig, place, resolve
    from bot.github.identity import app_credentials, installation_identity

    env = os.environ if environ is None else environ
    credentials = app_credentials(env) if token is None else None
    if credentials is not None:  # a GitHub App: its own installation token, its own login
        api, repo = place(api_url, repository, env)
        identity = installation_identity(api, repo, credentials)
        forge = GitHubForge(
            GitHubConfig(api, repo, identity.token), retrier=retrier, bot_login=bot_login or identity.login
        )
        forge.acts_as_app = True
        return forge
    login = (
        bot_login
        or env.get("MODELBOT_BOT_LOGIN")
        or ("github-actions[bot]" if env.get("GITHUB_ACTIONS") == "true" else None)
    )
    return GitHubForge(resolve(api_url, repository, token, environ), retrier=retrier, bot_login=login)
