"""`github-deployment`: the deployment as GitHub records it, for environment `<model>/<stage>`.

It is a Recorder: it begins before the other deployers (`in_progress`, linked to the workflow run) and finishes
after them and the smoke check (`success`, or `failure` saying which deployer failed, why, and what was already
done), wherever the policy lists it. It talks to GitHub only through the Forge protocol; the deployment is
keyed by the Deployment's key, so a repeat finds it instead of creating a second one, and goes on from the
status it has: a run killed after beginning it does not begin it again, and one killed after finishing it
(before the ledger was written) adds no second `in_progress` and `success`. One that failed (its smoke check,
say) is tried again by a re-run, which records only a different ending: a second failure adds no statuses
(the first stands, and the re-run goes on to finish the failure's answer), a success adds `success`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.deploy.base import Deployment, Outcome

if TYPE_CHECKING:
    from bot.github.forge import DeploymentState, Forge

DESCRIPTION_LIMIT = 140


def _short(text: str) -> str:
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


class GitHubDeployment:
    name = "github-deployment"

    def __init__(self, forge: Forge | None, environment: str = "{model}/{stage}") -> None:
        self.forge = forge
        self.environment = environment
        self._ids: dict[str, int] = {}
        self._finished: set[str] = set()  # deployments GitHub already records as successful
        self._failed: set[str] = set()  # and as failed

    def environment_of(self, deployment: Deployment) -> str:
        return self.environment.format(model=deployment.model, stage=deployment.stage)

    def begin(self, deployment: Deployment) -> Outcome:
        if self.forge is None:
            return Outcome("skipped", "no GitHub connection (a local run): no deployment recorded on GitHub")
        environment = self.environment_of(deployment)
        what = f"{deployment.model} {deployment.stage} -> {deployment.version or 'nothing'}"
        record = self.forge.create_deployment(
            deployment.commit, environment, deployment.key, payload=deployment.as_dict(), description=_short(what)
        )
        self._ids[deployment.key] = record.id
        if record.state == "success":  # an earlier run of this deploy finished it, and was killed after that
            self._finished.add(deployment.key)
            return Outcome("unchanged", f"deployment {record.id} for {environment}: success already")
        if record.state == "failure":  # an earlier run ended it failed: this run tries again, quietly
            self._failed.add(deployment.key)
            return Outcome("unchanged", f"deployment {record.id} for {environment}: failure already")
        if record.state == "in_progress":  # an earlier run began it and was killed: this run goes on with it
            return Outcome("unchanged", f"deployment {record.id} for {environment}: in_progress already")
        self.forge.set_deployment_status(
            record.id, "in_progress", _short(f"deploying {what}"), log_url=deployment.run_url
        )
        return Outcome("done", f"deployment {record.id} for {environment}: in_progress")

    def deploy(self, deployment: Deployment) -> Outcome:
        return Outcome("unchanged", "recorded around the other deployers")

    def finish(self, deployment: Deployment, ok: bool, summary: str) -> Outcome:
        ident = self._ids.get(deployment.key)
        if self.forge is None or ident is None:
            return Outcome("skipped", "no GitHub deployment to finish")
        if ok and deployment.key in self._finished:
            return Outcome("unchanged", f"deployment {ident}: success already")
        if not ok and deployment.key in self._failed:
            return Outcome("unchanged", f"deployment {ident}: failure already")
        state: DeploymentState = "success" if ok else "failure"
        self.forge.set_deployment_status(ident, state, _short(summary), log_url=deployment.run_url)
        return Outcome("done", f"deployment {ident}: {state}")
