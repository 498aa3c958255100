"""`modelbot demo --json`: the whole story, run for real (MLflow, localhub, the workflows), ends as told."""

import contextlib
import json
import os
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
    assert names[0].startswith("train") and names[-2].startswith("it fails some live requests")
    assert names[-1].startswith("shifted traffic") and "feature drift against the reference breached" in (
        result["steps"][-1]["detail"]
    )
    assert result["api_requests"] == sum(s["api_requests"] for s in result["steps"]) > 0
    staging = next(s for s in result["steps"] if "to staging: inconclusive" in s["name"])
    assert "validation neutral; approvals model-owners 1/1, ml-lead 1/1" in staging["detail"], staging
    # the production deploys reloaded a real gateway: answers checked against each version's own predictions
    merge, canary, rollback = (next(s for s in result["steps"] if s["name"].startswith(p))
                               for p in ("merge", "a live canary", "/rollback"))
    assert "now {'1': 90.0, '2': 10.0}" in merge["detail"], merge
    assert "merged themselves after their analysis" in canary["detail"], canary
    assert "3/3 answers X-Modelbot-Version: 2" in canary["detail"], canary
    assert "the gateway's production 3/3 answers X-Modelbot-Version: 1" in rollback["detail"], rollback
    assert 0 < result["merge_to_full_traffic_s"] < 600 and 0 < result["failure_to_restore_s"] < 600
    policy = (tmp_path / "demo" / "seed" / "policies" / "default.yaml").read_text()
    assert "type: gateway" in policy and "auto_merge: true" in policy
    # the gateway logged what it answered, and the log says the story: a canary, all of version 2, then 1 again
    logged = [
        json.loads(line) for line in (tmp_path / "demo" / "gateway" / "predictions.jsonl").read_text().splitlines()
    ]
    production = [r for r in logged if r.get("model") == "tumor-malignancy" and r.get("stage") == "production"
                  and r.get("arm") != "pinned" and "served_by" in r]
    assert {r["served_by"] for r in production[:3]} == {"1"} and {r["served_by"] for r in production[-3:]} == {"1"}
    assert all(not r["fallback"] for r in production)  # no tumor client ever needed the fallback
    diabetes = [r for r in logged if r.get("model") == "diabetes-progression" and "served_by" in r]
    failed = [r for r in diabetes if r["version"] == "2" and r["error"]]
    assert failed and all(r["served_by"] == "1" and r["fallback"] for r in failed)  # version 1 answered them
    left = processes_naming(tmp_path / "demo")
    assert not left, [(p / "cmdline").read_bytes()[:200] for p in left]


def processes_naming(workdir: Path) -> list[Path]:
    """Processes (of this user) whose command line or environment names `workdir`: the gateway has its worktree
    on its command line and the MLflow store of the demo in its environment."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            seen = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if str(workdir).encode() in seen:
            found.append(proc)
    return found


def test_a_non_empty_workdir_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--workdir", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and "is not empty" in proc.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_a_demo_terminated_midway_leaves_no_gateway_running(tmp_path):
    import signal
    import time

    workdir = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--workdir", str(workdir), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    started = workdir / "gateway" / "gateway.out"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if started.exists() and "modelbot serve: http://" in started.read_text():
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    [gateway] = [p for p in processes_naming(workdir / "serving") if b"serve" in (p / "cmdline").read_bytes()]
    tree = descendants(gateway)
    assert len(tree) >= 3  # the gateway, its model-host server, model processes
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in tree):
        time.sleep(0.1)
    assert not [p for p in tree if alive(p)]
    # the workflow step the runner was running when the story ended was ended with its job, and all it started
    # (localhub/actions/processes.py); were one left, this test started it, so it ends it
    left = {p.name: (p / "cmdline").read_bytes() for p in processes_naming(workdir) if alive(p)}
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(int(pid), signal.SIGKILL)
    assert not left, left


def descendants(proc: Path) -> list[Path]:
    """A process and all its descendants, through /proc's children lists (model processes start their own
    sessions, so neither their group nor their session names them)."""
    found = [proc]
    for task in (proc / "task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += descendants(Path("/proc") / child)
    return found


def alive(proc: Path) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
