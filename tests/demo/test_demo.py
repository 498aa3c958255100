"""`modelbot demo --json`: the whole story, run for real (MLflow, localhub, the workflows), ends as told."""

import json
import subprocess
import sys


def test_the_demo_ends_as_the_story_says(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--workdir", str(tmp_path / "demo"), "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    result = json.loads(proc.stdout)
    failed = [(s["name"], s["detail"]) for s in result["steps"] if s["outcome"] != "ok"]
    assert proc.returncode == 0 and result["ok"], failed
    names = [s["name"] for s in result["steps"]]
    assert names[0].startswith("train") and names[-1].startswith("/rollback")
    assert result["api_requests"] == sum(s["api_requests"] for s in result["steps"]) > 0
    staging = next(s for s in result["steps"] if "to staging: inconclusive" in s["name"])
    assert "validation neutral; approvals model-owners 1/1, ml-lead 1/1" in staging["detail"], staging


def test_a_non_empty_workdir_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--workdir", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and "is not empty" in proc.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"
