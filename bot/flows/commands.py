"""Slash commands from comments: acknowledge, authorize, dispatch through one table, answer in one reply.

Only newly created comments reach this module (the workflow listens to `created` only); bots are ignored; the
author needs write permission and the role the base policy names for the command. The reply names the head
SHA a pull-request command acted on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.chatops import HELP_TEXT, Command, CommandError, Decision, authorize, parse
from bot.errors import InvalidFile
from bot.flows.context import BotContext, policies_at
from bot.github.markers import marker
from bot.policy import DEFAULT_POLICY, Policies
from bot.texts import render, say


@dataclass(frozen=True)
class CommandComment:
    """What a command handler needs from an `issue_comment` event, validated at the boundary."""

    comment_id: int
    body: str
    actor: str
    actor_is_bot: bool
    number: int
    is_pull_request: bool


@dataclass(frozen=True)
class Reply:
    outcome: str  # done, refused, ignored, failed
    text: str
    rewrite: bool = True  # False: an earlier answer to this comment still stands


Handler = Callable[[BotContext, Command, CommandComment], Reply]


def _reply_marker(event: CommandComment) -> str:
    return marker("command", str(event.comment_id), "reply")


def _actor_roles(
    ctx: BotContext,
    policies: Policies,
    policy_name: str,
    model: str | None,
    actor: str,
    wanted: tuple[str, ...],
    owners: tuple[str, ...],
) -> set[str]:
    """Which of the `wanted` roles the actor holds under the policy (and overrides) of `model`: direct
    membership first, teams only when needed."""
    policy = policies.get(policy_name, model)
    login = actor.lower()
    direct = {r for r in wanted if login in {u.lower() for u in policy.role_members(r, owners).users}}
    if direct:
        return direct
    from bot.flows.approvals import Rule, members

    scope = (model,) if model else ()
    return {r for r in wanted if login in members(ctx.forge, policies, Rule(r, r, 1, policy_name, owners, scope))}


def decide(ctx: BotContext, command: Command, event: CommandComment) -> Decision:
    """Authorization from GitHub permission and the base branch's policy roles."""
    if event.actor_is_bot:
        return Decision(False, "commands from bots are ignored")
    permission = ctx.forge.permission(event.actor)
    from bot.flows.propose import base_revision

    base = base_revision(ctx)
    # The command's model is governed by the policy the base branch names for it (with its overrides); a command
    # with no model (or one the file does not know) by the default policy.
    known = base.registry.model(command.model) if command.model else None
    policy_name = known.policy if known is not None else DEFAULT_POLICY
    policies = policies_at(ctx, base.ref, [policy_name])
    try:
        needed = policies.get(policy_name, known.name if known else None).commands
    except InvalidFile as exc:
        return Decision(False, f"the policy of {command.model} cannot be read: {exc.problems[0].message}")
    wanted = needed.get(command.verb, ())
    roles = (
        _actor_roles(
            ctx,
            policies,
            policy_name,
            known.name if known else None,
            event.actor,
            wanted,
            known.owners if known else (),
        )
        if wanted
        else set()
    )
    return authorize(
        command, actor=event.actor, permission=permission, is_bot=False, command_roles=needed, actor_roles=roles
    )


def on_promote(ctx: BotContext, command: Command, event: CommandComment) -> Reply:
    from bot.flows.propose import propose
    from bot.flows.validate_pr import validate_proposal

    assert command.model and command.version and command.stage
    result = propose(
        ctx,
        command.model,
        command.version,
        command.stage,
        requested_by=event.actor,
        source=f"/promote in #{event.number}",
    )
    if not result.ok or result.pull is None:
        return Reply("refused", render("command_reply.md.j2", command=command, refusals=result.refusals))
    pull = result.pull.pull

    def reply(validation: Any, requested: bool = False) -> str:
        return render(
            "command_reply.md.j2",
            command=command,
            refusals=(),
            pull=pull,
            action=result.pull.action if result.pull else None,
            superseded=result.pull.superseded if result.pull else None,
            validation=validation,
            requested=requested,
        )

    # A pull request opened with the workflow's token starts no workflow run: validate it (in Actions, the pull
    # request workflow does, in a job whose token cannot write), recording the requester as the change's author.
    # Validated or asked for on this head for them already (a run killed after that, re-run): that stands, what
    # the killed run left is finished (the approvals), and the answer is the one it would have given.
    asked = validate_proposal(ctx, pull, event.actor, result.pull.action == "unchanged")
    validation = asked.validation
    return Reply("done", reply(validation, requested=validation is None), rewrite=not asked.earlier)


