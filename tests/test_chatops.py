"""Slash commands: what is a command, what is refused and with which words, and who may run what."""

import re

import pytest

from bot.chatops import Command, CommandError, authorize, parse

ROLES = {"promote": ("model-owners", "ml-lead"), "status": ()}


@pytest.mark.parametrize(
    "body, expected",
    [
        ("/promote churn 7 to production", Command("promote", "churn", "7", "production")),
        ("/promote churn 7 TO production\r\nplease, thanks", Command("promote", "churn", "7", "production")),
        ("/rollback churn production", Command("rollback", "churn", stage="production")),
        ("/rollback churn", Command("rollback", "churn")),
        ("/validate", Command("validate")),
        ("/status", Command("status")),
        ("/status churn", Command("status", "churn")),
        ("  /cancel  ", Command("cancel")),
        ("/help", Command("help")),
    ],
)
def test_commands_parse_from_the_first_line(body, expected):
    assert parse(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "LGTM\n/promote churn 7 to production",  # only the first line counts
        "promote churn 7 to production",
        "// a code comment",
        "/cc @someone",
        "",
    ],
)
def test_comments_without_a_command_are_not_commands(body):
    assert parse(body) is None


@pytest.mark.parametrize(
    "body, message",
    [
        ("/promote churn 7 production", "Usage: `/promote MODEL VERSION to STAGE`"),
        ("/promote churn 7 to prod$(id)", "is not a valid stage"),
        ("/promote Churn;curl 7 to staging", "is not a valid model name"),
        ("/promote churn `id` to staging", "is not a valid version"),
        ("/rollback", "Usage: `/rollback MODEL [STAGE]`"),
        ("/validate now", "takes no arguments"),
        ("/promot churn 7 to staging", "did you mean `/promote MODEL VERSION to STAGE`"),
        ("/promote " + "a" * 300, "longer than 200"),
    ],
)
def test_malformed_commands_are_answered_with_the_right_syntax(body, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        parse(body)


PROMOTE = Command("promote", "churn", "7", "production")


@pytest.mark.parametrize(
    "actor, permission, is_bot, roles, allowed, reason",
    [
        ("lena", "write", False, {"ml-lead"}, True, "authorized"),
        ("lena", "admin", False, {"model-owners"}, True, "authorized"),
        ("rob", "read", False, {"ml-lead"}, False, "@rob has read permission; `/promote` needs write or more"),
        ("tia", "triage", False, {"ml-lead"}, False, "needs write or more"),
        ("wes", "write", False, set(), False, "`/promote` needs one of the roles model-owners, ml-lead; @wes has none"),
        ("dependabot[bot]", "write", False, {"ml-lead"}, False, "commands from bots are ignored"),
        ("helper", "write", True, {"ml-lead"}, False, "commands from bots are ignored"),
    ],
)
def test_authorization_needs_write_permission_and_the_commands_role(actor, permission, is_bot, roles, allowed, reason):
    decision = authorize(
        PROMOTE, actor=actor, permission=permission, is_bot=is_bot, command_roles=ROLES, actor_roles=roles
    )
    assert (decision.allowed, reason in decision.reason) == (allowed, True), decision.reason


def test_a_command_without_required_roles_needs_only_write():
    assert authorize(
        Command("status"), actor="wes", permission="write", is_bot=False, command_roles=ROLES, actor_roles=()
    ).allowed
