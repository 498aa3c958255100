"""Red-team matrix: attacks by a writer with no role (wes), a PR author, a commenter, a reviewer or a model's
code, through the bot's real flows on localhub, each a test of the safe behaviour. The ones that got through
when the matrix was written: a PR into a writer's branch with lax policies retargeted to main, a decoy PR
sharing the head, a reformat that aged the soak clock, a role of one policy approving for another, commands
authorised by the default policy only, a YAML alias that silenced /promote, and a `task` change without
approval."""

from __future__ import annotations

import pytest

from bot.chatops import CommandError, parse
from bot.flows.automerge import allowed
from bot.flows.commands import CommandComment, handle_comment
from bot.flows.validate_pr import plan_pull, refresh_approvals, validate_pull
from localhub.errors import ApiError
from tests.flows.conftest import bot_context, next_run
from tests.flows.test_authority import writer_pull
from tests.flows.test_commands import comment

REPO = "/repos/acme/models"
DIABETES_STAGES = "      staging: 1\n      production: null"
TUMOR_STAGES = "      staging: 2\n      production: 1\n"
TUMOR_PROMOTED = "      staging: 2\n      production: 2\n"
LAX_DEFAULT = (
    "version: 1\nadmin_role: platform\nroles:\n  platform: {users: [pat-platform]}\n"
    "stages:\n  staging: {}\n  production: {allow_skip: true}\n"
)
LAX_REGRESSION = "version: 1\nextends: default\n"


def main_text(ctx, path="models.yaml"):
    return ctx.forge.file_text(path, "main")


def on_main(hub, files, message="setup", who="pat-platform"):
    """What an admin merged earlier (the state of the default branch an attack starts from)."""
    return hub.hub.as_user(who).push("main", files, message)


def retarget(hub, number, base):
    """The PR's author edits its base branch. (Done on localhub's state: localhub's own `edited` payload for a
    base change lacks `changes.base.ref`/`sha` and fails its GitHub-schema check.)"""
    from localhub.rest.ops import issues

    with hub.hub.state.lock:
        pr = issues.get_issue(hub.hub, number).pull
        pr.base_ref, pr.base_sha = base, hub.hub.git.resolve_commit(f"refs/heads/{base}")


def checks(hub, sha):
    runs = hub.request("GET", f"{REPO}/commits/{sha}/check-runs", "pat-platform")[2]["check_runs"]
    return {r["name"]: r["conclusion"] for r in runs}


def version_block(model, version, created_at="2026-11-20T10:00:00Z", uri=None, extra=""):
    uri = uri or f"models:/{model}/{version}"
    return (f"      - version: {version}\n        uri: {uri}\n        created_at: \"{created_at}\"\n"
            f"        created_by: wes-writer\n{extra}")


def register_tumor(text, block):
    return text.replace("\n    stages:\n      staging: 2\n", f"{block}\n    stages:\n      staging: 2\n", 1)


def register_diabetes(text, block):
    anchor = "          params: {model: ridge, alpha: 1.0}\n"
    return text.replace(anchor, anchor + block, 1)


# --- 1. Authority from a base branch the attacker controls -------------------------------------------------------


def lax_base_and_promotion(hub, tmp_path):
    """main protected; wes pushes a branch `wes/base` with lax policies and a promotion branch `wes/promote`."""
    hub.hub.protect_branch("main", ["modelbot/validation", "modelbot/approvals"])
    ctx = bot_context(hub, tmp_path)
    registry = main_text(ctx)
    wes = hub.hub.as_user("wes-writer")
    wes.push("wes/base", {"policies/default.yaml": LAX_DEFAULT, "policies/regression.yaml": LAX_REGRESSION},
             "tidy policies", base="main")
    wes.push("wes/promote", {"models.yaml": registry.replace(DIABETES_STAGES, "      staging: 1\n      production: 1")},
             "promote diabetes", base="main")
    return wes


def test_a_pr_validated_against_a_writers_branch_cannot_be_retargeted_to_main_and_merged(hub, tmp_path):
    wes = lax_base_and_promotion(hub, tmp_path)
    number = wes.open_pull("wes/promote", "wes/base", "Promote diabetes-progression 1 to production")
    run = next_run(hub, tmp_path)
    pull = run.forge.pull_request(number)
    validate_pull(run, pull, files=run.forge.pull_files(number), actors=["wes-writer"])
    retarget(hub, number, "main")  # GitHub sends `pull_request.edited`: the bot judges it again
    with pytest.raises(ApiError):
        wes.merge(number)
    assert DIABETES_STAGES in main_text(run)  # diabetes-progression still serves no production


