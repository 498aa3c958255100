"""The bare git repository behind localhub: every file, branch, commit and merge is a real git object.

Only plumbing commands are used (hash-object, read-tree/update-index on a private index, commit-tree,
update-ref, merge-tree --write-tree), so no working tree is ever needed and concurrent readers see refs
move atomically.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from localhub.errors import LocalhubGitError

ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    date: str  # ISO 8601, UTC ("2024-01-01T00:00:00Z")


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature
    message: str


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str
    sha: str
    path: str
    size: int | None


@dataclass(frozen=True)
class FileChange:
    status: str  # added, modified, removed, renamed
    path: str
    additions: int
    deletions: int
    blob_sha: str
    patch: str


@dataclass(frozen=True)
class MergeResult:
    tree: str | None
    conflicts: tuple[str, ...]


class GitRepo:
    """A bare repository driven through the git CLI."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def init_bare(cls, path: Path, default_branch: str = "main") -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        _git(path, "init", "--bare", "--quiet", f"--initial-branch={default_branch}")
        return cls(path)

    @classmethod
    def clone_bare(cls, source: Path, path: Path) -> GitRepo:
        _git(path.parent, "clone", "--bare", "--quiet", "--no-local", str(source), str(path))
        return cls(path)

    def git(
        self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
    ) -> str:
        return _git(self.path, *args, stdin=stdin, env=env, ok=ok)

    def resolve(self, rev: str) -> str | None:
        """The full sha a revision names, or None."""
        out = self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{object}}", ok=(0, 1))
        return out.strip() or None

    def resolve_commit(self, rev: str) -> str | None:
        out = self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", ok=(0, 1))
        return out.strip() or None

    def object_type(self, sha: str) -> str | None:
        out = self.git("cat-file", "-t", sha, ok=(0, 1, 128))
        return out.strip() or None

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        return {name: sha for name, _, sha in (line.partition(" ") for line in out.splitlines())}

    def update_ref(self, ref: str, new: str, old: str | None = None) -> None:
        args = ["update-ref", ref, new] + ([old] if old is not None else [])
        self.git(*args)

    def delete_ref(self, ref: str) -> None:
        self.git("update-ref", "-d", ref)

    def write_blob(self, data: bytes) -> str:
        return self.git("hash-object", "-w", "--stdin", stdin=data).strip()

    def read_blob(self, sha: str) -> bytes:
        return _git_bytes(self.path, "cat-file", "blob", sha)

    def file_at(self, commit: str, path: str) -> TreeEntry | None:
        out = self.git("ls-tree", "-l", "--full-tree", commit, "--", path.strip("/"), ok=(0, 128))
        entries = [_entry(line) for line in out.splitlines()]
        return next((e for e in entries if e.path == path.strip("/")), None)

    def list_dir(self, commit: str, path: str) -> list[TreeEntry]:
        target = f"{commit}:{path.strip('/')}" if path.strip("/") else f"{commit}^{{tree}}"
        return self.tree(target, recursive=False, prefix=path.strip("/"))

    def tree(self, treeish: str, recursive: bool = False, prefix: str = "") -> list[TreeEntry]:
        args = ["ls-tree", "-l"] + (["-r", "-t"] if recursive else []) + [treeish]
        entries = [_entry(line) for line in self.git(*args).splitlines()]
        if prefix:
            entries = [TreeEntry(e.mode, e.type, e.sha, f"{prefix}/{e.path}", e.size) for e in entries]
        return entries

    def build_tree(self, base_tree: str | None, changes: dict[str, tuple[str, str] | None]) -> str:
        """A tree from `base_tree` with `changes`: path -> (mode, blob sha), or None to delete the path."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read-tree", *([base_tree] if base_tree else ["--empty"]), env=env)
            lines = []
            for path, entry in changes.items():
                if entry is None:
                    lines.append(f"0 {ZERO_SHA}\t{path}")
                else:
                    lines.append(f"{entry[0]} {entry[1]}\t{path}")
            if lines:
                self.git(
                    "update-index",
                    "--add",
                    "--remove",
                    "--index-info",
                    stdin=("\n".join(lines) + "\n").encode(),
                    env=env,
                )
            return self.git("write-tree", env=env).strip()

    def commit_tree(self, tree: str, parents: list[str], message: str, author: Signature, committer: Signature) -> str:
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": author.date,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": committer.date,
        }
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.git(*args, stdin=message.encode(), env=env).strip()

    def commit(self, sha: str) -> CommitInfo:
        fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        out = self.git("log", "-1", f"--format={fmt}", sha, "--")
        h, tree, parents, an, ae, ad, cn, ce, cd, message = out.split("\x00", 9)
        return CommitInfo(
            h,
            tree,
            tuple(parents.split()),
            Signature(an, ae, _utc(ad)),
            Signature(cn, ce, _utc(cd)),
            message.rstrip("\n"),
        )

    def log(self, rev: str, path: str | None = None, limit: int | None = None) -> list[str]:
        args = ["rev-list", rev] + ([f"--max-count={limit}"] if limit else []) + ["--"]
        return self.git(*(args + ([path] if path else []))).split()

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return _returncode(self.path, "merge-base", "--is-ancestor", ancestor, descendant) == 0

    def merge_base(self, a: str, b: str) -> str | None:
        return self.git("merge-base", a, b, ok=(0, 1)).strip() or None

    def merge_tree(self, ours: str, theirs: str) -> MergeResult:
        """Merge two commits without a worktree; conflicts are the paths git itself reports."""
        proc = subprocess.run(
            ["git", "merge-tree", "--write-tree", "--name-only", "--no-messages", ours, theirs],
            cwd=self.path,
            capture_output=True,
            env=_env(None),
        )
        lines = proc.stdout.decode().splitlines()
        if proc.returncode == 0:
            return MergeResult(lines[0], ())
        if proc.returncode == 1:
            return MergeResult(None, tuple(line for line in lines[1:] if line))
        raise LocalhubGitError(f"git merge-tree {ours} {theirs}: {proc.stderr.decode().strip()}")

    def changes(self, base: str, head: str) -> list[FileChange]:
        """Files changed from `base` to `head`, as a pull request's "Files changed" lists them."""
        status = self.git("diff", "--no-renames", "--name-status", "-z", base, head).split("\x00")
        numstat = self.git("diff", "--no-renames", "--numstat", "-z", base, head).split("\x00")
        counts = {}
        for item in numstat:
            parts = item.split("\t")
            if len(parts) == 3:
                counts[parts[2]] = (_int(parts[0]), _int(parts[1]))
        names = {"A": "added", "M": "modified", "D": "removed", "T": "changed"}
        out = []
        for code, path in zip(status[0::2], status[1::2], strict=False):
            if not code:
                continue
            adds, dels = counts.get(path, (0, 0))
            entry = self.file_at(head, path) if code != "D" else self.file_at(base, path)
            patch = self.git("diff", "--no-renames", "--no-color", base, head, "--", path)
            patch = patch.split("\n@@", 1)[1] if "\n@@" in patch else ""
            out.append(
                FileChange(
                    names.get(code[0], "changed"),
                    path,
                    adds,
                    dels,
                    entry.sha if entry else ZERO_SHA,
                    f"@@{patch}".rstrip("\n") if patch else "",
                )
            )
        return out


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _entry(line: str) -> TreeEntry:
    meta, path = line.split("\t", 1)
    mode, kind, sha, size = meta.split()
    return TreeEntry(mode, kind, sha, path, int(size) if size.isdigit() else None)


def _utc(iso: str) -> str:
    from datetime import datetime

    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    env.update(extra or {})
    return env


def _returncode(cwd: Path, *args: str) -> int:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, env=_env(None)).returncode


def _git_bytes(cwd: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, env=_env(None))
    if proc.returncode != 0:
        raise LocalhubGitError(f"git {' '.join(args)}: {proc.stderr.decode().strip()}")
    return proc.stdout


def _git(
    cwd: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, env=_env(env))
    if proc.returncode not in ok:
        raise LocalhubGitError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode(errors="replace")
