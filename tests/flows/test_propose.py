"""Proposing a promotion on GitHub: one PR per (model, stage), or a refusal that opens nothing."""

from bot.flows.propose import propose
from bot.registry import parse
from tests.flows.conftest import bot_context


def test_a_promotion_opens_one_labelled_pr_with_the_one_line_edit(hub, ctx):
    result = propose(ctx, "tumor-malignancy", "2", "production", requested_by="lena-ml", source="/promote in #3")
    assert result.ok, result.refusals
    pull = result.pull.pull
    assert (result.pull.action, pull.title, pull.head_ref) == (
        "opened",
        "Promote tumor-malignancy 2 to production",
        "modelbot/promote/tumor-malignancy/production",
    )
    assert set(pull.labels) == {"promotion", "model:tumor-malignancy", "stage:production"}
    head = parse(ctx.forge.file_text("models.yaml", pull.head_sha))
    base = parse(ctx.forge.file_text("models.yaml", "main"))
    assert head.models["tumor-malignancy"].stages["production"] == "2"
    assert base.models["tumor-malignancy"].stages["production"] == "1"
    assert "1 × `ml-lead`, 1 × `risk`" in pull.body and "`models:/tumor-malignancy/2`" in pull.body


def test_proposing_again_changes_nothing(hub, ctx):
    first = propose(ctx, "tumor-malignancy", "2", "production")
    mark = hub.log.mark()
    again = propose(ctx, "tumor-malignancy", "2", "production")
    assert again.pull.action == "unchanged" and again.pull.pull.number == first.pull.pull.number
    assert hub.log.writes(mark) == []


def test_a_refused_promotion_opens_no_pr(hub, tmp_path):
    ctx = bot_context(hub, tmp_path, workspace=False)  # no history: the soak time cannot be established
    mark = hub.log.mark()
    result = propose(ctx, "tumor-malignancy", "2", "production")
    assert not result.ok and "cannot tell since when version 2 serves 'staging'" in result.refusals[0]
    assert hub.log.writes(mark) == []


def test_an_unregistered_version_is_refused_with_the_registered_ones(ctx):
    result = propose(ctx, "tumor-malignancy", "9", "staging")
    assert result.refusals == ("version 9 of 'tumor-malignancy' is not registered; registered: 1, 2",)


def test_the_cli_opens_the_promotion_pr_on_github(hub, tmp_path, monkeypatch, capsys, diabetes_v1):
    from bot.cli import main
    from tests.support.localhub import git

    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    for name, value in hub.bot_env().items():
        monkeypatch.setenv(name, value)
    code = main(
        ["propose", "diabetes-progression", "1", "--to", "production", "--github", "--repo", str(checkout), "--json"]
    )
    out = __import__("json").loads(capsys.readouterr().out)
    assert code == 0 and out["action"] == "opened" and out["validation"] == "pass"
