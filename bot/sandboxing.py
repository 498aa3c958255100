"""Isolation of untrusted model code: who a model process runs as, what it sees, and where it may write.

Every process that runs a model's code (the validation hosts, `mlflow models serve`, the parity run) is
started through here, at one of three levels, which the evidence names (issue 12, point 5):

- "separate user": the bot runs as root, so the model drops to `nobody` (no supplementary groups) in a home
  directory of its own. It cannot read the bot's /proc/PID/environ (another user's), write the workspace
  (root's), or signal the bot. When the Python interpreter lives where `nobody` cannot reach it (a pyenv
  under /root, mode 0700), the model first enters a private mount namespace in which a tmpfs covers the
  closed directory and only the interpreter's trees are bound back, read-only: the rest of it stays hidden.
- "same user, scrubbed env, non-dumpable parent": the bot is not root. The model cannot read the token from
  its own environment, and the bot is non-dumpable (PR_SET_DUMPABLE 0), so a process of the same user can
  neither read its /proc/PID/environ nor ptrace it; but the model can write wherever the bot's user can.
- "none": not Linux; only the environment is scrubbed.

Every model process gets an allow-listed environment (never GITHUB_TOKEN, INPUT_*, ACTIONS_*, nor any
*_TOKEN, *_SECRET, *_KEY or *PASSWORD*), HOME and TMPDIR set to its own fresh directory, which is its
working directory too. MLflow credentials reach only the step that downloads the model (the bot's own code,
before the model's code runs, see `environment(credentials=True)`); the model's code never gets them in
its environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

SEPARATE_USER = "separate user"
SAME_USER = "same user, scrubbed env, non-dumpable parent"
NONE = "none"
UNPRIVILEGED = "nobody"

_KEEP = {"PATH", "LANG", "LANGUAGE", "TZ", "PYTHONPATH", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"}
_SECRET_WORDS = ("TOKEN", "SECRET", "KEY", "PASSWORD", "PASSWD", "CREDENTIAL")
# Read-only registry credentials: given to the download step only (a model's code never sees them).
_MLFLOW_CREDENTIALS = {"MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4
_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2


@dataclass(frozen=True)
class Isolation:
    """The level reached, why, and (separate user) the identity to drop to and the paths to expose."""

    level: str
    reason: str
    uid: int | None = None
    gid: int | None = None
    expose: tuple[str, ...] = ()
    namespace: bool = False

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "reason": self.reason}

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Isolation:
        found = json.loads(text)
        return cls(
            found["level"],
            found["reason"],
            found.get("uid"),
            found.get("gid"),
            tuple(found.get("expose", ())),
            bool(found.get("namespace")),
        )


_DECIDED: list[Isolation] = []


def current() -> Isolation:
    """The level for this bot process, decided once; makes the bot non-dumpable as a side effect."""
    if not _DECIDED:
        _DECIDED.append(decide())
    return _DECIDED[0]


def decide() -> Isolation:
    if sys.platform != "linux":
        return Isolation(
            NONE, f"{sys.platform} has neither prctl nor the user switch used here; only the environment is scrubbed"
        )
    if not make_non_dumpable():
        return Isolation(NONE, "prctl(PR_SET_DUMPABLE) failed; only the environment is scrubbed")
    if os.geteuid() != 0:
        return Isolation(SAME_USER, "the bot does not run as root, so it cannot start models as another user")
    try:
        user = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        return Isolation(SAME_USER, f"there is no '{UNPRIVILEGED}' user to run models as")
    # Paths the model cannot reach as `nobody`, and those under the temporary folders its namespace replaces
    # (a virtualenv or a checkout under /tmp), are bound back read-only.
    expose = tuple(p for p in _outermost(needed_paths()) if blocked_ancestor(p) is not None or _in_private_tmp(p))
    namespace = _namespaces_work()
    if expose and not namespace:
        return Isolation(
            SAME_USER,
            f"{expose[0]} is not reachable by '{UNPRIVILEGED}' and this machine does not "
            "allow a private mount namespace to expose it",
        )
    how = (
        (
            ", in a private mount namespace with its own /tmp"
            + (f" exposing {', '.join(expose)} read-only" if expose else "")
        )
        if namespace
        else ""
    )
    return Isolation(
        SEPARATE_USER,
        f"models run as '{UNPRIVILEGED}' (uid {user.pw_uid}) without groups{how}",
        user.pw_uid,
        user.pw_gid,
        expose,
        namespace,
    )


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def make_non_dumpable() -> bool:
    """PR_SET_DUMPABLE 0: processes of the same user can no longer read this one's /proc/PID/environ or
    memory, nor ptrace it. Reset by execve, so it protects the bot, not what it starts."""
    try:
        return bool(_libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def die_with_parent(sig: int) -> None:
    """PR_SET_PDEATHSIG: the kernel sends `sig` to this process when its parent ends."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _secret(name: str) -> bool:
    upper = name.upper()
    return (
        upper.startswith(("GITHUB_", "INPUT_", "ACTIONS_", "RUNNER_"))
        or upper == "GH_TOKEN"
        or any(word in upper for word in _SECRET_WORDS)
    )


