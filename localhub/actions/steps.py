"""The steps of one job, executed as the Actions runner executes them: `if:`, the step's environment (the
job's, GITHUB_ENV and GITHUB_PATH additions of earlier steps, the step's own `env:`), `run:` scripts in their
`shell:` (GitHub's command lines, the script in a file under RUNNER_TEMP), `uses:` actions, step outputs and
the job summary. The same executor runs a composite action's steps, in that action's own scope.

`uses:` performed: `actions/checkout` (`checkout.py`), `actions/setup-python` (`setup_python.py`),
`actions/upload-artifact` and `actions/download-artifact` (`artifacts.py`) and local composite actions `./path`
(`composite.py`). Any other action fails the step loudly, never skipped.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localhub.actions import composite, processes, setup_python
from localhub.actions.job import Job, Scope, StepRun
from localhub.actions.outputs import read_outputs
from localhub.actions.workflows import WorkflowError
from localhub.expressions import ExpressionError, condition, substitute

if TYPE_CHECKING:
    pass

# GitHub's command lines per `shell:` on Linux; a step without one gets `bash -e {0}` (no pipefail).
# https://docs.github.com/actions/reference/workflow-syntax-for-github-actions#jobsjob_idstepsshell
SHELLS = {
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
    "sh": ["sh", "-e", "{0}"],
    "python": ["python", "{0}"],
}
DEFAULT_SHELL = ["bash", "-e", "{0}"]
SUFFIX = {"python": ".py"}
MAX_DEPTH = 10  # composite actions nested deeper than this fail, as on GitHub


def run_steps(job: Job, scope: Scope, steps: list[Any]) -> list[StepRun]:
    """Run `steps` in order; a failure (without continue-on-error) sets the scope's status to failure, so
    later steps run only if their `if:` asks for it (failure(), always())."""
    runs = []
    for index, item in enumerate(steps):
        step = item if isinstance(item, dict) else {}
        result = _step(job, scope, step, index)
        runs.append(result)
        if step.get("id"):
            scope.contexts["steps"][step["id"]] = {
                "outputs": result.outputs,
                "outcome": result.conclusion,
                "conclusion": result.conclusion,
            }
        if result.conclusion == "failure" and not step.get("continue-on-error"):
            scope.contexts["job"]["status"] = "failure"
    return runs


def _name(step: dict[str, Any], index: int) -> str:
    return str(
        step.get("name")
        or (f"Run {step['uses']}" if "uses" in step else "")
        or f"Run {str(step.get('run', '')).strip().splitlines()[0][:60] if step.get('run') else index}"
    )


def _step(job: Job, scope: Scope, step: dict[str, Any], index: int) -> StepRun:
    name = _name(step, index)
    contexts = scope.contexts
    contexts["env"] = {**job.env, **scope.env}
    try:
        if not condition(step.get("if"), contexts):
            return StepRun(name, "skipped")
        declared = {str(k): substitute(str(v), contexts) for k, v in (step.get("env") or {}).items()}
    except ExpressionError as exc:
        return StepRun(name, "failure", None, str(exc))
    contexts["env"] = {**contexts["env"], **declared}
    files = job.step_files()
    env = {**job.base_env(), **scope.env, **{k: str(v) for k, v in files.items()}, **declared}
    try:
        if "uses" in step:
            result = _uses(job, scope, step, name, env, {**scope.env, **declared})
        else:
            result = _run(job, scope, step, name, env)
    except (ExpressionError, WorkflowError) as exc:
        result = StepRun(name, "failure", None, str(exc), env=env)
    _hand_over(job, files)
    return result


def _hand_over(job: Job, files: Mapping[str, Path]) -> None:
    """What a step leaves to the later ones: GITHUB_ENV variables, GITHUB_PATH entries, summary Markdown."""
    job.env.update(read_outputs(files["GITHUB_ENV"].read_text()))
    for line in files["GITHUB_PATH"].read_text().splitlines():
        if line.strip():
            job.paths.insert(0, line.strip())
    job.summary.append(files["GITHUB_STEP_SUMMARY"].read_text())


def shell_command(shell: str | None, script: Path) -> list[str]:
    """The command line for a `shell:` value: a known name, or a custom template holding `{0}`."""
    if shell is None:
        template = DEFAULT_SHELL
    elif shell in SHELLS:
        template = SHELLS[shell]
    elif "{0}" in shell:
        template = shlex.split(shell)
    else:
        raise WorkflowError(f"shell: {shell}: localhub runs bash, sh, python or a command with {{0}}")
    return [str(script) if part == "{0}" else part for part in template]


def _run(job: Job, scope: Scope, step: dict[str, Any], name: str, env: dict[str, str]) -> StepRun:
    contexts = scope.contexts
    script = substitute(str(step.get("run", "")), contexts)
    run_defaults = {} if scope.composite else job.defaults
    shell = step.get("shell") or run_defaults.get("shell")
    path = job.script_file(SUFFIX.get(str(shell), ".sh"))
    path.write_text(script, encoding="utf-8")
    command = shell_command(str(shell) if shell else None, path)
    directory = step.get("working-directory") or run_defaults.get("working-directory") or "."
    cwd = job.workspace / substitute(str(directory), contexts)
    minutes = step.get("timeout-minutes")
    output = job.output_file()
    try:
        with output.open("wb") as out:
            # a session of its own: its process group holds everything the step starts (processes.py)
            proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
    except OSError as exc:
        return StepRun(name, "failure", None, f"cannot start {command[0]}: {exc.strerror}", script=script, env=env)
    job.groups.append(proc.pid)
    try:
        code = proc.wait(float(minutes) * 60 if minutes else job.timeout)
    except subprocess.TimeoutExpired:
        processes.end([proc.pid])  # the shell and all it started, not the shell alone
        proc.wait()
        return StepRun(
            name, "failure", None, f"timed out after {minutes or job.timeout / 60} minutes", script=script, env=env
        )
    outputs = read_outputs(Path(env["GITHUB_OUTPUT"]).read_text())
    log = output.read_text(encoding="utf-8", errors="replace")
    return StepRun(name, "success" if code == 0 else "failure", code, job.mask(log), outputs, script, env)


def _uses(
    job: Job, scope: Scope, step: dict[str, Any], name: str, env: dict[str, str], declared: dict[str, str]
) -> StepRun:
    uses = str(step["uses"]).strip()
    options = {str(k): substitute(str(v), scope.contexts) for k, v in (step.get("with") or {}).items()}
    if uses == "." or uses.startswith("./"):
        if scope.depth >= MAX_DEPTH:
            return StepRun(name, "failure", None, f"uses: {uses}: composite actions nest deeper than {MAX_DEPTH}")
        return composite.run_local(job, scope, uses, options, declared, name, run_steps)
    action, _, ref = uses.partition("@")
    if uses.startswith("docker://") or not ref:
        return StepRun(name, "failure", None, f"uses: {uses}: localhub runs `owner/repo@ref` and `./path` actions only")
    if action.lower() == "actions/checkout":
        from localhub.actions.checkout import checkout

        given = {"token": str(scope.contexts["github"].get("token") or ""), **options}
        done = checkout(job.hub, given, env, job.workspace, job.sha, job.ref)
        return StepRun(name, done.conclusion, done.exit_code, job.mask(done.log), env=env)
    if action.lower() == "actions/setup-python":
        return setup_python.setup(job, options, name)
    if action.lower() in ("actions/upload-artifact", "actions/download-artifact"):
        from localhub.actions import artifacts

        act = artifacts.upload if action.lower() == "actions/upload-artifact" else artifacts.download
        conclusion, log = act(job.root.parent, job.workspace, options)
        if act is artifacts.upload and conclusion == "success" and not log.startswith("No files"):
            branch = job.ref.removeprefix("refs/heads/") if job.ref.startswith("refs/heads/") else None
            run_id = int(env.get("GITHUB_RUN_ID") or 0)
            artifacts.record(job.hub, job.root.parent, run_id, job.sha, branch, options)
        return StepRun(name, conclusion, 0 if conclusion == "success" else 1, job.mask(log), env=env)
    return StepRun(
        name,
        "failure",
        None,
        f"uses: {uses} is not supported by localhub (it performs "
        "actions/checkout, actions/setup-python, actions/upload-artifact, actions/download-artifact "
        "and local composite actions `uses: ./path`); replace it with run: steps",
    )
