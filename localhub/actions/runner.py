"""Run a repository's workflows for localhub's events, as GitHub Actions would.

For each delivery: the workflows of `.github/workflows` at the event's commit whose `on:` matches (for
workflow_dispatch, only the dispatched one), their jobs in `needs:` order, `if:` conditions, and their steps
(`steps.py`) with the environment GitHub sets (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_SHA, GITHUB_REF,
GITHUB_API_URL, GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY, ...). `uses:` performs
actions/checkout (a real clone over HTTP), actions/setup-python (the runner's Python) and local composite
actions; any other action fails loudly. GITHUB_TOKEN reaches a step only where the workflow or action puts
it (`secrets.GITHUB_TOKEN`, `github.token`); other secrets come from `Hub.secrets`, and their values are
masked in logs. As on GitHub, events caused with the workflow's own token (github-actions[bot]) start no
runs, except workflow_dispatch.

The runner's Python is the interpreter it is given (`python=`, by default its own): its bin directory is
on every job's PATH, and setup-python serves it. A prepared environment (`pyenv.prepare`) where modelbot is
installed spares each run the bot's installation.

Each job gets its own GITHUB_TOKEN holding exactly the job's `permissions:` (else the workflow's, else the
repository default, taken as GitHub's restricted one: `contents: read`): see `permissions.py`. The request
log names the job that held the token of each request (`workflow#run/job`).

Not emulated: matrices, services, containers, concurrency, reusable workflows.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localhub.actions import processes
from localhub.actions.job import Job, Scope, StepRun
from localhub.actions.steps import run_steps
from localhub.actions.workflows import Workflow, WorkflowError, job_order, load, triggered
from localhub.errors import LocalhubError
from localhub.expressions import ExpressionError, condition, substitute
from localhub.hub import ACTIONS_BOT, Delivery, Hub
from localhub.rest import permissions
from localhub.rest.ops import runs as run_ops
from localhub.rest.permissions import JobGrant, PermissionsError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from localhub.rest.server import LocalHubServer

__all__ = ["ActionsRunner", "JobRun", "StepRun", "Target"]

_UNTRIGGERING_EXCEPTIONS = {"workflow_dispatch", "repository_dispatch"}


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
    delivery: int = 0  # the id of the webhook delivery that started it

    def log(self) -> str:
        return "\n".join(f"{'  ' * depth}--- {s.name} ({s.conclusion})\n{s.log}" for s, depth in self._walk())

    def _walk(self) -> Iterator[tuple[StepRun, int]]:
        def visit(step: StepRun, depth: int) -> Iterator[tuple[StepRun, int]]:
            yield step, depth
            for inner in step.steps:
                yield from visit(inner, depth + 1)

        for step in self.steps:
            yield from visit(step, 0)

    def all_steps(self) -> list[StepRun]:
        """Every step that ran or was skipped, composite actions' steps included, in order."""
        return [step for step, _ in self._walk()]


@dataclass(frozen=True)
class Target:
    """Where an event runs: the commit whose workflows apply, GITHUB_SHA/GITHUB_REF, and what filters see."""

    sha: str
    ref: str
    branch: str | None
    changed: list[str] | None