def test_a_decoy_pr_sharing_the_head_cannot_turn_the_real_prs_checks_green(hub, tmp_path, diabetes_v1):
    wes = lax_base_and_promotion(hub, tmp_path)
    real = wes.open_pull("wes/promote", "main", "Promote diabetes-progression 1 to production")
    run = next_run(hub, tmp_path)
    validate_pull(run, run.forge.pull_request(real), files=["models.yaml"], actors=["wes-writer"])
    head = run.forge.pull_request(real).head_sha
    assert checks(hub, head)["modelbot/approvals"] != "success"  # ml-lead and risk are needed
    decoy = wes.open_pull("wes/promote", "wes/base", "wip")
    posted = wes.comment(decoy, "/validate")
    handle_comment(next_run(hub, tmp_path), CommandComment(posted.id, "/validate", "wes-writer", False, decoy, True))
    with pytest.raises(ApiError):
        wes.merge(real)


# --- 2. Soak clock ---------------------------------------------------------------------------------------------


def _at(monkeypatch, when):
    import localhub.rest.ops.commits as commits

    monkeypatch.setattr(commits, "now", lambda: when)


def test_a_value_on_its_own_line_does_not_age_the_soak_clock(hub, tmp_path, monkeypatch):
    seed = bot_context(hub, tmp_path, workspace=False).forge.file_text("models.yaml", "main")
    _at(monkeypatch, "2026-11-23T09:00:00Z")  # a no-transition reformat (needs no approval), long ago
    on_main(hub, {"models.yaml": seed.replace(DIABETES_STAGES, "      staging:\n        1\n      production: null")},
            "reformat")
    _at(monkeypatch, "2026-11-25T11:30:00Z")  # v2 enters staging 30 minutes before the promotion
    reformatted = seed.replace(DIABETES_STAGES, "      staging:\n        2\n      production: null")
    on_main(hub, {"models.yaml": register_diabetes(reformatted, version_block("diabetes-progression", 2))},
            "v2 to staging")
    _at(monkeypatch, "2026-11-25T11:40:00Z")
    ctx = bot_context(hub, tmp_path)
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace("      production: null", "      production: 2")})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    assert any("has served 'staging' for 30m" in r for r in planned.plan.all_refusals), planned.plan.all_refusals


def test_the_soak_clock_holds_for_a_plain_stage_line(hub, tmp_path, monkeypatch):
    """Control for the attack above: written as usual, the same history is refused for its soak."""
    seed = bot_context(hub, tmp_path, workspace=False).forge.file_text("models.yaml", "main")
    _at(monkeypatch, "2026-11-25T11:30:00Z")
    staged = seed.replace(DIABETES_STAGES, "      staging: 2\n      production: null")
    on_main(hub, {"models.yaml": register_diabetes(staged,
                                                   version_block("diabetes-progression", 2))}, "v2 to staging")
    ctx = bot_context(hub, tmp_path)
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace("      production: null", "      production: 2")})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    assert any("has served 'staging' for 30m" in r for r in planned.plan.all_refusals), planned.plan.all_refusals


# --- 3. Rollout state: traffic to versions nobody validated ----------------------------------------------------


def test_a_rollout_state_cannot_send_traffic_to_a_model_outside_the_registry(hub, ctx):
    """A PR registering a file:// model and shadowing production with it (a `step`: on-call only, no uri check)."""
    block = version_block("tumor-malignancy", 3, uri="file:///tmp/evil-model")
    state = ("    deployment:\n      production: {strategy: shadow, traffic: {1: 100}, shadow: 3, "
             "mirror_percent: 100}\n")
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: register_tumor(t, block).replace(
        TUMOR_STAGES, TUMOR_STAGES + state, 1)})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    assert not planned.plan.ok
    assert any("version 3" in r for r in planned.plan.all_refusals), planned.plan.all_refusals