def environment(
    home: Path | str, environ: Mapping[str, str] | None = None, *, credentials: bool = False
) -> dict[str, str]:
    """The allow-listed environment of a model process: locale, PATH (this Python's bin first), MLflow's
    settings, and HOME and TMPDIR in its own directory. With `credentials`, MLflow's credentials too (for
    the bot's own download step only)."""
    source = os.environ if environ is None else environ
    env: dict[str, str] = {}
    for name, value in source.items():
        upper = name.upper()
        kept = upper in _KEEP or upper.startswith("LC_") or upper.startswith("MLFLOW_")
        if kept and (not _secret(upper) or (credentials and upper in _MLFLOW_CREDENTIALS)):
            env[name] = value
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    env["HOME"] = env["TMPDIR"] = str(home)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def without_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k.upper() not in _MLFLOW_CREDENTIALS}


def home(isolation: Isolation, prefix: str = "modelbot-model-") -> Path:
    """A fresh directory for one model process, owned by the user it runs as, readable by no one else."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=_temp_root(isolation)))
    give(path, isolation)
    return path


def _temp_root(isolation: Isolation) -> str | None:
    root = tempfile.gettempdir()
    if isolation.level == SEPARATE_USER and blocked_ancestor(root) is not None:
        return "/tmp"
    return None


def give(path: Path, isolation: Isolation) -> None:
    """Hand a directory tree to the model's user (separate-user level), so it can read what was put there."""
    if isolation.level != SEPARATE_USER or isolation.uid is None or isolation.gid is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, isolation.uid, isolation.gid)


def enter(isolation: Isolation, workdir: Path | str, death_signal: int | None = None) -> None:
    """In the model's process, before its code runs: the mount namespace (if needed), the user switch, and
    its own working directory. Raises OSError when a step fails (the caller must not run the model then).
    `death_signal` is set again after the switch, which clears it."""
    if isolation.level == SEPARATE_USER and isolation.uid is not None and isolation.gid is not None:
        if isolation.namespace:
            _expose(isolation.expose, str(workdir))
        os.setgroups([])
        os.setgid(isolation.gid)
        os.setuid(isolation.uid)
        if os.getuid() != isolation.uid or os.geteuid() != isolation.uid:
            raise OSError(f"could not drop to uid {isolation.uid}")
    if death_signal is not None:
        die_with_parent(death_signal)
    os.chdir(workdir)


def launcher(isolation: Isolation, workdir: Path, command: list[str], *, fetch: str | None = None) -> list[str]:
    """The argv that enters the sandbox (as `enter` does), optionally downloads model `fetch` into
    WORKDIR/model first (as the bot's user), then execs `command`, in which `{model}` names that download."""
    spec = json.dumps(
        {
            "isolation": isolation.to_json(),
            "workdir": str(workdir),
            "fetch": fetch,
            "parent": os.getpid(),
            "command": command,
        }
    )
    return [sys.executable, "-m", "bot.sandboxing", spec]


def popen_kwargs(workdir: Path, environ: Mapping[str, str] | None = None, **extra: str) -> dict[str, object]:
    """What every model process is started with: its scrubbed environment (with the download credentials,
    which `main` removes before exec) plus `extra`, its own session, no inherited descriptors."""
    return {
        "env": {**environment(workdir, environ, credentials=True), **extra},
        "start_new_session": True,
        "close_fds": True,
        "stdin": subprocess.DEVNULL,
    }


