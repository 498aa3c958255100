"""`modelbot demo`: the whole story a team would live on GitHub, on one machine, through the same code paths:
localhub (a local GitHub), the project's real workflows run as Actions would run them, PyGithub over HTTP, a
real MLflow with a SQLite store holding real scikit-learn models, and a real `modelbot serve` gateway following
`main` that the production deploys reload and check (the seeded policy's production stage names the `gateway`
deployer).

Every step checks that it ended as the story says; the demo fails (exit 1) if one did not.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.demo.rollouts import Traffic, production_canary, staging_canary
from bot.demo.serving import DemoGateway, sigterm_as_exit
from bot.demo.train import DIABETES, TUMOR, feature_columns, train_all
from bot.errors import ModelbotError
from localhub.errors import ApiError, LocalhubError

MAINTENANCE = ".github/workflows/modelbot-maintenance.yml"
PROJECT_FILES = ("models.yaml", "policies", "data", ".github", "action.yml", "pyproject.toml", "README.md")
PEOPLE = {  # login: (permission, what they do in the story)
    "dana-ds": ("write", "data scientist, owner of the models"),
    "theo-ds": ("write", "data scientist in the team that owns the models"),
    "lena-ml": ("write", "ML lead"),
    "rita-risk": ("write", "risk reviewer"),
    "omar-oncall": ("write", "on call"),
    "pat-platform": ("admin", "platform engineer, merges"),
    "wes-writer": ("write", "a developer in no policy role"),
}
TEAMS = {"ml-leads": ["lena-ml"], "oncall": ["omar-oncall"], "diagnostics": ["dana-ds", "theo-ds"]}
Progress = Callable[[str], None]


class StoryBroken(ModelbotError):
    """A step did not end as the story says."""


class _Stop(Exception):
    """The story cannot go on after a broken step."""


@dataclass
class StepRecord:
    name: str
    outcome: str = "ok"
    detail: str = ""
    seconds: float = 0.0
    api_requests: int = 0


@dataclass
class DemoResult:
    workdir: Path
    steps: list[StepRecord] = field(default_factory=list)
    repository: str = ""
    reports: str = ""
    seconds: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)  # measured: merge_to_full_traffic_s, failure_to_restore_s

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.outcome == "ok" for s in self.steps)

    @property
    def api_requests(self) -> int:
        return sum(s.api_requests for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "steps": [asdict(s) for s in self.steps],
            "api_requests": self.api_requests,
            "seconds": round(self.seconds, 2),
            "workdir": str(self.workdir),
            "repository": self.repository,
            "reports": self.reports,
            **self.figures,
        }


def project_root() -> Path:
    """The project's own example registry, policies and workflows are the demo's seed."""
    import bot

    root = Path(bot.__file__).resolve().parents[1]
    missing = [name for name in PROJECT_FILES if not (root / name).exists()]
    if missing:
        raise ModelbotError(
            f"the demo seeds its repository from the project's source tree, and {root} lacks "
            f"{', '.join(missing)}; install modelbot from a clone (pip install -e .)"
        )
    return root


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StoryBroken(message)


def _advance_line(summary: str) -> str:
    """The rollout's verdict in a maintenance run's summary: its `advance` line and the gate that decided it, the
    first that did not pass (else the first): the summary also holds the sync, sweep and monitoring."""
    lines = [line.strip() for line in summary.splitlines() if line.strip()]
    at = next((i for i, line in enumerate(lines) if line.startswith("advance")), None)
    if at is None:
        return lines[-1] if lines else "nothing said"
    gates = list(itertools.takewhile(lambda line: line.startswith("- "), lines[at + 1 :]))
    deciding = next((g for g in gates if ": pass" not in g), gates[0] if gates else "")
    return f"{lines[at]} {deciding}".strip()


def _succeeded(runs: list[Any]) -> list[Any]:
    for run in runs:
        if run.conclusion not in ("success", "skipped"):
            raise StoryBroken(f"workflow {run.workflow} job {run.job} ended {run.conclusion}:\n{run.log()[-3000:]}")
    return runs


class Story:
    def __init__(self, workdir: Path, progress: Progress) -> None:
        self.workdir = workdir
        self.progress = progress
        self.result = DemoResult(workdir)
        self.hub: Any = None
        self.server: Any = None
        self.runner: Any = None
        self.tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
        self.tracker: Any = None
        self.gateway = DemoGateway(workdir)
        self._models: dict[str, Any] = {}
        self.merged_at = 0.0

    # --- plumbing ------------------------------------------------------------------------------------------
    @contextmanager
    def step(self, name: str) -> Iterator[StepRecord]:
        record = StepRecord(name)
        self.progress(f"▶ {name}")
        mark = self.server.log.mark() if self.server else 0
        start = time.perf_counter()
        try:
            yield record
        except (StoryBroken, ModelbotError, LocalhubError, AssertionError, OSError, ApiError) as exc:
            record.outcome, record.detail = "failed", str(exc) or type(exc).__name__
        finally:
            record.seconds = round(time.perf_counter() - start, 2)
            record.api_requests = len(self.server.log.since(mark)) if self.server else 0
            self.result.steps.append(record)
            sign = "✔" if record.outcome == "ok" else "✘"
            self.progress(f"  {sign} {record.detail} ({record.seconds:.1f} s, {record.api_requests} API requests)")
        if record.outcome != "ok":
            raise _Stop(name)

    def act(self) -> list[Any]:
        """Let Actions run the workflows that what people just did triggers (and what those runs cause)."""
        return _succeeded(self.runner.run_pending())

    def as_user(self, login: str) -> Any:
        return self.hub.as_user(login)

    def api(self, path: str) -> Any:
        import json
        import urllib.request

        request = urllib.request.Request(
            f"{self.server.url}{path}",
            headers={
                "Authorization": f"Bearer {self.hub.token_for('pat-platform')}",
                "Accept": "application/vnd.github+json",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def pulls(self) -> list[dict[str, Any]]:
        pulls: list[dict[str, Any]] = self.api("/repos/acme/models/pulls?state=all&per_page=100")
        return pulls

    def pull_titled(self, title: str) -> dict[str, Any]:
        found = [p for p in self.pulls() if p["title"] == title]
        check(bool(found), f"no pull request titled {title!r}")
        return found[0]

    def approvals(self, sha: str) -> tuple[str, str]:
        """The `modelbot/approvals` check run: its conclusion (`pending` while in progress) and its title."""
        runs = self.api(f"/repos/acme/models/commits/{sha}/check-runs")["check_runs"]
        found = [r for r in runs if r["name"] == "modelbot/approvals"]
        if not found:
            return ("missing", "")
        return (found[-1]["conclusion"] or "pending", found[-1]["output"]["title"] or "")

    def check_conclusion(self, sha: str) -> str | None:
        runs = self.api(f"/repos/acme/models/commits/{sha}/check-runs")["check_runs"]
        found = [r["conclusion"] for r in runs if r["name"] == "modelbot/validation"]
        return found[-1] if found else None

    def check_summary(self, sha: str) -> str:
        runs = self.api(f"/repos/acme/models/commits/{sha}/check-runs")["check_runs"]
        found = [r["output"]["summary"] or "" for r in runs if r["name"] == "modelbot/validation"]
        return found[-1] if found else ""

    def alias(self, model: str, alias: str) -> str:
        return str(self.tracker.get_model_version_by_alias(model, alias).version)

    def comment(self, login: str, issue: int, body: str) -> None:
        self.as_user(login).comment(issue, body)
        self.act()

    def predictions(self, version: str, rows: Any) -> Any:
        """What a version of the tumour model predicts for `rows`, loaded here from MLflow (not through the
        gateway): the reference the gateway's answers are checked against."""
        import mlflow

        if version not in self._models:
            self._models[version] = mlflow.pyfunc.load_model(f"models:/{TUMOR}/{version}")
        return self._models[version].predict(rows)

    def served(self, version: str, other: str, at_main: bool = True, count: int = 3) -> str:
        """`count` real invocations of production through the gateway: each answered by `version`, not by the
        fallback, with exactly what that version predicts (and not what `other` does); at main's commit."""
        import numpy as np

        from bot.demo.datasets import tumor_frames

        evaluation = tumor_frames()[1]
        rows = evaluation[feature_columns(evaluation, "malignant", ("size_band", "texture_band"))].head(4)
        expected, different = self.predictions(version, rows), self.predictions(other, rows)
        check(not np.allclose(expected, different, rtol=0, atol=1e-6), f"versions {version} and {other} agree")
        records = rows.to_dict(orient="records")
        for _ in range(count):
            answer = self.gateway.invoke(TUMOR, "production", records)
            check(answer.status == 200, f"the gateway answered production with {answer.status}: {answer.message}")
            check(
                answer.version == version and not answer.fallback,
                f"production answered by {answer.version}{' (fallback)' if answer.fallback else ''}, not {version}",
            )
            got = np.asarray(answer.predictions, dtype=float)
            check(
                got.shape == np.shape(expected) and np.allclose(got, expected, rtol=0, atol=1e-9),
                f"the gateway's answer for version {version} is not what that version predicts: {answer.predictions}",
            )
        if at_main:
            commit, main = self.gateway.describe(TUMOR, "production")["commit"], self.hub.git.resolve("main")
            check(commit == main, f"the gateway serves {str(commit)[:12]}, not main's {str(main)[:12]}")
        return f"{count}/{count} answers X-Modelbot-Version: {version}"

    def ask_promotion(self, login: str, issue: int, model: str, version: str, stage: str) -> tuple[dict[str, Any], str]:
        """`login` comments `/promote` on the tracking issue; the pull request the bot opened, and its head."""
        self.comment(login, issue, f"/promote {model} {version} to {stage}")
        pull = self.pull_titled(f"Promote {model} {version} to {stage}")
        return pull, str(pull["head"]["sha"])

    def split(self, model: str, stage: str) -> dict[str, float]:
        """The traffic weights the gateway applies to (model, stage) now."""
        found = self.gateway.describe(model, stage).get("traffic") or {}
        return {str(v): float(w) for v, w in found.items()}

    def tick_until(self, done: Callable[[], bool], what: str, timeout_s: float = 240.0) -> int:
        """Fire the maintenance workflow's schedule (as GitHub's scheduler would, every 15 minutes; here every
        second or so) until `done`; the number of ticks it took."""
        deadline = time.monotonic() + timeout_s
        ticks, said = 0, ""
        while not done():
            check(time.monotonic() < deadline, f"{what} did not happen within {timeout_s:g}s of ticks; last: {said}")
            runs = _succeeded(self.runner.run_schedule(MAINTENANCE))
            ticks += 1
            said = next((r.summary.strip() for r in runs if r.workflow == MAINTENANCE), "") or runs[0].log()[-1500:]
            self.progress(f"    tick {ticks}: {_advance_line(said)[:160]}")
            time.sleep(0.5)
        return ticks

    def rows(self, model: str) -> list[dict[str, Any]]:
        """Evaluation rows of `model` as a client sends them: its features, no target, no slice columns."""
        from bot.demo.datasets import diabetes_frames, tumor_frames

        if model == TUMOR:
            frame, target, slices = tumor_frames()[1], "malignant", ("size_band", "texture_band")
        else:
            frame, target, slices = diabetes_frames()[1], "progression", ("sex", "age_band")
        records: list[dict[str, Any]] = frame[feature_columns(frame, target, slices)].to_dict(orient="records")
        return records

    def bot_reply(self, issue: int) -> str:
        comments = self.api(f"/repos/acme/models/issues/{issue}/comments?per_page=100")
        return comments[-1]["body"] if comments else ""

    # --- the story -------------------------------------------------------------------------------------------
    def train(self) -> None:
        import logging
        import warnings

        import mlflow
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="mlflow")
        warnings.filterwarnings("ignore", category=UserWarning)

        with self.step("train and register real models in MLflow") as record:
            (self.workdir / "repo" / "data").mkdir(parents=True, exist_ok=True)
            mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_registry_uri(self.tracking_uri)
            # Artifacts go under the work directory too: left to MLflow, a SQLite store puts them in ./mlruns of
            # whatever directory the demo was started from (a checkout, shared by every run started there).
            mlflow.create_experiment("modelbot-demo", artifact_location=(self.workdir / "mlartifacts").as_uri())
            mlflow.set_experiment("modelbot-demo")
            trained = train_all(self.workdir, self.progress)
            self.tracker = MlflowClient(self.tracking_uri, self.tracking_uri)
            for model, alias, version in (
                (TUMOR, "production", "1"),
                (TUMOR, "staging", "2"),
                (DIABETES, "staging", "1"),
            ):
                self.tracker.set_registered_model_alias(model, alias, version)
            record.detail = (
                f"{len(trained)} versions: "
                + ", ".join(f"{t.model} {t.version}" for t in trained)
                + "; production serves tumor-malignancy 1, staging 2"
            )

    def seed(self) -> None:
        from localhub.actions.pyenv import prepare
        from localhub.actions.runner import ActionsRunner
        from localhub.hub import Hub
        from localhub.rest.server import LocalHubServer

        with self.step("seed a local GitHub with the project's registry, policies and workflows") as record:
            root = project_root()
            seed = self.workdir / "seed"
            seed.mkdir(parents=True)
            for name in PROJECT_FILES:
                source = root / name
                (shutil.copytree if source.is_dir() else shutil.copy2)(source, seed / name)
            # The seeded copies: production of the default policy and staging of the regression policy roll out as
            # live canaries through the gateway (bot/demo/rollouts.py).
            for name, edit in (("default", production_canary), ("regression", staging_canary)):
                policy = seed / "policies" / f"{name}.yaml"
                policy.write_text(edit(policy.read_text(), self.gateway.url))
            when = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
            env = {
                "GIT_AUTHOR_NAME": "Dana DS",
                "GIT_AUTHOR_EMAIL": "dana@example.com",
                "GIT_COMMITTER_NAME": "Dana DS",
                "GIT_COMMITTER_EMAIL": "dana@example.com",
                "GIT_AUTHOR_DATE": when,
                "GIT_COMMITTER_DATE": when,
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": str(seed),
            }
            for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "Model registry"]):
                subprocess.run(["git", *args], cwd=seed, check=True, capture_output=True, env=env)
            self.hub = Hub.create(self.workdir / "hub", owner="acme", name="models", seed=seed)
            for login, (permission, _) in PEOPLE.items():
                self.hub.add_user(login, role=permission)
            for team, members in TEAMS.items():
                self.hub.add_team("acme", team, members)
            # strict: localhub checks each answer and webhook against GitHub's schemas (see `conformance`)
            self.server = LocalHubServer(self.hub, strict=True).start()
            self.hub.secrets["MLFLOW_TRACKING_URI"] = self.tracking_uri
            # The bot is a GitHub App, as the README recommends: every job that writes mints the app's installation
            # token (roles given to teams are read with it); the repository keeps GitHub's default of not letting
            # the workflow's own token open pull requests.
            from bot.github.identity import APP_PERMISSIONS

            app = self.hub.add_app("modelbot", dict(APP_PERMISSIONS))
            self.hub.variables["MODELBOT_APP_ID"] = str(app.id)
            self.hub.secrets["MODELBOT_APP_PRIVATE_KEY"] = app.private_key_pem.decode()
            # The maintenance schedule reads the gateway's prediction log (a runner on the gateway's machine).
            self.hub.variables["MODELBOT_PREDICTION_LOG"] = str(self.gateway.log_dir / "predictions.jsonl")
            # The runner's Python already has modelbot: the action's install step sees it and skips.
            self.runner = ActionsRunner(
                self.server, self.workdir / "actions", python=prepare(self.workdir / "runner-python", "modelbot")
            )
            self.result.repository = str(self.hub.git.path)
            # modelbot serve follows main (its models load while the story goes on; the merge step waits for it)
            self.gateway.start(self.hub.git.path, {"MLFLOW_TRACKING_URI": self.tracking_uri})
            record.detail = (
                f"acme/models at {self.server.url}, history from 3 days ago; {len(PEOPLE)} people, {len(TEAMS)} teams; "
                "the bot is the GitHub App modelbot; "
                f"modelbot serve follows main at {self.gateway.url}"
            )

    def register(self) -> int:
        from bot.github.client import GitHubForge
        from bot.github.config import GitHubConfig
        from bot.registry import parse
        from bot.sync import open_pull, unlisted

        with self.step("register the new MLflow versions (modelbot sync)") as record:
            dana = GitHubForge(GitHubConfig(self.server.url, "acme/models", self.hub.token_for("dana-ds")))
            text = dana.file_text("models.yaml", "main") or ""
            found = unlisted(parse(text), self.tracking_uri)
            check(
                sorted(f"{f.model} {f.version}" for f in found) == [f"{DIABETES} 2", f"{TUMOR} 3", f"{TUMOR} 4"],
                f"expected tumor-malignancy 3 and 4 and diabetes-progression 2 to register, found {found}",
            )
            pull = open_pull(dana, text, found, "main").pull
            self.act()
            check(self.check_conclusion(pull.head_sha) == "success", "the registration PR's validation did not pass")
            self.as_user("pat-platform").merge(pull.number)
            self.act()
            registered = parse(dana.file_text("models.yaml", "main") or "").models[TUMOR]
            check(registered.version(4) is not None, "version 4 is not on main after the merge")
            record.detail = (
                f"PR #{pull.number} registered tumor-malignancy 3 and 4 and diabetes-progression 2 with their "
                "lineage; merged"
            )
        return int(pull.number)

    def promote_to_production(self, issue: int) -> None:
        with self.step("/promote tumor-malignancy 2 to production: PR, report, checks") as record:
            # who asks for a promotion never approves it: dana (the owner) asks, the ML lead and risk approve
            pull, sha = self.ask_promotion("dana-ds", issue, TUMOR, "2", "production")
            check(self.check_conclusion(sha) == "success", f"validation: {self.check_conclusion(sha)}")
            check(
                self.approvals(sha) == ("pending", "ml-lead 0/1, risk 0/1"),
                f"approvals: {self.approvals(sha)}",
            )
            record.detail = f"#{pull['number']} opened; validation passed; approvals ml-lead 0/1, risk 0/1"
        with self.step("an approval from someone outside the roles does not count") as record:
            self.as_user("wes-writer").review(pull["number"], "APPROVE")
            self.act()
            check(self.approvals(sha)[1] == "ml-lead 0/1, risk 0/1", "wes's approval counted")
            record.detail = "wes-writer approved; still ml-lead 0/1, risk 0/1"
        with self.step("the ML lead and risk approve") as record:
            for reviewer in ("lena-ml", "rita-risk"):
                self.as_user(reviewer).review(pull["number"], "APPROVE")
                self.act()
            check(
                self.approvals(sha) == ("success", "ml-lead 1/1, risk 1/1"),
                f"approvals: {self.approvals(sha)}",
            )
            record.detail = "modelbot/approvals: ml-lead 1/1, risk 1/1"
        with self.step("merge: a canary starts, version 2 takes 10 % of the gateway's traffic") as record:
            self.gateway.wait_ready()
            before = self.served("1", "2", at_main=False)
            self.merged_at = time.monotonic()
            self.as_user("pat-platform").merge(pull["number"])
            self.act()
            aliases = self.alias(TUMOR, "production"), self.alias(TUMOR, "production-canary")
            check(aliases == ("1", "2"), f"production and production-canary aliases on {aliases}")
            deployments = self.api("/repos/acme/models/deployments")
            check(any(d["environment"] == f"{TUMOR}/production" for d in deployments), "no GitHub deployment")
            split = self.split(TUMOR, "production")
            check(split == {"1": 90.0, "2": 10.0}, f"the gateway splits production {split}, not 90/10")
            record.detail = (
                "MLflow aliases production -> 1, production-canary -> 2; GitHub deployment recorded; the live "
                f"check passed; the gateway's production before: {before}; now {split}"
            )

    def live_canary(self) -> None:
        with self.step("a live canary: on schedule ticks, version 2 goes 10 % -> 50 % -> 100 % on evidence") as record:
            with Traffic(self.gateway, TUMOR, "production", self.rows(TUMOR)) as traffic:
                ticks = self.tick_until(lambda: self.split(TUMOR, "production") == {"2": 100.0}, "the canary's end")
            full = round(time.monotonic() - self.merged_at, 1)
            self.result.figures["merge_to_full_traffic_s"] = full
            steps = [p for p in self.pulls() if p["title"].startswith(f"Advance the canary of {TUMOR} 2")]
            steps += [p for p in self.pulls() if p["title"].startswith(f"Complete the canary of {TUMOR} 2")]
            check(
                len(steps) == 2 and all(p["merged_at"] for p in steps), f"the steps did not merge themselves: {steps}"
            )
            check(self.alias(TUMOR, "production") == "2", f"production alias on {self.alias(TUMOR, 'production')}")
            check(traffic.fallbacks == 0 and traffic.failed == 0, f"clients saw {traffic.fallbacks} fallbacks")
            served = self.served("2", "1")
            record.detail = (
                f"{ticks} ticks; steps #{steps[0]['number']} (50 %) and #{steps[1]['number']} (100 %) merged "
                f"themselves after their analysis; {sum(traffic.answered.values())} client requests, none failed; "
                f"merge to full traffic {full} s; {served}"
            )

    def failing_canary(self, issue: int) -> None:
        title = f"Promote {DIABETES} 2 to staging"
        with self.step("/promote diabetes-progression 2 to staging: validation passes, a canary starts") as record:
            pull, sha = self.ask_promotion("lena-ml", issue, DIABETES, "2", "staging")
            check(self.check_conclusion(sha) == "success", f"validation: {self.check_conclusion(sha)}")
            self.as_user("dana-ds").review(pull["number"], "APPROVE")
            self.act()
            check(self.approvals(sha)[0] == "success", f"approvals: {self.approvals(sha)}")
            self.as_user("pat-platform").merge(pull["number"])
            self.act()
            split = self.split(DIABETES, "staging")
            check(split == {"1": 90.0, "2": 10.0}, f"the gateway splits staging {split}, not 90/10")
            record.detail = f"#{pull['number']}: every gate passed; owner approved; merged; the gateway splits {split}"
        with self.step("it fails some live requests: aborted and rolled back by the bot, with no person") as record:
            with Traffic(self.gateway, DIABETES, "staging", self.rows(DIABETES)) as traffic:
                ticks = self.tick_until(lambda: self.split(DIABETES, "staging") == {"1": 100.0}, "the rollback")
            check(traffic.first_fallback is not None, "no client request ever fell back to version 1")
            assert traffic.first_fallback is not None
            restore = round(time.monotonic() - traffic.first_fallback, 1)
            self.result.figures["failure_to_restore_s"] = restore
            revert = self.pull_titled(f'Revert "{title}"')
            check(bool(revert["merged_at"]), "the rollback did not merge itself")
            comments = self.api(f"/repos/acme/models/issues/{pull['number']}/comments?per_page=100")
            why = next((c["body"] for c in comments if "rollout-abort -->" in c["body"]), "")
            check("error_rate_vs_stable" in why, "the promotion's pull request does not say why it was aborted")
            check(self.alias(DIABETES, "staging") == "1", f"staging alias on {self.alias(DIABETES, 'staging')}")
            check(traffic.failed == 0, f"{traffic.failed} client requests failed outright")
            record.detail = (
                f"{ticks} ticks; {traffic.fallbacks} of {sum(traffic.answered.values())} client requests fell back to "
                f"version 1 (no client saw an error); #{revert['number']} merged by the bot; staging alias back on 1; "
                f"first failure to restored {restore} s"
            )

    def monitoring(self) -> None:
        with self.step("shifted traffic through the gateway: monitoring opens one incident, with its chart") as record:
            shifted = [{**row, "bmi": row["bmi"] * 1.25} for row in self.rows(DIABETES)]  # a clinic's new scale
            with Traffic(self.gateway, DIABETES, "staging", shifted) as traffic:
                # a whole monitoring window of shifted traffic, and the schedule ticks while it still flows
                started = time.monotonic()
                while time.monotonic() - started < 12 or sum(traffic.answered.values()) < 400:
                    check(time.monotonic() - started < 90, "the gateway answered too few shifted requests")
                    time.sleep(0.2)
                _succeeded(self.runner.run_schedule(MAINTENANCE))
            prefix = f"Monitoring: {DIABETES} in staging:"
            found = [
                i for i in self.api("/repos/acme/models/issues?state=all&per_page=100") if i["title"].startswith(prefix)
            ]
            check(bool(found), f"no incident issue after {sum(traffic.answered.values())} shifted requests")
            comments = [c["body"] for i in found for c in self.api(f"/repos/acme/models/issues/{i['number']}/comments")]
            check(
                any("xychart-beta" in text for text in [*(i["body"] or "" for i in found), *comments]),
                "the incident carries no chart",
            )
            _succeeded(self.runner.run_schedule(MAINTENANCE))
            again = [
                i for i in self.api("/repos/acme/models/issues?state=all&per_page=100") if i["title"].startswith(prefix)
            ]
            check(len(again) == len(found), f"a second run opened {len(again) - len(found)} more incidents")
            record.detail = (
                f"{sum(traffic.answered.values())} requests with bmi 25 % higher: "
                + ", ".join(f"#{i['number']} {i['title'].removeprefix(prefix).strip()}" for i in found)
                + "; a second run updated them, opened none"
            )

    def promote_to_staging(self, issue: int) -> None:
        with self.step("/promote tumor-malignancy 3 to staging: inconclusive evidence needs one more role") as record:
            pull, sha = self.ask_promotion("dana-ds", issue, TUMOR, "3", "staging")
            conclusion = self.check_conclusion(sha)
            check(conclusion in ("success", "neutral"), f"validation: {conclusion}")
            for reviewer in ("theo-ds", "lena-ml"):  # an owner other than dana, who asked; the extra ML lead
                self.as_user(reviewer).review(pull["number"], "APPROVE")
                self.act()
            state = self.approvals(sha)
            check(state[0] == "success", f"approvals: {state}")
            check(conclusion == "success" or "ml-lead 1/1" in state[1], f"inconclusive without the extra role: {state}")
            self.as_user("pat-platform").merge(pull["number"])
            self.act()
            check(self.alias(TUMOR, "staging") == "3", f"staging alias on {self.alias(TUMOR, 'staging')}")
            record.detail = f"validation {conclusion}; approvals {state[1]}; merged; staging alias -> 3"
        with self.step("/promote tumor-malignancy 3 to production right away is refused (soak time)") as record:
            before = len(self.pulls())
            self.comment("lena-ml", issue, f"/promote {TUMOR} 3 to production")
            reply = self.bot_reply(issue)
            check("needs 2h00m" in reply and len(self.pulls()) == before, f"expected a soak refusal, got: {reply}")
            record.detail = "refused: version 3 has served staging for less than the 2h soak; no PR"

    def failing_candidate(self, issue: int) -> None:
        with self.step("/promote tumor-malignancy 4 to staging: fails on a slice, cannot merge") as record:
            pull, sha = self.ask_promotion("dana-ds", issue, TUMOR, "4", "staging")
            check(self.check_conclusion(sha) == "failure", f"validation: {self.check_conclusion(sha)}")
            comments = self.api(f"/repos/acme/models/issues/{pull['number']}/comments")
            report = next((c["body"] for c in comments if ":report -->" in c["body"]), "")
            check("Validation failed" in report and "slices." in report, "the report does not show the slice failure")
            merged = self._try_merge(pull["number"])
            check(not merged, "the failing PR could be merged")
            record.detail = f"#{pull['number']}: validation failed (slices); merge refused"

    def _try_merge(self, number: int) -> bool:
        from localhub.errors import ApiError

        try:
            self.as_user("pat-platform").merge(number)
        except ApiError:
            return False
        return True

    def rollback(self, issue: int) -> None:
        with self.step("/rollback tumor-malignancy production: merged by the bot, alias back") as record:
            # lena (ml-lead) asks; omar (on-call) approves: who asks for a change never approves it
            self.comment("lena-ml", issue, f"/rollback {TUMOR} production")
            title = f'Revert "Promote {TUMOR} 2 to production"'
            check(
                any(p["title"] == title for p in self.pulls()), f"no revert PR; the bot said: {self.bot_reply(issue)}"
            )
            revert = self.pull_titled(title)
            sha = revert["head"]["sha"]
            state = self.approvals(sha)
            check(
                state[1] == "oncall 0/1",
                f"rollback rules not applied: approvals {state}, validation {self.check_conclusion(sha)}: "
                + self.check_summary(sha)[:1500],
            )
            self.as_user("omar-oncall").review(revert["number"], "APPROVE")
            runs = self.act()  # the review run merges it (rollback.auto_merge); the app's merge starts the deploy
            check(self.approvals(sha)[0] == "success", "oncall approval not counted")
            merged = self.api(f"/repos/acme/models/pulls/{revert['number']}")
            check(bool(merged["merged"]), "the approved rollback did not merge itself (policy rollback.auto_merge)")
            deployed = any(r.workflow.endswith("modelbot-deploy.yml") and r.conclusion == "success" for r in runs)
            check(deployed, "no deploy run after the merge")
            check(self.alias(TUMOR, "production") == "1", f"production alias on {self.alias(TUMOR, 'production')}")
            served = self.served("1", "2")
            record.detail = (
                f"#{revert['number']} approved by on-call, merged by the bot "
                f"({merged['merge_commit_sha'][:12]}); production alias back on version 1; "
                f"the gateway's production {served}"
            )

    def protect_main(self) -> None:
        """Branch protection as a platform team would set it: both bot checks required."""
        self.hub.protect_branch("main", ["modelbot/validation", "modelbot/approvals"])

    def conformance(self) -> None:
        """The hub ran strict: if any answer or webhook it produced was outside GitHub's schemas, the demo
        fails with one more step that lists them (a story that passes on a wrong GitHub proves nothing)."""
        problems = list(self.server.conformance.problems)
        if not problems:
            return
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        record = StepRecord("localhub answered as GitHub's schemas say", "failed", f"{len(problems)} problems: {shown}")
        self.result.steps.append(record)
        self.progress(f"✘ {record.name}: {record.detail}")

    def run(self) -> DemoResult:
        with sigterm_as_exit():
            return self._run()

    def _run(self) -> DemoResult:
        start = time.perf_counter()
        try:
            self.train()
            self.seed()
            self.protect_main()
            issue = self.as_user("dana-ds").open_issue("Model promotions")
            self.register()
            self.promote_to_production(issue)
            self.live_canary()
            self.promote_to_staging(issue)
            self.failing_candidate(issue)
            self.rollback(issue)
            self.failing_canary(issue)
            self.monitoring()
        except _Stop:
            pass
        finally:
            try:
                self.gateway.stop()
            finally:
                if self.server is not None:
                    self.server.stop()
                    self.conformance()
            self.result.seconds = time.perf_counter() - start
            self.result.reports = str(self.workdir / "actions")
        return self.result
