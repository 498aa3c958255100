"""Run a repository's workflows for localhub's events, as GitHub Actions would.

For each delivery: the workflows of `.github/workflows` at the event's commit whose `on:` matches, their
jobs in `needs:` order, `if:` conditions, and `run:` steps in bash with the environment GitHub sets
(GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_SHA, GITHUB_REF, GITHUB_API_URL, GITHUB_OUTPUT, GITHUB_ENV,
GITHUB_STEP_SUMMARY, ...). `uses: actions/checkout` is performed: a real clone over HTTP at the event's ref,
with the token persisted for later pushes. Any other `uses:` fails the step loudly. As on GitHub, events
caused with the workflow's own token (github-actions[bot]) start no runs, except workflow_dispatch.

Not emulated: `permissions:` (the token can do what github-actions[bot] may), matrices, services,
containers, concurrency, reusable workflows.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.localhub.expressions import ExpressionError, condition, substitute
from bot.localhub.hub import ACTIONS_BOT, Delivery, Hub
from bot.localhub.workflows import Workflow, WorkflowError, job_order, load, triggered

if TYPE_CHECKING:
    from bot.localhub.server import LocalHubServer

_UNTRIGGERING_EXCEPTIONS = {"workflow_dispatch", "repository_dispatch"}


@dataclass
class StepRun:
    name: str
    conclusion: str  # success, failure, skipped
    exit_code: int | None = None
    log: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    workflow: str
    job: str
    event: str
    action: str | None
    sha: str
    ref: str
    conclusion: str = "success"
    steps: list[StepRun] = field(default_factory=list)
    summary: str = ""
    outputs: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return "\n".join(f"--- {s.name} ({s.conclusion})\n{s.log}" for s in self.steps)


@dataclass(frozen=True)
class Target:
    """Where an event runs: the commit whose workflows apply, GITHUB_SHA/GITHUB_REF, and what filters see."""

    sha: str
    ref: str
    branch: str | None
    changed: list[str] | None


class ActionsRunner:
    def __init__(self, server: LocalHubServer, workdir: Path, timeout: float = 600) -> None:
        self.server = server
        self.hub: Hub = server.hub
        self.workdir = workdir
        self.timeout = timeout
        self.queue: list[Delivery] = []
        self.runs: list[JobRun] = []
        self._ids = itertools.count(1)
        self.hub.listeners.append(self._enqueue)

    def _enqueue(self, delivery: Delivery) -> None:
        if delivery.sender == ACTIONS_BOT and delivery.event not in _UNTRIGGERING_EXCEPTIONS:
            return
        self.queue.append(delivery)

    def run_pending(self, max_events: int = 100) -> list[JobRun]:
        """Run workflows for queued events, including events those runs cause, oldest first."""
        done: list[JobRun] = []
        for _ in range(max_events):
            if not self.queue:
                break
            done += self.run_event(self.queue.pop(0))
        return done

    def run_event(self, delivery: Delivery) -> list[JobRun]:
        with self.hub.state.lock:
            target = self._target(delivery)
            workflows = self._workflows(target.sha) if target else []
        if target is None:
            return []
        action = delivery.payload.get("action")
        runs = []
        for workflow in workflows:
            if triggered(workflow, delivery.event, action, target.branch, target.changed):
                runs += self._run_workflow(workflow, delivery, target)
        self.runs += runs
        return runs

    # --- where an event runs ---------------------------------------------------------------------------------
    def _target(self, delivery: Delivery) -> Target | None:
        hub, payload, event = self.hub, delivery.payload, delivery.event
        default = hub.state.repo.default_branch
        tip = hub.git.resolve_commit(f"refs/heads/{default}") or ""
        if event == "push":
            after = payload["after"]
            if set(after) == {"0"}:
                return None
            before = payload["before"]
            changed = (hub.git.git("diff", "--name-only", before, after).split()
                       if set(before) != {"0"} else None)
            return Target(after, payload["ref"], payload["ref"].removeprefix("refs/heads/"), changed)
        if event in ("pull_request", "pull_request_review", "pull_request_target"):
            return self._pull_target(payload["pull_request"]["number"], event == "pull_request_target")
        if event == "workflow_dispatch":
            ref = payload["ref"]
            return Target(hub.git.resolve_commit(ref) or tip, ref, ref.removeprefix("refs/heads/"), None)
        if event in ("deployment", "deployment_status"):
            deployment = payload["deployment"]
            ref = deployment["ref"]
            return Target(deployment["sha"], ref if ref.startswith("refs/") else f"refs/heads/{ref}", ref, None)
        return Target(tip, f"refs/heads/{default}", default, None)

    def _pull_target(self, number: int, base_context: bool) -> Target | None:
        """GitHub runs pull_request workflows on the PR's merge commit (`refs/pull/N/merge`); without one
        (a conflict) it runs nothing."""
        hub = self.hub
        issue = hub.state.issues[number]
        pr = issue.pull
        assert pr is not None
        base = hub.git.merge_base(pr.base_sha, pr.head_sha) or pr.base_sha
        changed = [c.path for c in hub.git.changes(base, pr.head_sha)]
        if base_context:
            return Target(pr.base_sha, f"refs/heads/{pr.base_ref}", pr.base_ref, changed)
        hub.git.update_ref(f"refs/pull/{number}/head", pr.head_sha)
        if pr.merged and pr.merge_commit_sha:
            return Target(pr.merge_commit_sha, f"refs/pull/{number}/merge", pr.base_ref, changed)
        merged = hub.git.merge_tree(pr.base_sha, pr.head_sha)
        if merged.tree is None:
            return None
        from bot.localhub.ops.commits import signature

        sig = signature(hub, ACTIONS_BOT)
        sha = hub.git.commit_tree(merged.tree, [pr.base_sha, pr.head_sha],
                                  f"Merge {pr.head_sha} into {pr.base_sha}", sig, sig)
        hub.git.update_ref(f"refs/pull/{number}/merge", sha)
        return Target(sha, f"refs/pull/{number}/merge", pr.base_ref, changed)

    def _workflows(self, sha: str) -> list[Workflow]:
        git = self.hub.git
        if git.file_at(sha, ".github/workflows") is None:
            return []
        found = []
        for entry in git.list_dir(sha, ".github/workflows"):
            if entry.type == "blob" and entry.path.endswith((".yml", ".yaml")):
                found.append(load(entry.path, git.read_blob(entry.sha).decode("utf-8")))
        return found

    # --- running ------------------------------------------------------------------------------------------------
    def _run_workflow(self, workflow: Workflow, delivery: Delivery, target: Target) -> list[JobRun]:
        run_id = next(self._ids)
        root = self.workdir / f"run-{run_id}"
        root.mkdir(parents=True, exist_ok=True)
        event_path = root / "event.json"
        event_path.write_text(json.dumps(delivery.payload), encoding="utf-8")
        results: dict[str, JobRun] = {}
        for job_name in job_order(workflow.jobs):
            spec = workflow.jobs[job_name] or {}
            job = JobRun(workflow.path, job_name, delivery.event, delivery.payload.get("action"), target.sha,
                         target.ref)
            needs = [spec["needs"]] if isinstance(spec.get("needs"), str) else list(spec.get("needs") or [])
            context = self._contexts(delivery, target, workflow, run_id, results, needs)
            try:
                if _skipped(spec, [results[n] for n in needs], context):
                    job.conclusion = "skipped"
                else:
                    env = self._github_env(context, root / job_name, event_path, job_name)
                    self._run_job(job, spec, workflow, context, env, target)
            except (ExpressionError, WorkflowError) as exc:
                job.conclusion = "failure"
                job.steps.append(StepRun("(set up job)", "failure", None, str(exc)))
            results[job_name] = job
        return list(results.values())

    def _contexts(self, delivery: Delivery, target: Target, workflow: Workflow, run_id: int,
                  results: dict[str, JobRun], needs: list[str]) -> dict[str, Any]:
        github = {
            "event_name": delivery.event, "event": delivery.payload, "sha": target.sha, "ref": target.ref,
            "ref_name": target.ref.rsplit("/", 1)[-1] if target.ref.startswith("refs/pull/") else
            target.ref.removeprefix("refs/heads/"),
            "repository": self.hub.state.repo.full_name, "repository_owner": self.hub.state.repo.owner,
            "actor": delivery.sender, "triggering_actor": delivery.sender, "run_id": str(run_id),
            "run_number": str(run_id), "run_attempt": "1", "workflow": workflow.name,
            "api_url": self.hub.base_url, "server_url": self.hub.base_url,
            "graphql_url": f"{self.hub.base_url}/graphql",
        }
        pull = delivery.payload.get("pull_request")
        if isinstance(pull, dict):
            github["head_ref"], github["base_ref"] = pull["head"]["ref"], pull["base"]["ref"]
        return {
            "github": github, "env": {}, "vars": {}, "steps": {}, "job": {"status": "success"},
            "runner": {"os": "Linux", "arch": "X64", "temp": str(self.workdir)},
            "secrets": {"GITHUB_TOKEN": self.hub.token_for(ACTIONS_BOT)},
            "inputs": delivery.payload.get("inputs") or {},
            "needs": {n: {"result": results[n].conclusion, "outputs": results[n].outputs} for n in needs},
        }

    def _run_job(self, job: JobRun, spec: dict[str, Any], workflow: Workflow, context: dict[str, Any],
                 env: dict[str, str], target: Target) -> None:
        workspace = Path(env["GITHUB_WORKSPACE"])
        root = workspace.parent
        for scope in (workflow.env, spec.get("env") or {}):
            env.update({k: substitute(str(v), {**context, "env": env}) for k, v in scope.items()})
        summary = []
        for index, step in enumerate(spec.get("steps") or []):
            name = str(step.get("name") or step.get("uses") or step.get("run", "").split("\n")[0][:40] or index)
            context["env"] = env
            if not condition(step.get("if"), context):
                job.steps.append(StepRun(name, "skipped"))
                continue
            files = {key: root / f"{key.lower()}-{index}" for key in ("GITHUB_OUTPUT", "GITHUB_ENV",
                                                                        "GITHUB_STEP_SUMMARY", "GITHUB_PATH")}
            for path in files.values():
                path.write_text("")
            step_env = {**env, **{k: str(v) for k, v in files.items()}}
            step_env.update({k: substitute(str(v), context) for k, v in (step.get("env") or {}).items()})
            result = self._step(name, step, step_env, workspace, context, target)
            job.steps.append(result)
            summary.append(files["GITHUB_STEP_SUMMARY"].read_text())
            env.update(_read_env(files["GITHUB_ENV"].read_text()))
            if step.get("id"):
                context["steps"][step["id"]] = {"outputs": result.outputs, "outcome": result.conclusion,
                                                "conclusion": result.conclusion}
            if result.conclusion == "failure" and not step.get("continue-on-error"):
                job.conclusion = context["job"]["status"] = "failure"
        job.summary = "".join(summary)
        job.outputs = {k: substitute(str(v), context) for k, v in (spec.get("outputs") or {}).items()}

    def _github_env(self, context: dict[str, Any], root: Path, event_path: Path, job: str) -> dict[str, str]:
        """The environment GitHub gives every step of a job (its workspace and temp dirs made here)."""
        github = context["github"]
        workspace = root / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "GIT_"))}
        path = os.pathsep.join([str(Path(sys.executable).parent), inherited.get("PATH", "/usr/bin:/bin")])
        env = {**inherited, "PATH": path, "HOME": str(root / "home"), "CI": "true", "GITHUB_ACTIONS": "true",
               "GITHUB_EVENT_NAME": github["event_name"], "GITHUB_EVENT_PATH": str(event_path),
               "GITHUB_SHA": github["sha"], "GITHUB_REF": github["ref"], "GITHUB_REF_NAME": github["ref_name"],
               "GITHUB_REPOSITORY": github["repository"], "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
               "GITHUB_ACTOR": github["actor"], "GITHUB_TRIGGERING_ACTOR": github["triggering_actor"],
               "GITHUB_RUN_ID": github["run_id"], "GITHUB_RUN_NUMBER": github["run_number"],
               "GITHUB_RUN_ATTEMPT": "1", "GITHUB_WORKFLOW": github["workflow"], "GITHUB_JOB": job,
               "GITHUB_API_URL": github["api_url"], "GITHUB_SERVER_URL": github["server_url"],
               "GITHUB_GRAPHQL_URL": github["graphql_url"], "GITHUB_WORKSPACE": str(workspace),
               "RUNNER_OS": "Linux", "RUNNER_TEMP": str(root / "tmp"), "GITHUB_HEAD_REF": github.get("head_ref", ""),
               "GITHUB_BASE_REF": github.get("base_ref", "")}
        (root / "home").mkdir(exist_ok=True)
        (root / "tmp").mkdir(exist_ok=True)
        return env

    def _step(self, name: str, step: dict[str, Any], env: dict[str, str], workspace: Path,
              context: dict[str, Any], target: Target) -> StepRun:
        try:
            if "uses" in step:
                return self._uses(name, str(step["uses"]), step.get("with") or {}, env, workspace, context, target)
            script = substitute(str(step.get("run", "")), context)
        except ExpressionError as exc:
            return StepRun(name, "failure", None, str(exc))
        cwd = workspace / substitute(str(step.get("working-directory", ".")), context)
        minutes = step.get("timeout-minutes")
        try:
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                                  env=env, capture_output=True, text=True,
                                  timeout=float(minutes) * 60 if minutes else self.timeout)
        except subprocess.TimeoutExpired:
            return StepRun(name, "failure", None, f"timed out after {minutes or self.timeout / 60} minutes")
        outputs = _read_outputs(Path(env["GITHUB_OUTPUT"]).read_text())
        return StepRun(name, "success" if proc.returncode == 0 else "failure", proc.returncode,
                       proc.stdout + proc.stderr, outputs)

    def _uses(self, name: str, uses: str, with_: dict[str, Any], env: dict[str, str], workspace: Path,
              context: dict[str, Any], target: Target) -> StepRun:
        action = uses.split("@", 1)[0]
        if action != "actions/checkout":
            return StepRun(name, "failure", None, f"uses: {uses} is not supported by localhub (only "
                           "actions/checkout is performed); replace it with run: steps")
        options = {k: substitute(str(v), context) for k, v in with_.items()}
        from bot.localhub.checkout import checkout

        step = checkout(self.hub, options, env, workspace, target.sha, target.ref)
        return StepRun(name, step.conclusion, step.exit_code, step.log)


def _skipped(spec: dict[str, Any], needed: list[JobRun], context: dict[str, Any]) -> bool:
    """A job runs when the jobs it needs succeeded (unless its `if:` says always()) and its `if:` holds."""
    if any(job.conclusion != "success" for job in needed) and "always()" not in str(spec.get("if")):
        return True
    return not condition(spec.get("if"), context)


def _read_outputs(text: str) -> dict[str, str]:
    from bot.actions.runtime import read_outputs

    return read_outputs(text)


def _read_env(text: str) -> dict[str, str]:
    return _read_outputs(text)
