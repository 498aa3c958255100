"""`actions/upload-artifact` and `actions/download-artifact` (v4), performed: files handed from one job of a run
to a later one (`needs:`), the way a job that runs untrusted code passes its results to a job that holds a
write token, and kept for people after the run (`retention-days`, 1 to 90, 90 by default). Artifacts live in
the run's folder, one folder per name; a name is uploaded once per run, as v4 refuses a second upload of the
same name. Each upload is recorded in the hub (`record`), which lists it under the run as GitHub's REST API
does (`GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts`)."""

from __future__ import annotations

import glob
import hashlib
import re
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localhub.hub import Hub

NAME = re.compile(r'^[^":<>|*?\\/\r\n]+$')
RETENTION_DAYS = 90  # GitHub's default (a repository may set less; upload-artifact's retention-days: 1 to 90)


def store(run_root: Path) -> Path:
    return run_root / "artifacts"


def upload(run_root: Path, workspace: Path, options: Mapping[str, str]) -> tuple[str, str]:
    """(conclusion, log) of an upload: `name` (default `artifact`), `path` (files, folders or globs, one per
    line, relative to the workspace), `if-no-files-found` (warn, error, ignore)."""
    name = options.get("name") or "artifact"
    if not NAME.match(name):
        return "failure", f"Artifact name is not valid: {name}"
    days = retention(options)
    if isinstance(days, str):
        return "failure", days
    target = store(run_root) / name
    if target.exists():
        return "failure", f"an artifact with the name '{name}' already exists in this run (v4 uploads a name once)"
    found: list[Path] = []
    for pattern in (line.strip() for line in options.get("path", "").splitlines()):
        if pattern and not pattern.startswith("!"):
            where = pattern if Path(pattern).is_absolute() else str(workspace / pattern)
            found += [Path(p) for p in glob.glob(where, recursive=True)]
    if not found:
        how = options.get("if-no-files-found") or "warn"
        message = (
            f"No files were found with the provided path: {options.get('path', '')}. No artifacts will be uploaded."
        )
        return ("failure" if how == "error" else "success"), message
    target.mkdir(parents=True)
    if len(found) == 1 and found[0].is_dir():  # a folder's contents are the artifact's root, as v4 does
        shutil.copytree(found[0], target, dirs_exist_ok=True)
    for path in found if not (len(found) == 1 and found[0].is_dir()) else ():
        dest = target / path.name
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, dest)
    return "success", f"Artifact {name} has been successfully uploaded ({len(found)} path(s))"


def download(run_root: Path, workspace: Path, options: Mapping[str, str]) -> tuple[str, str]:
    """(conclusion, log) of a download of artifact `name` into `path` (default: the workspace)."""
    name = options.get("name") or ""
    source = store(run_root) / name
    if not name or not source.is_dir():
        return "failure", f"Unable to download artifact(s): Artifact not found for name: {name}"
    dest = (
        Path(options["path"])
        if Path(options.get("path") or ".").is_absolute()
        else workspace / (options.get("path") or ".")
    )
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, dest, dirs_exist_ok=True)
    return "success", f"Artifact {name} was downloaded to {dest}"


def retention(options: Mapping[str, str]) -> int | str:
    """`retention-days` as days, or why it is not valid (GitHub: 1 to 90; empty is the default)."""
    given = (options.get("retention-days") or "").strip()
    if not given:
        return RETENTION_DAYS
    if not given.isdigit() or not 1 <= int(given) <= RETENTION_DAYS:
        return f"retention-days: expected a whole number of days from 1 to {RETENTION_DAYS}, got {given!r}"
    return int(given)


def record(hub: Hub, run_root: Path, run_id: int, sha: str, branch: str | None, options: Mapping[str, str]) -> int:
    """Record an uploaded artifact in the hub (size, digest of its files, expiry); returns its id."""
    from localhub.state import Artifact

    name = options.get("name") or "artifact"
    folder = store(run_root) / name
    digest = hashlib.sha256()
    size = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        size += len(data)
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
    days = retention(options)
    created = datetime.now(UTC)
    expires = created + timedelta(days=days if isinstance(days, int) else RETENTION_DAYS)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    with hub.state.lock:
        item = Artifact(
            hub.state.next_id(),
            run_id,
            name,
            size,
            f"sha256:{digest.hexdigest()}",
            str(folder),
            branch,
            sha,
            created.strftime(stamp),
            expires.strftime(stamp),
        )
        hub.state.artifacts[item.id] = item
    return item.id
