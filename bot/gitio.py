"""A thin adapter over the git command line: read files at revisions, their history and blame."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.errors import GitError


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    author_email: str
    committed_at: datetime
    subject: str
    body: str
    parents: tuple[str, ...]


def git(repo: Path, *args: str, check: bool = True, input: bytes | None = None) -> bytes:
    """Run git in `repo`; a failure raises GitError with git's own message."""
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, input=input, check=False)
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip() or f"exit {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed in {repo}: {message}")
    return proc.stdout


def toplevel(path: Path) -> Path:
    try:
        return Path(git(path, "rev-parse", "--show-toplevel").decode().strip())
    except GitError:
        raise GitError(
            f"{path} is not inside a git repository; run the command in your registry repository or pass --repo"
        ) from None


def resolve(repo: Path, rev: str) -> str:
    """A revision name to its commit sha; refuses names that look like options."""
    if rev.startswith("-"):
        raise GitError(f"invalid revision {rev!r}")
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except GitError:
        raise GitError(f"unknown revision {rev!r} in {repo}") from None


def tree(repo: Path, rev: str) -> str:
    """The tree id of a commit."""
    return git(repo, "rev-parse", f"{rev}^{{tree}}").decode().strip()


def show(repo: Path, rev: str, path: str) -> bytes | None:
    """A file's bytes at a revision, or None when it does not exist there."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "blob", f"{rev}:{path}"], capture_output=True, check=False
    )
    return proc.stdout if proc.returncode == 0 else None


def list_dir(repo: Path, rev: str, folder: str) -> list[str]:
    """Paths of the files directly in `folder` at a revision."""
    out = git(repo, "ls-tree", "--name-only", "-z", rev, "--", f"{folder.rstrip('/')}/", check=False)
    return [p for p in out.decode("utf-8", "replace").split("\0") if p]


def read_dir(repo: Path, rev: str, folder: str, suffixes: tuple[str, ...] = (".yaml", ".yml")) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in list_dir(repo, rev, folder):
        if path.endswith(suffixes):
            content = show(repo, rev, path)
            if content is not None:
                files[path] = content
    return files


_LOG_FORMAT = "%H%x1f%an%x1f%ae%x1f%cI%x1f%P%x1f%s%x1f%b%x1e"


def log(repo: Path, path: str, rev: str = "HEAD", first_parent: bool = True) -> list[Commit]:
    """Commits that touched `path`, newest first."""
    args = ["log", f"--format={_LOG_FORMAT}"]
    if first_parent:
        args.append("--first-parent")
    out = git(repo, *args, rev, "--", path).decode("utf-8", "replace")
    commits = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, author, email, when, parents, subject, body = record.split("\x1f")
        commits.append(
            Commit(sha, author, email, datetime.fromisoformat(when), subject, body.strip(), tuple(parents.split()))
        )
    return commits


def commit(repo: Path, rev: str) -> Commit:
    out = git(repo, "show", "-s", f"--format={_LOG_FORMAT}", rev).decode("utf-8", "replace").strip("\n\x1e")
    sha, author, email, when, parents, subject, body = out.split("\x1f")
    return Commit(sha, author, email, datetime.fromisoformat(when), subject, body.strip(), tuple(parents.split()))


def merge_file(ours: str, base: str, theirs: str, labels: tuple[str, str, str]) -> tuple[str, int]:
    """git's three-way merge of one file's texts: (the merged text, with conflict markers where the two sides
    changed the same or neighbouring lines; the number of conflicts)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="modelbot-merge-") as tmp:
        paths = []
        for name, text in zip(("ours", "base", "theirs"), (ours, base, theirs), strict=True):
            path = Path(tmp) / name
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        proc = subprocess.run(
            ["git", "merge-file", "-p", *(a for label in labels for a in ("-L", label)), *paths],
            capture_output=True,
            check=False,
        )
    if proc.returncode < 0 or proc.returncode > 127:
        raise GitError(f"git merge-file failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout.decode("utf-8"), proc.returncode


def is_ancestor(repo: Path, sha: str, of: str = "HEAD") -> bool:
    """True when commit `sha` exists in `repo` and is `of` or one of its ancestors."""
    if sha.startswith("-"):
        return False
    return (
        subprocess.run(
            ["git", "-C", str(repo), "merge-base", "--is-ancestor", sha, of], capture_output=True, check=False
        ).returncode
        == 0
    )
