"""`uses: actions/setup-python` on localhub's runner.

The runner has one Python: the interpreter it was given (by default its own; for tests and the demo, a
prepared environment where modelbot is installed, see `pyenv.py`). A request that this interpreter meets
(`3.11`, `3.11.x`, `3.11.7`, `3`, `3.x`) is served from it, as setup-python serves a version from the
runner's tool cache: its bin directory goes first on PATH for the later steps, `pythonLocation` and friends
are exported, the outputs `python-version` and `python-path` are set. Any other request fails the step
loudly, rather than running the job on a Python it did not ask for.
https://github.com/actions/setup-python/blob/main/docs/advanced-usage.md
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from localhub.actions.job import Job, StepRun

_SPEC = re.compile(r"(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?")
NOT_EMULATED = ("cache", "cache-dependency-path", "check-latest", "token", "allow-prereleases", "freethreaded")


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # e.g. 3.11.7
    prefix: Path

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@functools.lru_cache(maxsize=8)
def describe(python: Path) -> Interpreter:
    """Ask the interpreter itself (it may be another environment than the one localhub runs in)."""
    proc = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version.split()[0]); print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    version, prefix = proc.stdout.split("\n")[:2]
    return Interpreter(python, version.strip(), Path(prefix.strip()))


def satisfies(spec: str, version: str) -> bool | None:
    """Whether a `python-version` value accepts `version`; None for what localhub does not read (ranges,
    PyPy, GraalPy, free-threaded builds)."""
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        return None
    have = version.split(".")
    return all(want in (None, "x") or want == got for want, got in zip(match.groups(), have, strict=False))


def requested(options: Mapping[str, str], workspace: Path) -> list[str]:
    """The versions asked for: `python-version` (one per line), else the first line of `python-version-file`."""
    lines = [line.strip() for line in options.get("python-version", "").splitlines() if line.strip()]
    if lines or not options.get("python-version-file"):
        return lines
    file = workspace / options["python-version-file"]
    if not file.is_file():
        return [f"(python-version-file {options['python-version-file']} does not exist)"]
    return [
        line.strip()
        for line in file.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ][:1]


def refusal(specs: list[str], interpreter: Interpreter) -> str | None:
    for spec in specs:
        verdict = satisfies(spec, interpreter.version)
        if verdict is None:
            return f"setup-python: python-version {spec!r}: localhub reads versions such as 3.11, 3.11.x or 3.11.7 only"
        if not verdict:
            return (
                f"setup-python: Python {spec} was requested, but this runner has only Python "
                f"{interpreter.version} at {interpreter.path}; request {interpreter.minor}, or give the "
                f"runner a Python {spec} environment (ActionsRunner(..., python=...))"
            )
    return None


def setup(job: Job, options: Mapping[str, str], name: str) -> StepRun:
    interpreter = describe(job.python)
    specs = requested(options, job.workspace)
    refused = refusal(specs, interpreter)
    if options.get("architecture", "x64") != "x64":
        refused = f"setup-python: architecture {options['architecture']}: this runner is x64"
    if refused:
        return StepRun(name, "failure", 1, refused)
    log = [f"setup-python: using the runner's Python {interpreter.minor} at {interpreter.path} (tool cache)"]
    log += [f"setup-python: `{key}` is not emulated by localhub; ignored" for key in NOT_EMULATED if options.get(key)]
    if options.get("update-environment", "true").lower() != "false":
        job.paths.insert(0, str(interpreter.path.parent))
        prefix = str(interpreter.prefix)
        job.env.update(
            pythonLocation=prefix,
            Python_ROOT_DIR=prefix,
            Python3_ROOT_DIR=prefix,
            PKG_CONFIG_PATH=f"{prefix}/lib/pkgconfig",
        )
    outputs = {"python-version": interpreter.version, "python-path": str(interpreter.path)}
    return StepRun(name, "success", 0, "\n".join(log), outputs)
