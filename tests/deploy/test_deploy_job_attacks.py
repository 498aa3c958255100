"""The deploy job holds a write token and runs the smoke check's model (sandboxed, as the bot's user on a hosted
runner): what can a model started by the bot read of the token from the processes above it?

The action's step runs as GitHub runs a `shell: bash` step: `bash --noprofile --norc -eo pipefail SCRIPT`, with
the step's `env:` (the token) in its environment. The bot makes itself non-dumpable, but a bash that stayed
its parent kept the token in a /proc/PID/environ any process of the same user reads. The step execs the bot.
"""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from tests.support.gitrepo import PROJECT

CANARY = "ghs_canary_deploy_job"
# the probe needs only the standard library: an interpreter the unprivileged user can run
PYTHON = next((p for p in ("/usr/bin/python3", sys.executable) if os.access(p, os.X_OK)), sys.executable)

# stands in for `modelbot action`: non-dumpable as the bot makes itself, then starts a "model" that reads the
# environ of each process above it up to the test's own, as the hostile model of tests/support does
BOT = f"""
import ctypes, os, subprocess, sys
assert ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE 0, as bot.sandboxing.make_non_dumpable
model = '''
import os
pid, found = os.getppid(), []
while pid > 1 and pid != {os.getpid()}:
    try:
        found.append(open(f"/proc/{{pid}}/environ", "rb").read().decode("utf-8", "replace"))
    except OSError:
        pass
    pid = int(open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[1])
print("LEAKED" if any({CANARY!r} in text for text in found) else "CLEAN")
'''
clean = {{k: v for k, v in os.environ.items() if "TOKEN" not in k and "KEY" not in k}}
sys.exit(subprocess.run([sys.executable, "-c", model], env=clean).returncode)
"""


def run_step(script: str) -> str:
    """`script` run as GitHub runs a bash step (from a script, not `bash -c`, which execs a lone command) with the
    token in its environment, as one unprivileged user throughout: a hosted runner's `runner` (here, when the
    tests run as root, `nobody`; as root the bot would start the model as another user, which reads nothing)."""
    env = {**os.environ, "GITHUB_TOKEN": CANARY, "MODELBOT_APP_PRIVATE_KEY": CANARY, "BOT_PROBE": BOT}
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.getuid() == 0 else []
    ran = subprocess.run([*drop, "bash", "--noprofile", "--norc", "-eo", "pipefail", "-s"], input=script,
                         env=env, capture_output=True, text=True, timeout=60, check=False, cwd="/")
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()


def test_the_actions_step_leaves_no_shell_holding_the_token_above_the_model() -> None:
    action = yaml.safe_load((PROJECT / "action.yml").read_text())
    [step] = [s for s in action["runs"]["steps"] if s.get("id") == "bot"]
    assert step["shell"] == "bash" and "modelbot action" in step["run"]
    bot = f"""{PYTHON} -c 'import os; exec(os.environ["BOT_PROBE"])'"""
    assert run_step(step["run"].replace("modelbot action", bot) + "\n") == "CLEAN", (
        "a process above the model holds the token in an environ the model's user reads"
    )
    assert run_step(bot + "\n") == "LEAKED"  # the probe sees it: the step without exec is what leaked
