"""Where GitHub is and who the bot is: from the Actions environment or from explicit values (CLI flags)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.errors import UsageError

DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class GitHubConfig:
    api_url: str
    repository: str  # owner/name
    token: str

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.split("/", 1)[1]

    def __repr__(self) -> str:
        return f"GitHubConfig(api_url={self.api_url!r}, repository={self.repository!r}, token='***')"


def resolve(
    api_url: str | None = None,
    repository: str | None = None,
    token: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> GitHubConfig:
    """Explicit values win over GITHUB_API_URL, GITHUB_REPOSITORY and GITHUB_TOKEN; each must end up set."""
    env = os.environ if environ is None else environ
    api, repo = place(api_url, repository, env)
    secret = token or env.get("GITHUB_TOKEN") or ""
    if not secret:
        raise UsageError(
            "GITHUB_TOKEN is not set: pass it to the step (env: GITHUB_TOKEN: "
            "${{ secrets.GITHUB_TOKEN }}) or use --token"
        )
    return GitHubConfig(api, repo, secret)


def place(api_url: str | None, repository: str | None, environ: Mapping[str, str]) -> tuple[str, str]:
    """(API URL, owner/name): explicit values over GITHUB_API_URL and GITHUB_REPOSITORY, checked."""
    api = (api_url or environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    repo = repository or environ.get("GITHUB_REPOSITORY") or ""
    if not re.match(r"^https?://[^/\s]+", api):
        raise UsageError(f"GITHUB_API_URL {api!r}: expected an http(s) URL such as {DEFAULT_API_URL}")
    if not re.match(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", repo):
        raise UsageError(f"GITHUB_REPOSITORY {repo!r}: expected owner/name (set it, or pass --repository)")
    return api, repo
