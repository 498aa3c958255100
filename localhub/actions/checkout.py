"""`uses: actions/checkout` as localhub performs it: a real fetch over git smart HTTP from the hub, at the
event's ref unless `with: ref:` says otherwise, `fetch-depth` 1 by default (0 fetches all branches), and
the token persisted as an HTTP header so later steps can push, as the real action does, unless
`persist-credentials: false` (then the header is removed once the checkout is done)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localhub.hub import Hub


@dataclass(frozen=True)
class CheckoutResult:
    conclusion: str
    exit_code: int | None
    log: str


def checkout(
    hub: Hub, options: Mapping[str, str], env: Mapping[str, str], workspace: Path, sha: str, event_ref: str
) -> CheckoutResult:
    dest = workspace / options.get("path", ".")
    if dest.exists() and dest != workspace:
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    token = options.get("token") or env.get("GITHUB_TOKEN") or ""  # actions/checkout: `github.token`
    header = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    ref = options.get("ref") or event_ref
    if not ref.startswith("refs/") and len(ref) != 40:
        ref = f"refs/heads/{ref}"
    depth = int(options.get("fetch-depth", "1") or 0)
    fetch = [
        "fetch",
        "-q",
        "--no-tags",
        *([f"--depth={depth}"] if depth else []),
        "origin",
        f"+{ref}:refs/remotes/origin/checkout" if ref.startswith("refs/") else ref,
    ]
    commands = [
        ["init", "-q"],
        ["remote", "add", "origin", hub.clone_url()],
        ["config", "http.extraheader", header],
        fetch,
    ]
    if depth == 0:
        commands.append(["fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*"])
    commands.append(["checkout", "-q", "--detach", sha if ref == event_ref else "FETCH_HEAD"])
    if str(options.get("persist-credentials", "true")).lower() == "false":
        commands.append(["config", "--unset-all", "http.extraheader"])
    git_env = {**env, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    log = []
    for args in commands:
        proc = subprocess.run(["git", *args], cwd=dest, env=git_env, capture_output=True, text=True)
        shown = " ".join("***" if "AUTHORIZATION" in a else a for a in args)
        log.append(f"git {shown}\n{proc.stdout}{proc.stderr}")
        if proc.returncode != 0:
            return CheckoutResult("failure", proc.returncode, "".join(log))
    return CheckoutResult("success", 0, "".join(log))
