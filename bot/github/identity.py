"""Who the bot is on GitHub. The recommended identity is a GitHub App: the action is given the app's id and
private key (secrets), and the bot mints an installation token itself (PyGithub: a JWT signed with the key,
then the repository's installation, then its token: 2 requests). Its login is then `<app-slug>[bot]`, from the
installation GitHub returns, never assumed. Without app credentials the bot runs on the workflow's
GITHUB_TOKEN (the reduced mode: no team membership, and its pull requests start no workflow runs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.errors import UsageError

# What the app needs (GitHub's app permission names), as the README's app manifest asks for them.
APP_PERMISSIONS = {
    "actions": "write",  # dispatch the deploy and validation workflows
    "checks": "write",  # modelbot/validation and modelbot/approvals
    "contents": "write",  # promotion branches, merges of self-merging rollbacks
    "deployments": "write",
    "issues": "write",  # replies, incidents, labels
    "pull_requests": "write",
    "statuses": "write",
    "members": "read",  # roles given to teams (an organisation permission)
    "metadata": "read",
}
APP_ID = "MODELBOT_APP_ID"
APP_PRIVATE_KEY = "MODELBOT_APP_PRIVATE_KEY"


@dataclass(frozen=True)
class AppCredentials:
    app_id: str
    private_key: str = field(repr=False)


@dataclass(frozen=True)
class Identity:
    """An installation token to act with and the app's bot login."""

    token: str = field(repr=False)
    login: str


def app_credentials(environ: Mapping[str, str]) -> AppCredentials | None:
    """The app's id and private key from MODELBOT_APP_ID and MODELBOT_APP_PRIVATE_KEY; None when neither is set;
    a clear refusal when only one is, or when they are not what GitHub issues."""
    app_id, key = environ.get(APP_ID, "").strip(), environ.get(APP_PRIVATE_KEY, "").strip()
    if not app_id and not key:
        return None
    if not app_id or not key:
        missing = APP_ID if not app_id else APP_PRIVATE_KEY
        raise UsageError(
            f"{missing} is not set: a GitHub App needs both its id ({APP_ID}) and its private key "
            f"({APP_PRIVATE_KEY}); pass the action's app-id and private-key inputs from secrets"
        )
    if not app_id.isdigit():
        raise UsageError(f"{APP_ID} {app_id[:20]!r}: expected the app's numeric id (its settings page shows it)")
    if "PRIVATE KEY-----" not in key:
        raise UsageError(
            f"{APP_PRIVATE_KEY}: expected the app's private key in PEM form "
            "(-----BEGIN RSA PRIVATE KEY----- ...), as GitHub lets you download it"
        )
    return AppCredentials(app_id, key.replace("\\n", "\n"))


def installation_identity(api_url: str, repository: str, credentials: AppCredentials, timeout: int = 30) -> Identity:
    """An installation token of the app on `repository`, and the app's bot login. 2 requests."""
    from github import Auth, GithubException, GithubIntegration

    from bot.github.forge import ForgeError

    owner, name = repository.split("/", 1)
    integration = GithubIntegration(
        auth=Auth.AppAuth(int(credentials.app_id), credentials.private_key),
        base_url=api_url,
        timeout=timeout,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    try:
        installation = integration.get_repo_installation(owner, name)
        token = integration.get_access_token(installation.id)
    except GithubException as exc:
        said = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
        hint = " (is the app installed on this repository?)" if exc.status == 404 else ""
        raise ForgeError(
            f"GitHub App {credentials.app_id}: cannot get an installation token for {repository}: "
            f"{exc.status} {said}{hint}"
        ) from exc
    return Identity(token.token, f"{installation.app_slug}[bot]")