def main(argv: list[str]) -> int:
    """`python -m bot.sandboxing SPEC`: the launcher `launcher` builds (runs as the bot's user first)."""
    import signal

    spec = json.loads(argv[0])
    die_with_parent(signal.SIGTERM)
    if os.getppid() != int(spec["parent"]):
        return _fail("the bot exited before the model process started")
    isolation = Isolation.from_json(spec["isolation"])
    workdir = Path(spec["workdir"])
    command = list(spec["command"])
    if spec.get("fetch"):
        try:
            local = fetch(spec["fetch"], workdir / "model")
        except Exception as exc:
            return _fail(f"{spec['fetch']} failed to load: {str(exc).strip().splitlines()[0] if str(exc) else exc}")
        command = [part.replace("{model}", local) for part in command]
        give(workdir, isolation)
    try:
        enter(isolation, workdir, signal.SIGTERM)
    except OSError as exc:
        return _fail(f"could not isolate the model process: {exc}")
    if os.getppid() != int(spec["parent"]):
        return _fail("the bot exited before the model process started")
    os.execve(command[0], command, without_credentials(os.environ))


def fetch(uri: str, destination: Path) -> str:
    """Download a model's files (no code of the model runs) and return where they are."""
    import mlflow.artifacts

    destination.mkdir(parents=True, exist_ok=True)
    return str(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(destination)))


def _fail(message: str) -> int:
    print(f"modelbot sandbox: {message}", file=sys.stderr, flush=True)
    return 70


def needed_paths() -> list[str]:
    """What a model process must read to run this Python and this bot. Not the working directory that
    `python -m bot` puts first on sys.path (a model needs nothing of it), nor / or a shared temporary folder
    (exposed read-only, they would cover the model's own directory)."""
    import bot

    found = {
        sys.base_prefix,
        sys.prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        str(Path(bot.__file__).resolve().parent.parent),
    }
    try:
        here = os.path.realpath(os.getcwd())
    except OSError:
        here = None
    found.update(p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) != here)
    return sorted(p for p in {os.path.realpath(p) for p in found} if p != "/" and p not in _PRIVATE_TMP)


def _outermost(paths: Iterable[str]) -> list[str]:
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def _in_private_tmp(path: str) -> bool:
    return any(path == t or path.startswith(t + "/") for t in _PRIVATE_TMP)


def blocked_ancestor(path: str) -> str | None:
    """The outermost directory on the way to `path` that others may not enter (mode without o+x)."""
    current = "/"
    for part in Path(path).parts[1:-1] if Path(path).is_file() else Path(path).parts[1:]:
        current = os.path.join(current, part)
        try:
            if not os.stat(current).st_mode & stat.S_IXOTH:
                return current
        except OSError:
            return None
    return None


def _namespaces_work() -> bool:
    probe = "import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare(0x00020000) != 0)"
    try:
        # -I -S: no site, no user paths; the probe needs the standard library only, and starts in half the time.
        return (
            subprocess.run([sys.executable, "-I", "-S", "-c", probe], env={}, timeout=30, check=False).returncode == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def b(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    if _libc().mount(b(source), b(target), b(fstype), ctypes.c_ulong(flags), b(data)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


_PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")


def _expose(paths: tuple[str, ...], workdir: str) -> None:
    """A private mount namespace: each closed ancestor of `paths` becomes an empty tmpfs (mode 0755) with
    only `paths` bound back, read-only; the shared temporary folders become empty ones of the model's own,
    with only its `workdir` bound back (so it can write nowhere else)."""
    libc = _libc()
    if libc.unshare(_CLONE_NEWNS) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWNS): {os.strerror(errno)}")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    # Held open before anything is covered, bound back from /proc/self/fd afterwards.
    held = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY), True) for path in paths]
    held.append((workdir, os.open(workdir, os.O_PATH | os.O_DIRECTORY), False))
    for closed in sorted({a for a in (blocked_ancestor(p) for p in paths) if a is not None}):
        _mount("tmpfs", closed, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755")
    for shared in _PRIVATE_TMP:
        if os.path.isdir(shared):
            _mount("tmpfs", shared, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777")
    for path, fd, read_only in held:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
        if read_only:
            with contextlib.suppress(OSError):
                _mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