def test_a_rollout_step_to_a_never_validated_version_needs_the_promotion_rules(hub, ctx):
    """A `step` (on-call only) sending 90% of production to a version that never served it."""
    on_main(hub, {"models.yaml": register_tumor(main_text(ctx), version_block("tumor-malignancy", 3))}, "register 3")
    run = next_run(hub, ctx.reports.parent)
    state = "    deployment:\n      production: {strategy: canary, step: 0, traffic: {1: 10, 3: 90}}\n"
    pull = writer_pull(hub, run, {"models.yaml": lambda t: t.replace(TUMOR_STAGES, TUMOR_STAGES + state, 1)})
    planned = plan_pull(run, pull, ["models.yaml"])
    roles = {a.role for s in planned.plan.steps for a in s.approvals}
    assert not planned.plan.ok or {"ml-lead", "risk"} <= roles, (planned.plan.all_refusals, roles)


def test_a_self_merging_rollback_cannot_carry_a_rollout_state_for_another_version(hub, ctx):
    """A real rollback (auto-merges on on-call's approval) that also writes a canary giving v3 90% of production
    (deploy.strategies.target takes a state written with the stage change 'as written')."""
    text = register_tumor(main_text(ctx), version_block("tumor-malignancy", 3))
    on_main(hub, {"models.yaml": text.replace(TUMOR_STAGES, TUMOR_PROMOTED)}, "prod 2")
    run = next_run(hub, ctx.reports.parent)
    state = "    deployment:\n      production: {strategy: canary, step: 0, traffic: {1: 10, 3: 90}}\n"
    pull = writer_pull(hub, run, {"models.yaml": lambda t: t.replace(
        "      staging: 2\n      production: 2\n", TUMOR_STAGES + state, 1)})
    planned = plan_pull(run, pull, ["models.yaml"])
    [step] = planned.plan.steps
    assert step.transition.kind == "rollback"  # v1 served production before: a real rollback...
    assert not allowed(planned.plan, planned.policies)  # ...but it must not merge itself with that state



# --- 4. Roles: whose membership counts -------------------------------------------------------------------------

STRICT = (
    "version: 1\nadmin_role: platform\nroles:\n  risk: {users: [sara-strict]}\n  platform: {users: [pat-platform]}\n"
    "stages:\n  staging: {}\n  production:\n    allow_skip: true\n    approvals: [{role: risk, count: 1}]\n"
    "commands:\n  promote: [risk]\n  rollback: [risk]\n"
)


def _strict_diabetes(hub, ctx):
    hub.hub.add_user("sara-strict", role="write")
    on_main(hub, {"policies/strict.yaml": STRICT,
                  "models.yaml": main_text(ctx).replace("    policy: regression\n", "    policy: strict\n")},
            "diabetes under the strict policy")


def test_a_role_of_one_policy_does_not_approve_for_another_policys_role_of_the_same_name(hub, ctx):
    _strict_diabetes(hub, ctx)
    run = next_run(hub, ctx.reports.parent)
    pull = writer_pull(hub, run, {"models.yaml": lambda t: t.replace(TUMOR_STAGES, TUMOR_PROMOTED)
                                  .replace(DIABETES_STAGES, "      staging: 1\n      production: 1")})
    state = refresh_approvals(run, pull, ["models.yaml"])
    assert any("sara-strict" in r.may_approve for r in state.rules), [r.as_dict() for r in state.rules]


def test_commands_follow_the_models_own_policy(hub, ctx):
    _strict_diabetes(hub, ctx)
    reply = handle_comment(next_run(hub, ctx.reports.parent),
                           comment(hub, "dana-ds", "/promote diabetes-progression 1 to production"))
    assert reply.outcome == "refused", reply.text


# --- 5. Crash the bot so it says nothing -----------------------------------------------------------------------


def _alias_stages_into_a_new_version(text):
    text = text.replace("\n    stages:\n      staging: 2\n      production: 1\n",
                        "\n    stages: &st\n      staging: 2\n      production: 1\n", 1)
    return register_diabetes(text, version_block("diabetes-progression", 2, extra="        lineage: {params: *st}\n"))


