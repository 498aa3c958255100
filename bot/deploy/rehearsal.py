"""The smoke check's model run, in a job of its own that holds no write token.

A model's code is untrusted, and on a hosted runner it runs as the runner's own user (who may sudo): a job that
holds a token able to write must never run it. So the deploy workflow splits the smoke check: its `smoke` job
(read-only) loads every version a push deploys, by its registry version, and answers the sample rows of its
evaluation data; its `deploy` job (write) moves the aliases and judges the answers it was handed as data: the
alias must resolve to that version, the answers must be one finite value per row, and the live endpoint must give
the same ones. Answers are keyed by model, stage and version; a deploy job that finds none for a deployment fails
its smoke check (and answers it with the revert), never loads the model itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot import gitio
from bot.deploy.base import DeployError
from bot.deploy.mlflow_alias import registry_ref
from bot.errors import ModelbotError
from bot.workspace import policies_at

ANSWERS_FILE = "smoke-answers.json"
_MAX_BYTES = 5_000_000
_KEY = re.compile(r"[^/\n]{1,200}/[^/\n]{1,200}/[^/\n]{1,200}")


def rehearse(repo: Path, before: str | None, after: str, tracking_uri: str | None, rows: int = 5) -> dict[str, Any]:
    """Each version before..after deploys with a smoke check, loaded by its registry version and asked the first
    `rows` rows of its evaluation data: its summarised answers (or the error), by `key`."""
    from bot.deploy.runner import NULL_SHA, Revisions, changes
    from bot.deploy.verify import SmokeCheck, answers_key, sample_rows

    after_sha = gitio.resolve(repo, after)
    before_sha = None if before in (None, "", NULL_SHA) else gitio.resolve(repo, str(before))
    revisions = Revisions(repo)
    old, new = revisions.at(before_sha), revisions.at(after_sha)
    if new is None:
        return {}
    policies = policies_at(repo, after_sha)
    check = SmokeCheck(tracking_uri, repo, rows)
    found: dict[str, Any] = {}
    for change in changes(old, new):
        model = new.model(change.model)
        if change.version is None or model is None:
            continue
        try:
            if not policies.resolve(model).stage(change.stage).deploy.verify:
                continue
        except ModelbotError:
            continue  # the deploy job reports the settings
        version = next((v for v in model.versions if v.id == change.version), None)
        try:
            name, number = registry_ref(version.uri if version else None, change.version)
        except DeployError as exc:
            found[answers_key(change.model, change.stage, change.version)] = {"error": str(exc)}
            continue
        frame = sample_rows(repo, after_sha, model, rows)
        if frame is None:
            continue
        found[answers_key(change.model, change.stage, change.version)] = check.answer(f"models:/{name}/{number}", frame)
    return found


def write(folder: Path, answers: Mapping[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ANSWERS_FILE
    path.write_text(json.dumps(answers, allow_nan=False, default=str), encoding="utf-8")
    return path


def read(folder: Path) -> dict[str, dict[str, Any]]:
    """The smoke job's answers, read as untrusted data: a file that is missing, too large, not JSON or not of the
    expected shape raises DeployError naming what is wrong."""
    path = folder / ANSWERS_FILE
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise DeployError(f"{path}: larger than {_MAX_BYTES} bytes")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeployError(f"the smoke job's answers ({path}) cannot be read: {exc}") from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) and _KEY.fullmatch(k) for k in raw):
        raise DeployError(f"{path}: expected an object keyed by model/stage/version")
    for name, value in raw.items():
        if not isinstance(value, dict):
            raise DeployError(f"{path}: {name[:120]}: expected an object")
        if "error" in value:
            if not isinstance(value["error"], str):
                raise DeployError(f"{path}: {name[:120]}: 'error' must be text")
            continue
        shaped = (
            isinstance(value.get("rows"), int)
            and isinstance(value.get("answers"), int)
            and isinstance(value.get("finite"), bool)
            and isinstance(value.get("values", []), list)
        )
        if not shaped:
            raise DeployError(f"{path}: {name[:120]}: expected rows, answers (integers), finite (true/false), values")
    return raw