class ActionsRunner:
    def __init__(self, server: LocalHubServer, workdir: Path, timeout: float = 600, python: Path | None = None) -> None:
        self.server = server
        self.hub: Hub = server.hub
        self.workdir = workdir
        self.timeout = timeout
        self.python = python or Path(sys.executable)
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

    def run_schedule(self, workflow: str) -> list[JobRun]:
        """GitHub's scheduler firing `workflow` (its path) now, then what its runs cause. A schedule is no webhook:
        it starts runs directly, with an event payload of the cron line, the workflow and the repository."""
        from localhub.rest.render.repos import repository

        with self.hub.state.lock:
            tip = self.hub.git.resolve_commit(f"refs/heads/{self.hub.state.repo.default_branch}") or ""
            found = [w for w in self._workflows(tip) if w.path == workflow]
            payload = {"workflow": workflow, "repository": repository(self.hub)}
            delivery_id = self.hub.state.next_id()
        if not found or "schedule" not in found[0].triggers:
            raise LocalhubError(f"{workflow} has no `on: schedule` on the default branch")
        crons = found[0].triggers["schedule"]
        cron = crons[0].get("cron", "") if isinstance(crons, list) and crons and isinstance(crons[0], dict) else ""
        runs = self.run_event(Delivery(delivery_id, "schedule", {"schedule": cron, **payload}, ACTIONS_BOT))
        return runs + self.run_pending()

    def run_event(self, delivery: Delivery) -> list[JobRun]:
        with self.hub.state.lock:
            target = self._target(delivery)
            workflows = self._workflows(target.sha) if target else []
        if target is None:
            return []
        action = delivery.payload.get("action")
        runs = []
        for workflow in workflows:
            if delivery.event == "workflow_dispatch" and workflow.path != delivery.payload.get("workflow"):
                continue  # a dispatch starts the one workflow it names
            if triggered(workflow, delivery.event, action, target.branch, target.changed):
                runs += self._run_workflow(workflow, delivery, target)
        if delivery.event == "workflow_dispatch":  # the run the dispatch created is listed as done
            failed = any(run.conclusion == "failure" for run in runs)
            run_ops.finished(self.hub, delivery.id, "failure" if failed else "success")
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
            changed = hub.git.git("diff", "--name-only", before, after).split() if set(before) != {"0"} else None
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
        from localhub.rest.ops.commits import signature

        sig = signature(hub, ACTIONS_BOT)
        sha = hub.git.commit_tree(
            merged.tree, [pr.base_sha, pr.head_sha], f"Merge {pr.head_sha} into {pr.base_sha}", sig, sig
        )
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
            job = JobRun(
                workflow.path,
                job_name,
                delivery.event,
                delivery.payload.get("action"),
                target.sha,
                target.ref,
                delivery=delivery.id,
            )
            needs = [spec["needs"]] if isinstance(spec.get("needs"), str) else list(spec.get("needs") or [])
            try:
                context = self._contexts(delivery, target, workflow, run_id, results, needs, job_name, spec)
                if _skipped(spec, [results[n] for n in needs], context):
                    job.conclusion = "skipped"
                else:
                    self._run_job(job, spec, workflow, context, root / job_name, event_path, target)
            except (ExpressionError, WorkflowError, PermissionsError) as exc:
                job.conclusion = "failure"
                job.steps.append(StepRun("(set up job)", "failure", None, str(exc)))
            results[job_name] = job
        return list(results.values())

    def _contexts(
        self,
        delivery: Delivery,
        target: Target,
        workflow: Workflow,
        run_id: int,
        results: dict[str, JobRun],
        needs: list[str],
        job_name: str = "",
        spec: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # One token per job, as GitHub issues one per job, holding exactly the job's `permissions:`; a run for a
        # pull request from a fork gets read access at most, and neither secrets nor variables.
        granted = permissions.for_job(workflow.permissions, (spec or {}).get("permissions"))
        from_fork = _from_fork(self.hub, delivery)
        if from_fork:
            granted = {scope: "read" if level == "write" else level for scope, level in granted.items()}
        token = self.hub.token_for_job(JobGrant(granted, workflow.path, job_name, run_id))
        github = {
            "event_name": delivery.event,
            "event": delivery.payload,
            "sha": target.sha,
            "ref": target.ref,
            "ref_name": target.ref.rsplit("/", 1)[-1]
            if target.ref.startswith("refs/pull/")
            else target.ref.removeprefix("refs/heads/"),
            "repository": self.hub.state.repo.full_name,
            "repository_owner": self.hub.state.repo.owner,
            "actor": delivery.sender,
            "triggering_actor": delivery.sender,
            "run_id": str(run_id),
            "run_number": str(run_id),
            "run_attempt": "1",
            "workflow": workflow.name,
            "token": token,
            "api_url": self.hub.base_url,
            "server_url": self.hub.base_url,
            "graphql_url": f"{self.hub.base_url}/graphql",
            "action_path": "",
        }
        pull = delivery.payload.get("pull_request")
        if isinstance(pull, dict):
            github["head_ref"], github["base_ref"] = pull["head"]["ref"], pull["base"]["ref"]
        return {
            "github": github,
            "env": {},
            "vars": {} if from_fork else dict(self.hub.variables),
            "steps": {},
            "job": {"status": "success"},
            "runner": {"os": "Linux", "arch": "X64", "temp": str(self.workdir)},
            "secrets": {"GITHUB_TOKEN": token} if from_fork else {**self.hub.secrets, "GITHUB_TOKEN": token},
            "inputs": _dispatch_inputs(workflow, delivery),
            "needs": {n: {"result": results[n].conclusion, "outputs": results[n].outputs} for n in needs},
        }

    def _run_job(
        self,
        run: JobRun,
        spec: dict[str, Any],
        workflow: Workflow,
        context: dict[str, Any],
        root: Path,
        event_path: Path,
        target: Target,
    ) -> None:
        env = self._github_env(context, root, event_path, run.job)
        github = context["github"]
        github.update(workspace=env["GITHUB_WORKSPACE"], event_path=str(event_path), job=run.job)
        context["runner"]["temp"] = env["RUNNER_TEMP"]
        for scope in (workflow.env, spec.get("env") or {}):
            env.update({k: substitute(str(v), {**context, "env": env}) for k, v in scope.items()})
        defaults = {**(workflow.defaults.get("run") or {}), **((spec.get("defaults") or {}).get("run") or {})}
        masks = [v for v in context["secrets"].values() if v]
        job = Job(self.hub, target.sha, target.ref, root, env, self.python, self.timeout, defaults, masks=masks)
        try:
            run.steps = run_steps(job, Scope(context), list(spec.get("steps") or []))
        finally:  # also when the runner is interrupted: nothing a step started outlives its job
            job.end_processes()
        run.conclusion = context["job"]["status"]
        run.summary = "".join(job.summary)
        context["env"] = job.env
        run.outputs = {k: substitute(str(v), context) for k, v in (spec.get("outputs") or {}).items()}

    def _github_env(self, context: dict[str, Any], root: Path, event_path: Path, job: str) -> dict[str, str]:
        """The environment GitHub gives every step of a job (its workspace and temp dirs made here). PATH
        starts with the runner's Python; GITHUB_TOKEN is not in it (a step gets it only if it asks)."""
        github = context["github"]
        workspace = root / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "RUNNER_", "GIT_", "VIRTUAL_ENV", "PYTHONHOME"))
        }
        path = os.pathsep.join([str(self.python.parent), inherited.get("PATH", "/usr/bin:/bin")])
        env = {
            **inherited,
            "PATH": path,
            "HOME": str(root / "home"),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_SHA": github["sha"],
            "GITHUB_REF": github["ref"],
            "GITHUB_REF_NAME": github["ref_name"],
            "GITHUB_REPOSITORY": github["repository"],
            "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
            "GITHUB_ACTOR": github["actor"],
            "GITHUB_TRIGGERING_ACTOR": github["triggering_actor"],
            "GITHUB_RUN_ID": github["run_id"],
            "GITHUB_RUN_NUMBER": github["run_number"],
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_WORKFLOW": github["workflow"],
            "GITHUB_JOB": job,
            "GITHUB_API_URL": github["api_url"],
            "GITHUB_SERVER_URL": github["server_url"],
            "GITHUB_GRAPHQL_URL": github["graphql_url"],
            "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": str(root / "tmp"),
            "RUNNER_TRACKING_ID": processes.tracking_id(),  # marks the job's processes, as GitHub's runner does
            "GITHUB_HEAD_REF": github.get("head_ref", ""),
            "GITHUB_BASE_REF": github.get("base_ref", ""),
        }
        (root / "home").mkdir(exist_ok=True)
        (root / "tmp").mkdir(exist_ok=True)
        return env