def on_rollback(ctx: BotContext, command: Command, event: CommandComment) -> Reply:
    """Revert the change that made the stage's current promotion, as a PR labelled `rollback`, then validate it
    (a rollback has the policy's rollback rules: its approvals, its reduced gates). A revert that conflicts with
    later changes is opened all the same, for a person to resolve, and the reply says so."""
    from bot.deploy.rollback import find
    from bot.deploy.rollback_pr import open_rollback
    from bot.errors import RefusedError
    from bot.flows.propose import base_revision
    from bot.flows.record import recorder
    from bot.flows.validate_pr import validate_proposal
    from bot.workspace import REGISTRY_FILE

    assert command.model
    if ctx.workspace is None:
        return Reply("refused", say("rollback_needs_history"))
    model = base_revision(ctx).registry.model(command.model)
    if model is None:
        return Reply("refused", say("no_model", model=command.model))
    stage = command.stage or next((s for s in reversed(list(model.stages)) if model.stages[s]), None)
    if stage is None:
        return Reply("refused", say("serves_no_stage", model=command.model))
    try:
        target = find(ctx.workspace, command.model, stage)
        # Who asked and the label, on the revert's head before it opens (bot/flows/record.py): a run killed after
        # opening it leaves them to its re-run and to the schedule's sweep (who asked may not approve it).
        opened = open_rollback(ctx.forge, ctx.workspace, target, ctx.default_branch, recorder(ctx, [event.actor]))
    except RefusedError as exc:
        return Reply("refused", say("cannot_roll_back", model=command.model, stage=stage, reason=exc))
    pull = opened.pull
    # Validated or asked for once: a re-run finds the record its killed run left and finishes from there.
    validation = validate_proposal(ctx, pull, event.actor, True, files=[REGISTRY_FILE]).validation
    if opened.how == "conflict":
        return Reply("done", say("rollback_conflict", described=opened.describe()))
    return Reply(
        "done",
        say(
            "rollback_opened",
            number=pull.number,
            commit=target.commit,
            title=target.title,
            head=pull.head_sha,
            validation=validation.status.value if validation is not None else None,
            approvals=validation.approvals.description if validation is not None and validation.approvals else "-",
        ),
    )


def on_validate(ctx: BotContext, command: Command, event: CommandComment) -> Reply:
    from bot.flows.validate_pr import validate_or_request

    if not event.is_pull_request:
        return Reply("refused", say("validate_where"))
    pull = ctx.forge.pull_request(event.number)
    validation = validate_or_request(ctx, pull, files=None)
    if validation is None:
        return Reply("done", say("validation_requested", head=pull.head_sha))
    verdict = validation.outcomes[0].verdict if validation.outcomes else ""
    return Reply("done", say("validated", head=pull.head_sha, status=validation.status.value, verdict=verdict))


def on_cancel(ctx: BotContext, command: Command, event: CommandComment) -> Reply:
    """Close a promotion PR (one the bot opened, on its promotion branch) and delete its branch. A fork's pull
    request is never one: its branch of the same name is not the repository's, which deleting would close."""
    if not event.is_pull_request:
        return Reply("refused", say("cancel_where"))
    pull = ctx.forge.pull_request(event.number)
    if pull.fork or not pull.head_ref.startswith("modelbot/promote/") or pull.state != "open":
        return Reply("refused", say("nothing_to_cancel", number=event.number))
    ctx.forge.close_pull(event.number)
    return Reply("done", say("cancelled", number=event.number, head=pull.head_sha, branch=pull.head_ref))


def on_status(ctx: BotContext, command: Command, event: CommandComment) -> Reply:
    from bot.flows.propose import base_revision

    registry = base_revision(ctx).registry
    models = [m for m in registry.models.values() if command.model in (None, m.name)]
    if command.model and not models:
        return Reply("refused", say("no_model", model=command.model))
    return Reply("done", render("status.md.j2", models=models, branch=ctx.default_branch))


def on_help(ctx: BotContext, command: Command, event: CommandComment) -> Reply:
    return Reply("done", HELP_TEXT)


def handle_comment(ctx: BotContext, event: CommandComment) -> Reply:
    """The whole life of one command comment; every answer goes into one reply kept up to date. The verb's
    handler is found in `bot.routing.COMMANDS`."""
    from bot import routing

    if event.actor_is_bot or event.actor.lower().endswith("[bot]"):
        return Reply("ignored", "comment from a bot")
    try:
        command = parse(event.body)
    except CommandError as exc:
        command = None
        error = str(exc)
    else:
        error = ""
    if command is None and not error:
        return Reply("ignored", "no command")
    answered = ctx.forge.find_comment(event.number, _reply_marker(event)) is not None
    if not answered:  # a re-run of the same event does not react twice
        ctx.forge.react(event.comment_id, "eyes")
    if command is None:
        reply = Reply("refused", say("bad_command", actor=event.actor, error=error, help=HELP_TEXT))
    else:
        decision = decide(ctx, command, event)
        if not decision.allowed:
            reply = Reply("refused", say("not_run", reason=decision.reason))
        elif command.verb not in routing.COMMANDS:
            reply = Reply("refused", say("unavailable", verb=command.verb))
        else:
            try:
                handler: Handler = routing.load(routing.COMMANDS[command.verb])
                reply = handler(ctx, command, event)
            except Exception as exc:  # the commenter always gets an answer, whatever broke
                import traceback

                traceback.print_exc()
                first = str(exc).splitlines()[0] if str(exc) else ""
                reply = Reply("failed", say("crashed", verb=command.verb, kind=type(exc).__name__, first_line=first))
    if reply.rewrite or not answered:
        ctx.forge.upsert_comment(event.number, _reply_marker(event), reply.text)
    return reply
