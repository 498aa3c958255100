"""Crash consistency of the pull request workflow (issue 20): dana-ds opens a pull request promoting
diabetes-progression 1 to production by editing models.yaml herself, and the `pull_request` event runs the
workflow's two jobs: `evaluate` (loads the models, records the validation in MLflow, hands its evaluation over as
an artifact; its token only reads) and `publish` (posts the report, the card in the body, the modelbot/validation
and modelbot/approvals checks and the approvals comment; loads no model). Either job killed right after each of
its requests, then re-run as GitHub's "Re-run job" does (a re-run publish job takes the artifact the evaluate job
handed over), and the story going on (the ML lead's and risk's approvals, each review a run; the merge under
branch protection), ends where the uninterrupted story ends: the pull request (and its body), the bot's comments,
check runs, statuses, labels, branches, and the validation records in MLflow.

The head commit is made at a fixed time in a seed repository shared by the module, so every story's pull request
has the same head; the publish family then re-uses the baseline's evaluation (what its evaluate job handed over)
and loads no model: each of its kill points costs a hub and two publish jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.github.client import GitHubForge
from bot.github.config import GitHubConfig
from localhub.hub import ACTIONS_BOT
from tests.flows.conftest import WEDNESDAY, next_run
from tests.flows.test_crash_advance import hub_of
from tests.flows.test_crash_consistency import assert_same, end_state, review_run
from tests.flows.test_crash_deploy import mlflow_state
from tests.support.baselines import baseline
from tests.support.crash_states import commit_names, normalized, pull_bodies
from tests.support.gitrepo import example_repo
from tests.support.handler_runs import pull_request_job
from tests.support.jobs import run_job

MODEL = "diabetes-progression"
BRANCH = "dana/promote-diabetes"
TITLE = f"Promote {MODEL} 1 to production"
EVALUATE_REQUESTS = 1  # API requests of an uninterrupted evaluate job (measured by the first test)
PUBLISH_REQUESTS = 10  # and of the publish job


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example registry, and dana-ds's branch promoting diabetes-progression 1 to production (one commit
    at a fixed time: the same head in every story)."""
    from bot.registry.edit import set_stage

    repo = example_repo(tmp_path_factory.mktemp("pull-request-seed") / "repo")
    repo.git("checkout", "-q", "-b", BRANCH)
    text, _ = set_stage(repo.read("models.yaml"), MODEL, "production", "1")
    repo.write("models.yaml", text)
    repo.commit(TITLE, when="2026-11-24T09:00:00Z")
    repo.git("checkout", "-q", "main")
    return repo.path


def story(running: Any, tmp_path: Path, store: Any, evidence: Path | None, kill_evaluate_after: int | None = None,
          kill_publish_after: int | None = None) -> tuple[dict[str, Any], dict[str, int]]:
    """dana-ds opens the pull request; its run's evaluate job (unless `evidence` holds what one handed over
    already) and its publish job, either killed after its k-th request
    and re-run; the approvals, each review a run; the merge. Returns the end state (with MLflow's, where this
    story evaluated) and each job's requests in its first run."""
    running.hub.protect_branch("main", ["modelbot/validation", "modelbot/approvals"])
    number = running.hub.as_user("dana-ds").open_pull(BRANCH, "main", TITLE)
    [payload] = [d.payload for d in running.hub.deliveries if d.event == "pull_request"]
    requests: dict[str, int] = {}
    evaluated = evidence is None
    if evidence is None:
        evidence = tmp_path / "evidence"
        requests["evaluate"] = job(running, tmp_path, payload, "evaluate", evidence, store.env(), kill_evaluate_after)
    requests["publish"] = job(running, tmp_path, payload, "publish", evidence, {}, kill_publish_after)
    as_person = GitHubForge(GitHubConfig(running.url, "acme/models", running.hub.token_for("pat-platform")))
    for reviewer in ("lena-ml", "rita-risk"):
        running.hub.as_user(reviewer).review(number, "APPROVE")
        review_run(next_run(running, tmp_path), as_person.pull_request(number))
    running.hub.as_user("pat-platform").merge(number)
    state = {**end_state(running), "pull bodies": pull_bodies(running)}
    if evaluated:
        state["mlflow"] = validations(store.tracking_uri)
    return normalized(state, commit_names(running)), requests