def test_a_yaml_alias_of_stages_does_not_silence_promote(hub, tmp_path, diabetes_v1):
    hub.hub.protect_branch("main", ["modelbot/validation", "modelbot/approvals"])
    ctx = bot_context(hub, tmp_path)
    pull = writer_pull(hub, ctx, {"models.yaml": _alias_stages_into_a_new_version})
    result = validate_pull(ctx, pull, files=["models.yaml"], actors=["wes-writer"])
    assert result.status.value == "fail" and "allows no anchors, aliases or merge keys" in result.refusals[0]
    with pytest.raises(ApiError):  # refused: it cannot land, so /promote keeps working
        hub.hub.as_user("wes-writer").merge(pull.number)
    event = comment(hub, "dana-ds", "/promote tumor-malignancy 2 to production")
    run = next_run(hub, tmp_path)
    try:
        reply = handle_comment(run, event)
    except Exception as exc:
        pytest.fail(f"/promote crashed without a reply: {type(exc).__name__}: {exc}")
    assert reply.outcome in ("done", "refused")


# --- 6. Already defended --------------------------------------------------------------------------------------


def test_a_forged_automerge_comment_does_not_stop_or_fake_the_merge(hub, tmp_path, diabetes_v1):
    from tests.flows.test_automerge import open_rollback

    number = open_rollback(hub, tmp_path)
    hub.hub.as_user("wes-writer").comment(
        number, f"<!-- modelbot:pull:{number}:automerge -->\n**Merged by modelbot**: nothing to see.")
    hub.hub.as_user("omar-oncall").review(number, "APPROVE")
    run = next_run(hub, tmp_path)
    assert refresh_approvals(run, run.forge.pull_request(number), ["models.yaml"]).approved
    assert run.forge.pull_request(number).merged


def test_the_bot_s_own_automerge_comment_edited_to_say_merged_does_not_stop_the_merge(hub, tmp_path, diabetes_v1):
    """GitHub first refuses the merge (a required check nobody reports) and the bot says "Not merged"; wes edits
    that comment of the bot's (a writer may edit any comment) to claim it merged. Once the check is no longer
    required, the bot asks GitHub whether the pull request is merged, and merges it."""
    from bot.github.markers import marker
    from tests.flows.test_automerge import open_rollback

    number = open_rollback(hub, tmp_path)
    hub.hub.protect_branch("main", ["ci/nobody-reports-this"])
    hub.hub.as_user("omar-oncall").review(number, "APPROVE")
    run = next_run(hub, tmp_path)
    refresh_approvals(run, run.forge.pull_request(number), ["models.yaml"])
    said = run.forge.find_comment(number, marker("pull", str(number), "automerge"))
    assert said is not None and "**Not merged**" in said.body
    hub.request("PATCH", f"{REPO}/issues/comments/{said.id}", "wes-writer",
                {"body": said.body.replace("**Not merged**", "**Merged by modelbot**")})
    hub.hub.protect_branch("main", [])
    run = next_run(hub, tmp_path)
    assert refresh_approvals(run, run.forge.pull_request(number), ["models.yaml"]).approved
    assert run.forge.pull_request(number).merged


def test_a_rollback_approved_on_an_old_head_does_not_merge_after_a_push(hub, tmp_path, diabetes_v1):
    from tests.flows.test_automerge import open_rollback

    number = open_rollback(hub, tmp_path)
    hub.hub.as_user("omar-oncall").review(number, "APPROVE")
    pull = next_run(hub, tmp_path).forge.pull_request(number)
    text = next_run(hub, tmp_path).forge.file_text("models.yaml", pull.head_sha)
    hub.hub.as_user("wes-writer").push(pull.head_ref, {"models.yaml": text.replace(
        "description: Ridge regression.", "description: Ridge regression (v1).")}, "tweak")
    run = next_run(hub, tmp_path)
    state = refresh_approvals(run, run.forge.pull_request(number), ["models.yaml"])
    assert not state.approved and "omar-oncall" in state.stale
    assert not run.forge.pull_request(number).merged


def test_one_person_in_two_roles_counts_once(hub, ctx):
    hub.hub.add_team("acme", "ml-leads", ["lena-ml", "rita-risk"])
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace(TUMOR_STAGES, TUMOR_PROMOTED)})
    hub.hub.as_user("rita-risk").review(pull.number, "APPROVE")
    state = refresh_approvals(next_run(hub, ctx.reports.parent), pull, ["models.yaml"])
    assert not state.approved
    assert sum("rita-risk" in r.approvers for r in state.rules) == 1



