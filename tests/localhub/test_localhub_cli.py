"""`modelbot localhub serve --repo DIR [--port N]` serves a copy of DIR until interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.localhub import git


def seeded(tmp_path: Path) -> Path:
    """A git repository with one commit holding an empty models.yaml."""
    repo = tmp_path / "models"
    repo.mkdir()
    (repo / "models.yaml").write_text("models: {}\n")
    git(repo, "init", "-q", "--initial-branch=main")
    git(repo, "add", "models.yaml")
    git(repo, "commit", "-qm", "seed")
    return repo


def test_serve_a_directory_by_hand(tmp_path: Path) -> None:
    repo = seeded(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "localhub", "serve", "--repo", str(repo), "--json",
                             "--user", "alice:write", "--strict"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        text = ""
        while not text.rstrip().endswith("}") or text.count("{") != text.count("}"):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            text += line
        info = json.loads(text)
        assert info["repository"] == "acme/models" and set(info["tokens"]) == {"github-actions[bot]", "alice"}
        request = urllib.request.Request(f"{info['api_url']}/repos/acme/models/contents/models.yaml",
                                         headers={"Authorization": f"Bearer {info['tokens']['alice']}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read())["path"] == "models.yaml"
        clone = tmp_path / "clone"
        git(tmp_path, "clone", "-q", info["clone_url"], str(clone))
        assert (clone / "models.yaml").read_text() == "models: {}\n"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)  # drains both pipes: a server blocked writing to a full one never exits
    assert proc.returncode == 0
    assert git(repo, "log", "--format=%s").split() == ["seed"]  # the served directory is untouched


def test_serve_refuses_a_missing_directory(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "localhub", "serve", "--repo", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "not a directory" in done.stderr


def test_serve_stops_cleanly_on_sigint_or_sigterm_even_when_its_parent_ignores_ctrl_c(tmp_path: Path) -> None:
    """A shell's background job, or a test runner, may start it with SIGINT ignored: it stops all the same."""
    repo = seeded(tmp_path)
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = subprocess.Popen([sys.executable, "-m", "bot", "localhub", "serve", "--repo", str(repo), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        assert proc.stdout is not None
        text = ""
        while not text.rstrip().endswith("}") or text.count("{") != text.count("}"):
            line = proc.stdout.readline()
            assert line
            text += line
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert proc.returncode == 0 and "localhub: stopped" in err, (sig, err[-300:])