def job(running: Any, tmp_path: Path, payload: dict[str, Any], part: str, evidence: Path, env: dict[str, str],
        kill_after: int | None) -> int:
    """One job of the run (`part`), killed after `kill_after` requests and re-run, or not: its first run's
    requests."""
    mark = running.log.mark()
    ran = run_job(running, tmp_path / f"{part}-job", pull_request_job, payload, part, str(evidence), now=WEDNESDAY,
                  env=env, kill_after=kill_after)
    requests = len([r for r in running.log.since(mark) if r.user == ACTIONS_BOT])
    outcome = "evaluated" if part == "evaluate" else "success"
    if kill_after is None:
        assert ran.outcome == outcome, ran
    else:
        assert ran.killed and requests == kill_after, (ran, requests)
        again = pull_request_job(next_run(running, tmp_path), payload, part, str(evidence), env)  # "Re-run job"
        assert again.outcome == outcome, again
    return requests


def validations(tracking_uri: str) -> dict[str, Any]:
    """What MLflow holds of the validations: the aliases and the bot's tags on the model's versions (the time
    of the validation as <time>), and the bot's runs by kind, stage and status."""
    from collections import Counter

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])
            if any(k.startswith("modelbot.") for k in r.data.tags)]
    state = mlflow_state(tracking_uri, "0" * 40)
    tags = [(key, "<time>" if key[1].endswith(".at") else value) for key, value in state["tags"]]
    kinds = Counter((r.data.tags.get("modelbot.kind", "validation"), r.data.tags.get("modelbot.stage", ""),
                     r.info.status) for r in runs)
    return {"aliases": state["aliases"], "tags": tags, "runs": sorted(kinds.items())}


def uninterrupted(localhub_factory: Any, tmp_path: Path, seed: Path, store: Any) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        where = tmp_path / "baseline"
        state, requests = story(hub_of(localhub_factory, seed), where, store, None)
        return {"state": state, "requests": requests, "evidence": where / "evidence"}

    return baseline(__name__, tell)


@pytest.mark.slow
def test_an_uninterrupted_pull_request_run_makes_the_requests_the_kill_points_cover(
    localhub_factory, tmp_path, seed, diabetes_v1
):
    store, _ = diabetes_v1
    found = uninterrupted(localhub_factory, tmp_path, seed, store)
    assert found["requests"] == {"evaluate": EVALUATE_REQUESTS, "publish": PUBLISH_REQUESTS}
    state = found["state"]
    assert [i[1:] for i in state["issues"]] == [("pull", TITLE, "closed", (), (BRANCH, True))]
    assert [c[0][:4] for c in state["check runs"]] == [
        ("head of #1", "modelbot/approvals", "completed", "success"),
        ("head of #1", "modelbot/validation", "completed", "success")]
    assert [k[2] for k, n in state["bot comments"] if n == 1] == [
        "<!-- modelbot:diabetes-progression:production:approvals -->",
        "<!-- modelbot:diabetes-progression:production:report -->"]
    [(_, body)] = state["pull bodies"]
    assert "<!-- modelbot:section:diabetes-progression:production:card -->" in body, body
    assert state["mlflow"]["runs"] == [(("validation", "production", "FINISHED"), 1)]
    assert dict(state["mlflow"]["tags"])[("1", "modelbot.validation.production")] == "passed"


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, EVALUATE_REQUESTS + 1))
def test_the_evaluate_job_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_run(
    localhub_factory, tmp_path, seed, diabetes_v1, k
):
    store, _ = diabetes_v1
    expected = uninterrupted(localhub_factory, tmp_path, seed, store)["state"]
    got, _ = story(hub_of(localhub_factory, seed), tmp_path, store, None, kill_evaluate_after=k)
    assert_same(got, expected, "after the re-run of the evaluate job, the publish job and the story")


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, PUBLISH_REQUESTS + 1))
def test_the_publish_job_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_run(
    localhub_factory, tmp_path, seed, diabetes_v1, k
):
    found = uninterrupted(localhub_factory, tmp_path, seed, diabetes_v1[0])
    got, _ = story(hub_of(localhub_factory, seed), tmp_path, diabetes_v1[0], found["evidence"], kill_publish_after=k)
    expected = {key: value for key, value in found["state"].items() if key != "mlflow"}
    assert_same(got, expected, "after the re-run of the publish job and the story")
