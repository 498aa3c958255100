"""The runner's steps as GitHub runs them: local composite actions (inputs and their defaults, outputs,
github.action_path, nested `uses: ./`, no `secrets` context, `shell:` required), actions/setup-python served
by the runner's Python or refused loudly, GitHub's shells, what a step hands the next (GITHUB_ENV,
GITHUB_PATH), secrets masked in logs, and a dispatch that starts only the workflow it names."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from localhub.actions.runner import ActionsRunner, JobRun
from localhub.actions.setup_python import satisfies
from localhub.hub import ACTIONS_BOT
from tests.support.localhub import RunningHub

HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER = f"{sys.version_info.major}.{sys.version_info.minor + 1}"

GREET = """\
name: greet
inputs:
  who: {required: true}
  greeting: {default: hello}
  token: {default: "${{ github.token }}"}
outputs:
  said: {value: "${{ steps.say.outputs.said }}"}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      env:
        WHO: ${{ inputs.who }}
        GREETING: ${{ inputs.greeting }}
        TOKEN: ${{ inputs.token }}
      run: |
        echo "said=$GREETING $WHO" >> "$GITHUB_OUTPUT"
        echo "from $GITHUB_ACTION_PATH with $CALLER"
    - uses: ./.github/actions/inner
"""
INNER = """\
runs:
  using: composite
  steps:
    - shell: bash
      run: |
        mkdir -p "$RUNNER_TEMP/tools" && printf '#!/bin/sh\\necho tool ran\\n' > "$RUNNER_TEMP/tools/mytool"
        chmod +x "$RUNNER_TEMP/tools/mytool"
        echo "$RUNNER_TEMP/tools" >> "$GITHUB_PATH"
        echo "INNER_SAYS=inner was here" >> "$GITHUB_ENV"
"""
WORKFLOW = """\
on: [push]
jobs:
  j:
    steps:
      - uses: actions/checkout@v4
      - id: greet
        uses: ./.github/actions/greet
        env:
          CALLER: the workflow
        with:
          who: ${{ github.actor }}
          colour: blue
      - name: after
        run: |
          echo "output: ${{ steps.greet.outputs.said }}; env: $INNER_SAYS"
          mytool
"""


def _run(localhub_factory: Callable[..., RunningHub], tmp_path: Path, files: dict[str, str],
         python: Path | None = None) -> tuple[RunningHub, JobRun]:
    hub = localhub_factory(files=files)
    runner = ActionsRunner(hub.server, tmp_path / "runs", python=python)
    hub.hub.as_user("bob").push("main", {"trigger.txt": "x\n"}, "trigger")
    (run,) = runner.run_pending()
    return hub, run


def test_a_local_composite_action_runs_as_on_github(localhub_factory: Callable[..., RunningHub],
                                                    tmp_path: Path) -> None:
    hub, run = _run(localhub_factory, tmp_path, {".github/workflows/w.yml": WORKFLOW,
                                                 ".github/actions/greet/action.yml": GREET,
                                                 ".github/actions/inner/action.yml": INNER})
    assert run.conclusion == "success", run.log()
    greet = run.steps[1]
    assert greet.outputs == {"said": "hello bob"}
    assert "Unexpected input(s) 'colour', valid inputs are ['greeting', 'token', 'who']" in greet.log
    say, inner = greet.steps
    workspace = Path(say.env["GITHUB_WORKSPACE"])
    assert say.log.strip() == f"from {(workspace / '.github/actions/greet').resolve()} with the workflow"
    assert hub.hub.state.tokens[say.env["TOKEN"]] == ACTIONS_BOT  # the default `${{ github.token }}`
    assert "GITHUB_TOKEN" not in say.env
    assert [s.name for s in inner.steps] == [inner.steps[0].name] and inner.steps[0].conclusion == "success"
    assert run.steps[2].log == "output: hello bob; env: inner was here\ntool ran\n"
    assert run.steps[2].script is not None and "hello bob" in run.steps[2].script  # `${{ }}` in run: expanded


@pytest.mark.parametrize(("files", "message"), [
    ({".github/workflows/w.yml": "on: [push]\njobs:\n  j:\n    steps:\n      - uses: ./.github/actions/greet\n"
                                 "      - run: echo never\n"},
     "Did you forget to run actions/checkout before running your local action?"),
    ({".github/actions/a/action.yml": "runs:\n  using: composite\n  steps:\n    - run: echo hi\n"},
     "runs.steps[0]: a composite action's `run:` step needs `shell:`"),
    ({".github/actions/a/action.yml": "runs:\n  using: composite\n  steps:\n    - shell: bash\n"
                                      "      run: echo ${{ secrets.GITHUB_TOKEN }}\n"},
     "unknown context 'secrets'"),
    ({".github/actions/a/action.yml": "runs:\n  using: node20\n  main: index.js\n"},
     "runs.using 'node20': localhub runs composite actions only"),
])
def test_what_github_refuses_in_a_local_action_fails_loudly(localhub_factory: Callable[..., RunningHub],
                                                           tmp_path: Path, files: dict[str, str],
                                                           message: str) -> None:
    workflow = ("on: [push]\njobs:\n  j:\n    steps:\n      - uses: actions/checkout@v4\n"
                "      - uses: ./.github/actions/a\n      - run: echo never\n")
    _, run = _run(localhub_factory, tmp_path, {".github/workflows/w.yml": workflow, **files})
    assert run.conclusion == "failure"
    assert message in run.log()
    assert run.steps[-1].conclusion == "skipped"


SETUP = """\
on: [push]
jobs:
  j:
    steps:
      - id: py
        uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065
        with:
          python-version: "{version}"
      - run: echo "$(command -v python) $pythonLocation ${{{{ steps.py.outputs.python-version }}}}"
