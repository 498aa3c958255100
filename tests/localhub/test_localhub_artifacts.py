"""actions/upload-artifact performed by localhub keeps what a run uploaded and lists it as GitHub's REST API does
(GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts, checked against GitHub's schema by the strict hub):
size, digest, retention; expired artifacts stay listed, marked so; a job token needs `actions: read`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from localhub.actions.runner import ActionsRunner
from localhub.state import Artifact
from tests.support.localhub import RunningHub

WORKFLOW = """\
name: evidence
on: workflow_dispatch
permissions: {}
jobs:
  keep:
    runs-on: ubuntu-latest
    steps:
      - run: |
          mkdir -p "$RUNNER_TEMP/out/sub"
          printf 'report' > "$RUNNER_TEMP/out/report.md" && printf '{}' > "$RUNNER_TEMP/out/sub/r.json"
      - uses: actions/upload-artifact@v4
        with:
          name: modelbot-report
          path: ${{ runner.temp }}/out
          retention-days: 3
      - uses: actions/upload-artifact@v4
        with:
          name: nothing
          path: ${{ runner.temp }}/missing
          if-no-files-found: ignore
  bad:
    runs-on: ubuntu-latest
    steps:
      - run: echo x > x.txt
      - uses: actions/upload-artifact@v4
        with:
          name: never
          path: x.txt
          retention-days: 91
"""


@pytest.fixture
def repo(localhub_factory: Callable[..., RunningHub]) -> RunningHub:
    running = localhub_factory(files={"README.md": "x\n", ".github/workflows/evidence.yml": WORKFLOW})
    running.hub.add_user("alice", role="write")
    return running


def test_an_uploaded_artifact_is_listed_under_its_run_until_it_expires(repo: RunningHub, tmp_path: Path) -> None:
    runner = ActionsRunner(repo.server, tmp_path / "runs")
    assert repo.request("POST", "/repos/acme/models/actions/workflows/evidence.yml/dispatches", "alice",
                        {"ref": "main"})[0] == 204
    keep, bad = runner.run_pending()
    assert keep.conclusion == "success", keep.log()
    assert bad.conclusion == "failure" and "retention-days: expected a whole number of days from 1 to 90" in bad.log()
    run_id = keep.steps[0].env["GITHUB_RUN_ID"]
    status, _, listed = repo.request("GET", f"/repos/acme/models/actions/runs/{run_id}/artifacts", "alice")
    assert status == 200 and listed["total_count"] == 1
    [found] = listed["artifacts"]
    files = {"report.md": b"report", "sub/r.json": b"{}"}
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + hashlib.sha256(data).digest()
                                     for name, data in sorted(files.items()))).hexdigest()
    assert (found["name"], found["size_in_bytes"], found["expired"]) == ("modelbot-report", 8, False)
    assert found["digest"] == f"sha256:{digest}" and found["workflow_run"]["id"] == int(run_id)
    assert found["expires_at"][:10] > found["created_at"][:10]
    assert repo.request("GET", f"/repos/acme/models/actions/artifacts/{found['id']}", "alice")[2] == found
    assert repo.request("GET", "/repos/acme/models/actions/runs/999/artifacts", "alice")[2]["total_count"] == 0
    item: Artifact = repo.hub.state.artifacts[found["id"]]
    item.expires_at = "2020-01-01T00:00:00Z"
    again = repo.request("GET", f"/repos/acme/models/actions/runs/{run_id}/artifacts?name=modelbot-report",
                         "alice")[2]
    assert again["artifacts"][0]["expired"] is True


def test_a_job_token_lists_artifacts_only_with_actions_read(repo: RunningHub) -> None:
    from localhub.rest.permissions import JobGrant

    without = repo.hub.token_for_job(JobGrant({"contents": "read"}, "w.yml", "j", 1))
    allowed = repo.hub.token_for_job(JobGrant({"actions": "read"}, "w.yml", "j", 1))
    assert repo.request("GET", "/repos/acme/models/actions/runs/1/artifacts", token=without)[0] == 403
    assert repo.request("GET", "/repos/acme/models/actions/runs/1/artifacts", token=allowed)[0] == 200
