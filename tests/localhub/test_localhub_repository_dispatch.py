"""`POST /repos/{owner}/{repo}/dispatches` as GitHub answers it: refused for a reader, for more than 10 top-level
keys of client_payload and for 64KB of it; otherwise delivered as `repository_dispatch` (action: the event type,
GitHub's payload schema) and run by the workflows whose `on: repository_dispatch` lists that type, on the default
branch, with the client's payload in `github.event.client_payload`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from localhub.actions.runner import ActionsRunner
from tests.support.localhub import RunningHub

RETRAIN = """\
name: retrain
on:
  repository_dispatch:
    types: [modelbot-retrain]
permissions: {}
jobs:
  train:
    runs-on: ubuntu-latest
    steps:
      - name: what to retrain
        run: echo "retrain ${{ github.event.client_payload.model }} on ${{ github.ref }} for ${{ github.event.action }}"
"""


@pytest.mark.slow  # runs a workflow's job
def test_a_dispatch_is_delivered_and_runs_the_workflows_of_its_type(
    localhub_factory: Callable[..., RunningHub], tmp_path: Path
) -> None:
    hub = localhub_factory(files={".github/workflows/retrain.yml": RETRAIN, "README.md": "# models\n"})
    hub.hub.add_user("rita-reader", role="read")
    forge = hub.forge()
    runner = ActionsRunner(hub.server, tmp_path / "runs")  # listens from now on, as Actions does
    path = "/repos/acme/models/dispatches"

    too_many = {f"k{i}": i for i in range(11)}
    assert hub.request("POST", path, "github-actions[bot]", {"event_type": "x", "client_payload": too_many})[0] == 422
    too_big = {"evidence": "x" * 65_536}
    status, _, body = hub.request("POST", path, "github-actions[bot]", {"event_type": "x", "client_payload": too_big})
    assert status == 422 and "64KB" in str(body)
    assert hub.request("POST", path, "rita-reader", {"event_type": "x"})[0] == 403
    assert not [d for d in hub.hub.deliveries if d.event == "repository_dispatch"]

    forge.dispatch_repository_event("something-else", {"model": "churn"})
    forge.dispatch_repository_event("modelbot-retrain", {"model": "churn", "breaches": ["drift"]})

    _other, retrain = [d for d in hub.hub.deliveries if d.event == "repository_dispatch"]
    assert (retrain.payload["action"], retrain.payload["branch"]) == ("modelbot-retrain", "main")
    assert retrain.payload["client_payload"] == {"model": "churn", "breaches": ["drift"]}
    assert retrain.payload["installation"]["id"] == 15368  # the workflow token's app: GitHub Actions
    [run] = runner.run_pending()
    assert (run.workflow, run.event, run.conclusion) == (".github/workflows/retrain.yml", "repository_dispatch",
                                                         "success")
    assert "retrain churn on refs/heads/main for modelbot-retrain" in run.steps[0].log
    assert hub.checked_webhooks >= 2  # and the strict hub found both payloads within GitHub's schema
