import json

import pytest

from bot.cli import main
from tests.support.gitrepo import example_repo


class Run:
    """Runs `modelbot` in-process, as a user would from the shell, and keeps what it printed."""

    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, *argv):
        code = main([str(a) for a in argv])
        out, err = self.capsys.readouterr()
        self.code, self.out, self.err = code, out, err
        return self

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def modelbot(capsys):
    return Run(capsys)


@pytest.fixture
def repo(tmp_path):
    return example_repo(tmp_path / "registry")


def unfreeze(repo):
    """Drop the example policy's weekend freeze, so tests do not depend on the day they run."""
    text = repo.read("policies/default.yaml")
    start = text.index("freeze:\n")
    end = text.index("\n\n", start)
    repo.write("policies/default.yaml", text[:start] + text[end + 2 :])
    repo.commit("Lift the weekend freeze", when="2026-11-02T09:30:00Z")
