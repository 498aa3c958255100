"""What the steps of a job share: the job (its workspace, environment, Python, summary, masks), the scope a
step runs in (the job's own, or a composite action's), and the record of one step's run."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localhub.hub import Hub

STEP_FILES = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")


@dataclass
class StepRun:
    name: str
    conclusion: str  # success, failure, skipped
    exit_code: int | None = None
    log: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    script: str | None = None  # a `run:` step's script after `${{ }}` expansion: exactly what the shell ran
    env: dict[str, str] = field(default_factory=dict)  # the environment the step's process was given
    steps: list[StepRun] = field(default_factory=list)  # a composite action's own steps


@dataclass
class Job:
    """What the steps of one job share: where it runs, its environment as earlier steps left it, the
    runner's Python, the job summary, and the values GitHub masks in logs."""

    hub: Hub
    sha: str
    ref: str
    root: Path
    env: dict[str, str]  # GitHub's variables, workflow and job `env:`, and GITHUB_ENV additions
    python: Path
    timeout: float
    defaults: Mapping[str, Any] = field(default_factory=dict)  # `defaults.run` of the workflow and the job
    paths: list[str] = field(default_factory=list)  # GITHUB_PATH additions, the latest first
    summary: list[str] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)  # the process groups of its `run:` steps (processes.py)
    _files: Iterator[int] = field(default_factory=itertools.count)

    @property
    def workspace(self) -> Path:
        return Path(self.env["GITHUB_WORKSPACE"])

    @property
    def temp(self) -> Path:
        return Path(self.env["RUNNER_TEMP"])

    def base_env(self) -> dict[str, str]:
        return {**self.env, "PATH": os.pathsep.join([*self.paths, self.env["PATH"]])}

    def step_files(self) -> dict[str, Path]:
        """Fresh GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY files for one step."""
        number = next(self._files)
        files = {key: self.root / "files" / f"{key.lower()}-{number}" for key in STEP_FILES}
        for path in files.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
        return files

    def script_file(self, suffix: str) -> Path:
        return self.temp / f"step-{next(self._files)}{suffix}"

    def output_file(self) -> Path:
        """Where a `run:` step's output goes: a file, not a pipe, so the step ends when its shell does, not when
        the last process it left in the background closes the pipe."""
        path = self.root / "files" / f"output-{next(self._files)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def end_processes(self) -> list[int]:
        """End whatever the job's steps left running (GitHub's "Cleaning up orphan processes"); returns the pids."""
        from localhub.actions import processes

        return processes.end(self.groups, self.env.get(processes.TRACKING))

    def mask(self, text: str) -> str:
        for secret in sorted(self.masks, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


@dataclass
class Scope:
    """Where steps run: the job's own steps, or a composite action's (its `inputs`, its own `steps`
    context, and the `env:` of the `uses:` steps that called it)."""

    contexts: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    depth: int = 0
    composite: bool = False

    @property
    def status(self) -> str:
        return str(self.contexts["job"]["status"])
