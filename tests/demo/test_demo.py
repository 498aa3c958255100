"""`modelbot demo --json`: the whole story, run for real (MLflow, localhub, the workflows), ends as told."""

import json
import subprocess
import sys
from pathlib import Path


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
    # the production deploys reloaded a real gateway: answers checked against each version's own predictions
    merge, rollback = (next(s for s in result["steps"] if s["name"].startswith(p)) for p in ("merge", "/rollback"))
    assert (
        "before 3/3 answers X-Modelbot-Version: 1, after the deploy job's reload 3/3 answers "
        "X-Modelbot-Version: 2" in merge["detail"]
    ), merge
    assert "the gateway's production 3/3 answers X-Modelbot-Version: 1" in rollback["detail"], rollback
    policy = (tmp_path / "demo" / "seed" / "policies" / "default.yaml").read_text()
    assert '{type: gateway, url: "http://127.0.0.1:' in policy
    # the gateway logged what it answered, and nothing of it is left running
    logged = [
        json.loads(line) for line in (tmp_path / "demo" / "gateway" / "predictions.jsonl").read_text().splitlines()
    ]
    assert [r["served_by"] for r in logged if r.get("stage") == "production"] == ["1"] * 3 + ["2"] * 3 + ["1"] * 3
    assert not processes_naming(tmp_path / "demo")


def processes_naming(workdir: Path) -> list[str]:
    """Processes (of this user) whose command line or environment names `workdir`: the gateway has its worktree
    on its command line and the MLflow store of the demo in its environment, as its model processes do."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            seen = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if str(workdir).encode() in seen:
            found.append(f"{proc.name}: {(proc / 'cmdline').read_bytes()[:200]!r}")
    return found


def test_a_non_empty_workdir_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--workdir", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and "is not empty" in proc.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"
