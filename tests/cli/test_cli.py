"""The command line as users meet it: help, exit codes, messages, and files left untouched on refusal."""

import argparse
import subprocess
import sys

import pytest

from bot.cli import VERBS, build_parser
from tests.cli.conftest import unfreeze


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    import difflib

    lines = list(difflib.ndiff(old.splitlines(), new.splitlines()))
    return [x[2:] for x in lines if x.startswith("- ")], [x[2:] for x in lines if x.startswith("+ ")]


def test_every_verb_and_option_explains_itself(modelbot):
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for verb in VERBS:
        verb_parser = sub.choices[verb]
        assert verb_parser.description and len(verb_parser.description) > 20, verb
        undocumented = [a.dest for a in verb_parser._actions if not a.help]
        assert undocumented == [], f"{verb}: {undocumented}"


def test_help_and_usage_errors_exit_as_documented(modelbot):
    with pytest.raises(SystemExit) as info:
        modelbot("check", "--help")
    assert info.value.code == 0
    with pytest.raises(SystemExit) as info:
        modelbot("propose", "tumor-malignancy")
    assert info.value.code == 2


def test_the_console_script_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("modelbot ")


def test_check_accepts_the_example_registry(modelbot, repo):
    assert modelbot("check", "--repo", repo.path).code == 0
    assert modelbot.out.startswith("ok: 2 models, 3 versions; policies: default, regression")


def test_check_locates_every_problem_and_exits_1(modelbot, repo):
    text = repo.read("models.yaml").replace("      production: 1\n", "      production: 5\n")
    repo.write("models.yaml", text.replace("policy: regression", "policy: fast"))
    assert modelbot("check", "--repo", repo.path, "--json").code == 1
    problems = modelbot.json["problems"]
    assert [p["path"] for p in problems] == ["models.tumor-malignancy.stages.production"]
    assert problems[0]["line"] == text.splitlines().index("      production: 5") + 1
    repo.write(
        "models.yaml",
        text.replace("      production: 5\n", "      production: 1\n").replace("policy: regression", "policy: fast"),
    )
    assert modelbot("check", "--repo", repo.path).code == 1
    assert "policy 'fast' does not exist" in modelbot.err


def test_check_verifies_pinned_data(modelbot, repo):
    with (repo.path / "data/tumor-malignancy-eval.csv").open("a") as handle:
        handle.write("tampered\n")
    assert modelbot("check", "--repo", repo.path).code == 1
    assert "not the pinned a9f8d304" in modelbot.err
    assert modelbot("check", "--repo", repo.path, "--no-data").code == 0


def test_status_reports_stages_as_data(modelbot, repo):
    assert modelbot("status", "--repo", repo.path, "--json").code == 0
    tumor = modelbot.json["models"][0]
    assert (tumor["model"], tumor["stages"], tumor["latest"]) == (
        "tumor-malignancy",
        {"staging": "2", "production": "1"},
        "2",
    )


def test_propose_changes_one_line_and_git_agrees(modelbot, repo):
    unfreeze(repo)
    assert modelbot("propose", "tumor-malignancy", "2", "--to", "production", "--repo", repo.path).code == 0
    diff = repo.git("diff", "--unified=0", "models.yaml").splitlines()
    assert [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        "-      production: 1",
        "+      production: 2",
    ]
    assert "needs: gates" in modelbot.out and "ml-lead x1, risk x1" in modelbot.out


def test_a_refused_proposal_leaves_the_file_untouched(modelbot, repo):
    repo.write("models.yaml", repo.read("models.yaml").replace("      staging: 2\n", "      staging: 1\n"))
    repo.commit("Roll staging back")
    before = (repo.path / "models.yaml").read_bytes()
    assert modelbot("propose", "tumor-malignancy", "2", "--to", "production", "--repo", repo.path, "--json").code == 1
    assert modelbot.json["written"] is False
    assert any("must serve 'staging' before 'production'" in r for r in modelbot.json["plan"]["refusals"])
    assert (repo.path / "models.yaml").read_bytes() == before


def test_propose_an_unregistered_version_names_the_registered_ones(modelbot, repo):
    assert modelbot("propose", "tumor-malignancy", "7", "--to", "staging", "--repo", repo.path).code == 1
    assert "version 7 of 'tumor-malignancy' is not registered; registered: 1, 2" in modelbot.err


def test_plan_between_revisions_applies_the_base_soak_clock(modelbot, repo):
    unfreeze(repo)
    text = repo.read("models.yaml")
    repo.write(
        "models.yaml", text.replace("      staging: 1\n      production: null", "      staging: 1\n      production: 1")
    )
    repo.commit("Promote diabetes-progression 1 to production (#4)", when="2026-11-25T10:00:00Z")
    common = ["plan", "--base", "HEAD~1", "--repo", repo.path, "--json"]
    assert modelbot(*common, "--at", "2026-11-25T10:00:00Z").code == 0
    [step] = modelbot.json["transitions"]
    assert (step["model"], step["kind"], step["approvals"]) == (
        "diabetes-progression",
        "promote",
        [{"role": "ml-lead", "count": 1}, {"role": "risk", "count": 1}],
    )
    # staging got version 1 in the first commit (2026-11-02T09:00); 1h soak from there, at the base revision
    assert modelbot(*common[:-1], "--at", "2026-11-02T09:30:00Z").code == 1
    assert "has served 'staging' for 30m; 'production' needs 1h00m" in modelbot.out


def test_plan_refuses_an_unknown_revision(modelbot, repo):
    assert modelbot("plan", "--base", "no-such-branch", "--repo", repo.path).code == 1
    assert "unknown revision 'no-such-branch'" in modelbot.err


def test_history_lists_stage_changes_with_author_and_pr(modelbot, repo):
    text = repo.read("models.yaml")
    repo.write("models.yaml", text.replace("      production: 1\n", "      production: 2\n"))
    repo.commit("Promote tumor-malignancy 2 to production (#12)", when="2026-11-20T10:00:00Z", author="Lena ML")
    repo.write("models.yaml", text)
    repo.commit(
        'Revert "Promote tumor-malignancy 2 to production (#12)" (#13)',
        when="2026-11-21T10:00:00Z",
        author="Omar Oncall",
    )
    assert modelbot("history", "tumor-malignancy", "--stage", "production", "--repo", repo.path, "--json").code == 0
    events = [(e["kind"], e["from_version"], e["to_version"], e["author"], e["pr"]) for e in modelbot.json["events"]]
    assert events == [
        ("new_model", None, "1", "Dana DS", None),
        ("promote", "1", "2", "Lena ML", 12),
        ("rollback", "2", "1", "Omar Oncall", 13),
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary data"),
        (b"version: 1\nmodels:\n  caf\xe9: {}\n", "not UTF-8"),
        (b"", "file is empty"),
        (b"version: 1\nmodels: {}\nmodels: {}\n", "duplicate key 'models'"),
    ],
)
def test_unreadable_registries_are_refused_and_left_untouched(modelbot, repo, content, message):
    (repo.path / "models.yaml").write_bytes(content)
    for argv in (["check"], ["status"], ["propose", "tumor-malignancy", "2", "--to", "production"]):
        assert modelbot(*argv, "--repo", repo.path).code == 1, argv
        assert message in modelbot.err
    assert (repo.path / "models.yaml").read_bytes() == content