"""


def test_setup_python_serves_the_runners_python(localhub_factory: Callable[..., RunningHub], tmp_path: Path) -> None:
    python = Path(sys.executable)
    _, run = _run(localhub_factory, tmp_path, {".github/workflows/w.yml": SETUP.format(version=HERE)}, python)
    assert run.conclusion == "success", run.log()
    assert run.steps[0].log == f"setup-python: using the runner's Python {HERE} at {python} (tool cache)"
    version = sys.version.split()[0]
    assert run.steps[0].outputs == {"python-version": version, "python-path": str(python)}
    found, location, said = run.steps[1].log.split()
    assert (Path(found).parent, location, said) == (python.parent, sys.prefix, version)


def test_setup_python_refuses_a_python_the_runner_does_not_have(localhub_factory: Callable[..., RunningHub],
                                                                tmp_path: Path) -> None:
    _, run = _run(localhub_factory, tmp_path, {".github/workflows/w.yml": SETUP.format(version=OTHER)})
    assert run.conclusion == "failure" and run.steps[1].conclusion == "skipped"
    assert run.steps[0].log.startswith(f"setup-python: Python {OTHER} was requested, but this runner has only "
                                       f"Python {sys.version.split()[0]}")


@pytest.mark.parametrize(("spec", "answer"), [
    ("3.11", True), ("3.11.x", True), ("3.11.7", True), ("3", True), ("3.x", True),
    ("3.12", False), ("3.11.8", False), ("2.7", False), (">=3.9", None), ("pypy3.10", None),
])
def test_python_version_specs_read_as_setup_python_reads_them(spec: str, answer: bool | None) -> None:
    assert satisfies(spec, "3.11.7") is answer


SHELLS = """\
on: [push]
jobs:
  j:
    steps:
      - name: default shell (bash -e, no pipefail)
        run: false | true
      - name: python
        shell: python
        run: import sys; print(sys.executable)
      - name: bash (pipefail)
        shell: bash
        run: false | true
"""


def test_steps_run_in_githubs_shells(localhub_factory: Callable[..., RunningHub], tmp_path: Path) -> None:
    _, run = _run(localhub_factory, tmp_path, {".github/workflows/w.yml": SHELLS})
    assert [(s.name, s.conclusion) for s in run.steps] == [
        ("default shell (bash -e, no pipefail)", "success"), ("python", "success"), ("bash (pipefail)", "failure")]
    assert Path(run.steps[1].log.strip()).parent == Path(sys.executable).parent  # the runner's, first on PATH


SECRETS = """\
on: [push]
jobs:
  j:
    steps:
      - env:
          KEY: ${{ secrets.API_KEY }}
          MISSING: ${{ secrets.NOT_SET }}
        run: echo "key=$KEY missing=[$MISSING]"
      - run: echo "key=${KEY:-unset} token=${GITHUB_TOKEN:-unset}"