@pytest.mark.parametrize("edit", [
    lambda t: t.replace("      production: 1\n", "      production: \"1\"\n"),  # 1 and "1" are one version
    lambda t: t.replace("      production: 1\n", "      production: 01\n"),   # YAML int 01 is 1
])
def test_spellings_of_the_same_version_are_no_transition(hub, ctx, edit):
    pull = writer_pull(hub, ctx, {"models.yaml": edit})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    assert planned.plan.steps == ()


@pytest.mark.parametrize("value, problem", [
    ("1.0", "not registered"),            # a float is another id, not a spelling of 1
    ("\"01\"", "not registered"),         # nor is the string 01
    ("\"\\uff12\"", "production"),         # a full-width 2 is no id at all (schema)
])
def test_look_alike_version_ids_are_refused(hub, ctx, value, problem):
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace("      production: 1\n",
                                                                     f"      production: {value}\n")})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    assert isinstance(planned, list) and any(problem in p for p in planned), planned


@pytest.mark.parametrize("text", [
    "stages: {production: 1, \"production\": 2}",          # duplicate key, quoted
    "stages: {production: 1, ? production : 2}",           # duplicate key, explicit
])
def test_duplicate_stage_keys_are_refused(hub, ctx, text):
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace(
        "    stages:\n      staging: 2\n      production: 1\n", f"    {text}\n", 1)})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    assert isinstance(planned, list) and any("duplicate key" in p for p in planned), planned


def test_a_merge_key_that_moves_production_is_refused(hub, ctx):
    """`<<:` hides `production: 2` inside a new version's params: models.yaml allows no anchors or merge keys."""
    block = version_block("tumor-malignancy", 3, extra="        lineage: {params: &p {production: 2}}\n")
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: register_tumor(t, block).replace(
        TUMOR_STAGES, "      <<: *p\n      staging: 2\n", 1)})
    refused = plan_pull(ctx, pull, ["models.yaml"])
    assert isinstance(refused, list) and "allows no anchors, aliases or merge keys" in refused[0]


@pytest.mark.parametrize("uri", [
    "Models:/tumor-malignancy/2", "models://profile@host/tumor-malignancy/2", "runs:/abc/../../etc",
    "runs:/abc/..", "file:models:/tumor-malignancy/2", "s3://bucket/tumor",
])
def test_uri_tricks_are_refused(hub, ctx, uri):
    block = version_block("tumor-malignancy", 3, uri=uri)
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: register_tumor(t, block).replace(
        "      staging: 2\n", "      staging: 3\n", 1)})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    refusals = planned if isinstance(planned, list) else planned.plan.all_refusals
    assert any("not an allowed model URI" in r or "does not match" in r for r in refusals), refusals


@pytest.mark.parametrize("body, verb", [
    ("/promote\u200bdiabetes-progression 1 to production", None),    # zero-width space: not a command
    ("> /promote diabetes-progression 1 to production", None),         # a quoted reply
    ("LGTM\n/promote diabetes-progression 1 to production", None),     # not the first line
    ("\ufeff/status", "status"),
    ("/status\r/promote diabetes-progression 1 to production", "error"),
    ("/status diabetes-progression\u2028/promote x 1 to production", "error"),
    ("/promote diabetes-progression \uff11 to production", "error"),   # full-width digit
    ("/promote Diabetes-progression 1 to production", "error"),
    ("/promote diabetes-progression 1 to production;rm", "error"),
])
def test_slash_command_look_alikes(body, verb):
    try:
        command = parse(body)
    except CommandError:
        assert verb == "error"
        return
    assert (command.verb if command else None) == verb


def test_a_new_model_is_governance_even_under_a_lax_policy_it_names(hub, ctx):
    text = main_text(ctx)
    start = text.index("  diabetes-progression:\n")
    clone = text[start:].replace("diabetes-progression", "diabetes-copy").replace(DIABETES_STAGES.replace(
        "diabetes-progression", "diabetes-copy"), "      staging: 1\n      production: 1")
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t + "\n" + clone})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    assert planned.plan.is_governance_change and not allowed(planned.plan, planned.policies)


def test_changing_how_a_model_is_judged_through_its_task_is_governance(hub, ctx):
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace(
        "    task: binary_classification\n", "    task: multiclass_classification\n", 1)})
    result = validate_pull(ctx, pull, files=["models.yaml"], actors=["wes-writer"])
    assert result.plan.is_governance_change and not result.approvals.approved
