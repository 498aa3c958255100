"""Checks across models.yaml and policies/: each model's policy exists, its stages are the policy's, and its
pinned data files match their sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot import yamlio
from bot.errors import InvalidFile, Problem
from bot.policy import Policies
from bot.registry.model import Dataset, Registry


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def is_local(data: str) -> bool:
    return "://" not in data and not data.startswith(("models:/", "runs:/"))


def policy_problems(registry: Registry, policies: Policies, locate: yamlio.Locator) -> list[Problem]:
    found: list[Problem] = []
    for name, model in registry.models.items():
        try:
            policy = policies.resolve(model)
        except InvalidFile as exc:
            found.append(Problem(locate(["models", name, "policy"]), exc.problems[0].message))
            continue
        for stage in [*model.stages, *model.deployment]:
            if not policy.has_stage(stage):
                found.append(
                    Problem(
                        locate(["models", name, "stages", stage]),
                        f"stage '{stage}' is not in policy '{policy.name}' (stages: {', '.join(policy.stage_names)})",
                    )
                )
    return found


def data_problems(registry: Registry, repo: Path, locate: yamlio.Locator) -> list[Problem]:
    """Local evaluation and reference files must exist and match their pins; each file is hashed once."""
    hashes: dict[Path, str | None] = {}
    found: list[Problem] = []
    for name, model in registry.models.items():
        ev = model.evaluation
        pinned: list[tuple[list[str | int], Dataset | None]] = [
            (["models", name, "evaluation"], Dataset(ev.data, ev.sha256)),
            (["models", name, "evaluation", "reference"], ev.reference),
            (["models", name, "evaluation", "replay"], ev.replay),
        ]
        for path, dataset in pinned:
            if dataset is None or not is_local(dataset.data):
                continue
            file = (repo / dataset.data).resolve()
            if file not in hashes:
                hashes[file] = sha256_file(file) if file.is_file() else None
            actual = hashes[file]
            if actual is None:
                found.append(Problem(locate([*path, "data"]), f"data file {dataset.data} does not exist in {repo}"))
            elif actual != dataset.sha256:
                found.append(
                    Problem(
                        locate([*path, "sha256"]),
                        f"{dataset.data} has sha256 {actual}, not the pinned {dataset.sha256}; "
                        "pin the new hash if the data changed on purpose",
                    )
                )
    return found


def check(registry: Registry, text: str, policies: Policies, repo: Path | None = None) -> list[Problem]:
    """Every cross-file problem; data files are checked only when a working tree is given."""
    locate = yamlio.Locator(text, registry.file)
    found = policy_problems(registry, policies, locate)
    if repo is not None:
        found.extend(data_problems(registry, repo, locate))
    return found