"""


def test_secrets_reach_only_the_steps_that_ask_and_are_masked(localhub_factory: Callable[..., RunningHub],
                                                              tmp_path: Path) -> None:
    hub = localhub_factory(files={".github/workflows/w.yml": SECRETS})
    hub.hub.secrets["API_KEY"] = "s3cr3t-value"
    runner = ActionsRunner(hub.server, tmp_path / "runs")
    hub.hub.as_user("bob").push("main", {"trigger.txt": "x\n"}, "trigger")
    (run,) = runner.run_pending()
    assert [s.log for s in run.steps] == ["key=*** missing=[]\n", "key=unset token=unset\n"]
    assert run.steps[0].env["KEY"] == "s3cr3t-value"


DISPATCHED = """\
on:
  workflow_dispatch:
    inputs:
      task: {{type: choice, options: [propose, sync], default: sync}}
      dry: {{type: boolean, default: true}}
jobs:
  j:
    steps:
      - run: echo "{name} task=${{{{ inputs.task }}}} dry=${{{{ inputs.dry && 'yes' || 'no' }}}}"
"""


def test_a_dispatch_starts_only_the_workflow_it_names(localhub_factory: Callable[..., RunningHub],
                                                      tmp_path: Path) -> None:
    hub = localhub_factory(files={".github/workflows/a.yml": DISPATCHED.format(name="a"),
                                  ".github/workflows/b.yml": DISPATCHED.format(name="b")})
    hub.hub.add_user("pat", role="admin")
    runner = ActionsRunner(hub.server, tmp_path / "runs")
    status, _, _ = hub.request("POST", "/repos/acme/models/actions/workflows/b.yml/dispatches", "pat",
                               {"ref": "main", "inputs": {"dry": "false"}})
    assert status == 204
    (run,) = runner.run_pending()
    assert run.workflow == ".github/workflows/b.yml" and run.steps[0].log == "b task=sync dry=no\n"


def test_a_dispatch_creates_a_run_listed_under_its_workflow_until_the_runner_completes_it(
        localhub_factory: Callable[..., RunningHub], tmp_path: Path) -> None:
    hub = localhub_factory(files={".github/workflows/a.yml": DISPATCHED.format(name="a"),
                                  ".github/workflows/b.yml": DISPATCHED.format(name="b")})
    hub.hub.add_user("pat", role="admin")
    runner = ActionsRunner(hub.server, tmp_path / "runs")
    tip = hub.hub.git.resolve_commit("refs/heads/main")
    status, _, details = hub.request("POST", "/repos/acme/models/actions/workflows/b.yml/dispatches", "pat",
                                     {"ref": "main", "return_run_details": True})
    assert status == 200 and details["html_url"].endswith(f"/actions/runs/{details['workflow_run_id']}")
    assert hub.request("POST", "/repos/acme/models/actions/workflows/a.yml/dispatches", "pat",
                       {"ref": "main"})[0] == 204
    runs = "/repos/acme/models/actions/workflows/b.yml/runs"
    _, _, listed = hub.request("GET", f"{runs}?event=workflow_dispatch&head_sha={tip}", "pat")
    assert listed["total_count"] == 1
    [run] = listed["workflow_runs"]
    assert (run["id"], run["path"], run["head_sha"], run["head_branch"], run["status"], run["conclusion"]) == (
        details["workflow_run_id"], ".github/workflows/b.yml", tip, "main", "queued", None)
    assert hub.request("GET", f"{runs}?event=push", "pat")[2]["total_count"] == 0
    assert hub.request("GET", f"{runs}?head_sha={'0' * 40}", "pat")[2]["total_count"] == 0
    runner.run_pending()
    _, _, listed = hub.request("GET", f"{runs}?status=success", "pat")
    assert [(r["status"], r["conclusion"]) for r in listed["workflow_runs"]] == [("completed", "success")]
