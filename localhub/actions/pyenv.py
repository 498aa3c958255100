"""A prepared Python environment for localhub's runner, so a workflow run does not install the bot anew.

`prepare(dest, distribution)` makes a virtual environment layered over the running one: every package installed here
(the project under test included, editable or not) is importable in it, and the distribution's console scripts
are in its bin directory, so `python` and the project's commands work at once. Whatever a workflow installs
with `python -m pip` lands in the layer, never in the environment the tests or the demo run from.
Give its interpreter to the runner: `ActionsRunner(server, workdir, python=prepare(dest, "modelbot"))`.
"""

from __future__ import annotations

import site
import stat
import sys
from importlib import metadata
from pathlib import Path

LAYER_FILE = "_localhub_layer.pth"


def prepare(dest: Path, distribution: str) -> Path:
    """The interpreter of a layered environment at `dest` (made once, then reused), with the console scripts
    of `distribution` (the project under test, e.g. "modelbot") on its PATH."""
    import venv

    python = dest / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(dest)
    purelib = dest / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    # An `import` line in a .pth runs at start-up; addsitedir also runs the .pth files of those directories
    # (an editable install's finder), and keeps the layer's own packages first on sys.path.
    lines = [f"import site; site.addsitedir({directory!r})" for directory in site.getsitepackages()]
    (purelib / LAYER_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Every console script of the base environment, not only modelbot's: tools the bot starts by name (the
    # `uvicorn` that `mlflow models serve` runs, `mlflow` itself) must be on the job's PATH as in a real venv.
    scripts = {
        ep.name: ep for dist in metadata.distributions() for ep in dist.entry_points.select(group="console_scripts")
    }
    scripts.update(
        {ep.name: ep for ep in metadata.distribution(distribution).entry_points.select(group="console_scripts")}
    )
    for script in scripts.values():
        if ":" in script.value and "[" not in script.value and not script.name.startswith("python"):
            _launcher(dest / "bin" / script.name, python, script.module, script.attr)
    return python


def _launcher(path: Path, python: Path, module: str, attr: str) -> None:
    path.write_text(
        f"#!{python}\nimport importlib\nimport sys\n\nentry = importlib.import_module({module!r})\n"
        f"for part in {attr!r}.split('.'):\n    entry = getattr(entry, part)\nsys.exit(entry())\n",
        encoding="utf-8",
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
