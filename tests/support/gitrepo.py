"""Real git repositories for tests: a copy of the example registry, commits at chosen times."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE_FILES = ("models.yaml", "policies", "data", ".github")  # the registry and the bot's workflows


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, when: str | None = None, author: str = "Dana DS") -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": f"{author.split()[0].lower()}@example.com",
            "GIT_COMMITTER_NAME": author,
            "GIT_COMMITTER_EMAIL": "bot@example.com",
        }
        if when:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
        proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True, env=env, check=True)
        return proc.stdout.strip()

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text(encoding="utf-8")

    def commit(self, message: str, when: str | None = None, author: str = "Dana DS") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, when=when, author=author)
        return self.git("rev-parse", "HEAD")


def example_repo(path: Path, when: str = "2026-11-02T09:00:00Z") -> GitRepo:
    """A git repository holding the project's example models.yaml, policies/, data/ and workflows, in one commit."""
    path.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLE_FILES:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, path / name)
        else:
            shutil.copy2(source, path / name)
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    repo.commit("Add the model registry", when=when)
    return repo