def _skipped(spec: dict[str, Any], needed: list[JobRun], context: dict[str, Any]) -> bool:
    """A job runs when the jobs it needs succeeded (unless its `if:` says always()) and its `if:` holds."""
    if any(job.conclusion != "success" for job in needed) and "always()" not in str(spec.get("if")):
        return True
    return not condition(spec.get("if"), context)


_FORK_EVENTS = ("pull_request", "pull_request_review", "pull_request_review_comment")


def _from_fork(hub: Hub, delivery: Delivery) -> bool:
    """Whether GitHub treats the run as untrusted: an event of a pull request whose head is in a fork
    (`pull_request_target` and `issue_comment` run in the base repository's context, and are not)."""
    pull = delivery.payload.get("pull_request")
    if delivery.event not in _FORK_EVENTS or not isinstance(pull, dict):
        return False
    return bool(pull["head"]["repo"]["full_name"] != hub.state.repo.full_name)


def _dispatch_inputs(workflow: Workflow, delivery: Delivery) -> dict[str, Any]:
    """The `inputs` context of a dispatch: the given values over the declared defaults; booleans typed."""
    if delivery.event != "workflow_dispatch":
        return {}
    declared = (workflow.triggers.get("workflow_dispatch") or {}).get("inputs") or {}
    given = delivery.payload.get("inputs") or {}
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec or {}
        value = given.get(name, spec.get("default", ""))
        values[name] = str(value).lower() == "true" if spec.get("type") == "boolean" else value
    return {**given, **values}
