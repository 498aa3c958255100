"""What `register` writes (issue 13): block-style entries even into `versions: []`, and an author that is a
person (MLflow's recorded user or the git identity), never the machine's login name."""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path

import pytest

from bot.mlflow_meta import author
from bot.registry.edit import add_version

EMPTY = """\
version: 1
models:
  churn:
    description: Who leaves.
    owners: [dana-ds]
    task: binary_classification
    evaluation: {data: data/eval.csv, sha256: "%s", target: left}
    versions: []   # none yet
    stages: {}
""" % ("a" * 64)


def _entry(version: int) -> dict[str, object]:
    return {"version": version, "uri": f"models:/churn/{version}", "created_at": "2026-11-16T14:40:00Z",
            "created_by": "dana-ds", "metrics": {"roc_auc": 0.9}}


def test_an_empty_flow_list_becomes_block_entries_that_later_versions_append_to() -> None:
    text, _ = add_version(EMPTY, "churn", _entry(1))
    text, registry = add_version(text, "churn", _entry(2))
    lines = text.splitlines()
    assert "    versions:   # none yet" in lines
    start = lines.index("    versions:   # none yet")
    assert lines[start + 1 : start + 11] == [
        "      - version: 1", "        uri: models:/churn/1", "        created_at: '2026-11-16T14:40:00Z'",
        "        created_by: dana-ds", "        metrics:", "          roc_auc: 0.9",
        "      - version: 2", "        uri: models:/churn/2", "        created_at: '2026-11-16T14:40:00Z'",
        "        created_by: dana-ds"]
    assert not any("{" in line for line in lines[start : start + 11])
    assert [v.id for v in registry.model("churn").versions] == ["1", "2"]  # type: ignore[union-attr]


def _git_repo(path: Path, name: str | None, email: str | None) -> Path:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for key, value in (("user.name", name), ("user.email", email)):
        if value:
            subprocess.run(["git", "-C", str(path), "config", key, value], check=True)
    return path


@pytest.mark.parametrize("recorded, expected", [
    (("lena-ml", None), "lena-ml"),
    ((None, "lena-ml"), "lena-ml"),
    (("root", None), "Dana Ds <dana@example.com>"),
    ((getpass.getuser(), ""), "Dana Ds <dana@example.com>"),
])
def test_the_author_is_mlflows_user_or_the_git_identity_never_the_login_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: tuple[str | None, ...], expected: str) -> None:
    monkeypatch.chdir(_git_repo(tmp_path, "Dana Ds", "dana@example.com"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global"))
    assert author(*recorded) == expected
