"""Local composite actions (`uses: ./` or `uses: ./path`), run as GitHub runs them.

The action is read from the job's workspace (so it exists only after actions/checkout). Its `inputs` context
holds the `with:` values, else the inputs' defaults (expressions such as `${{ github.token }}` evaluated
in the action's own contexts); `github.action_path` and GITHUB_ACTION_PATH name its directory. Its steps
run in their own scope: their own `steps` context, no `secrets` context (GitHub gives composite actions
none: secrets reach them only as inputs), the `env:` of the calling step, and a required `shell:` on every
`run:` step. A `uses: ./path` inside it is resolved from the workspace too, as on GitHub. The action's
`outputs:` are evaluated from its steps' outputs once they have run.
https://docs.github.com/actions/sharing-automations/creating-actions/metadata-syntax-for-github-actions
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from localhub.actions.job import Job, Scope, StepRun
from localhub.actions.workflows import WorkflowError
from localhub.expressions import substitute

if TYPE_CHECKING:
    RunSteps = Callable[[Job, Scope, list[Any]], list[StepRun]]

ACTION_FILES = ("action.yml", "action.yaml")
COMPOSITE_CONTEXTS = ("github", "vars", "runner")  # taken over from the caller; `secrets` on purpose not


@dataclass(frozen=True)
class Action:
    path: Path
    file: str
    name: str
    inputs: Mapping[str, Mapping[str, Any]]
    outputs: Mapping[str, Mapping[str, Any]]
    steps: list[dict[str, Any]]


def load(workspace: Path, uses: str) -> Action:
    """The composite action at `uses` (relative to the workspace), checked as GitHub checks it."""
    directory = (workspace / uses).resolve()
    if directory != workspace.resolve() and workspace.resolve() not in directory.parents:
        raise WorkflowError(f"uses: {uses}: a local action must be inside the workspace")
    found = [directory / name for name in ACTION_FILES if (directory / name).is_file()]
    if not found:
        raise WorkflowError(
            f"uses: {uses}: can't find 'action.yml' or 'action.yaml' under '{directory}'. "
            "Did you forget to run actions/checkout before running your local action?"
        )
    file = f"{uses.rstrip('/')}/{found[0].name}"
    try:
        data = yaml.safe_load(found[0].read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{file}: not YAML ({exc})") from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, dict):
        raise WorkflowError(f"{file}: an action needs `runs:`")
    if runs.get("using") != "composite":
        raise WorkflowError(f"{file}: runs.using {runs.get('using')!r}: localhub runs composite actions only")
    steps = runs.get("steps") or []
    for index, step in enumerate(steps):
        if "run" in step and not step.get("shell"):
            raise WorkflowError(f"{file}: runs.steps[{index}]: a composite action's `run:` step needs `shell:`")
    return Action(
        directory,
        file,
        str(data.get("name") or file),
        _mapping(data.get("inputs")),
        _mapping(data.get("outputs")),
        list(steps),
    )


def _mapping(value: Any) -> dict[str, dict[str, Any]]:
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in (value or {}).items()}


def inputs(action: Action, given: Mapping[str, str], contexts: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The `inputs` context (input ids match case-insensitively, as on GitHub), and GitHub's warning for
    `with:` keys the action does not declare."""
    lowered = {k.lower(): v for k, v in given.items()}
    values = {}
    for key, spec in action.inputs.items():
        if key.lower() in lowered:
            values[key] = lowered[key.lower()]
        else:
            default = spec.get("default")
            values[key] = "" if default is None else substitute(str(default), contexts)
    declared = {k.lower() for k in action.inputs}
    unexpected = [k for k in given if k.lower() not in declared]
    warnings = (
        [
            f"Warning: Unexpected input(s) {', '.join(repr(k) for k in unexpected)}, valid inputs are "
            f"{sorted(action.inputs)}"
        ]
        if unexpected
        else []
    )
    return values, warnings


def run_local(
    job: Job, caller: Scope, uses: str, given: Mapping[str, str], env: Mapping[str, str], name: str, run_steps: RunSteps
) -> StepRun:
    """Run the composite action at `uses`: its steps (through `run_steps`, the executor that called it, so
    nested actions run as the job's own steps do), then its outputs."""
    action = load(job.workspace, uses)
    github = {**caller.contexts["github"], "action_path": str(action.path)}
    contexts: dict[str, Any] = {key: caller.contexts[key] for key in COMPOSITE_CONTEXTS if key in caller.contexts}
    contexts.update(github=github, env={**job.env, **env}, steps={}, job={"status": "success"}, inputs={})
    contexts["inputs"], warnings = inputs(action, given, contexts)
    scope = Scope(contexts, {**env, "GITHUB_ACTION_PATH": str(action.path)}, caller.depth + 1, composite=True)
    steps = run_steps(job, scope, action.steps)
    failed = scope.status == "failure"
    outputs = {k: substitute(str(spec.get("value", "")), contexts) for k, spec in action.outputs.items()}
    log = "\n".join([*warnings, f"{action.name} ({action.file}): {len(steps)} steps"])
    return StepRun(name, "failure" if failed else "success", None, log, outputs, steps=steps)
