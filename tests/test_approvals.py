"""approval_state: the security cases of role approvals, one row each."""

import pytest

from bot.approvals import Review, approval_state
from bot.policy import Approval

HEAD, OLD = "a" * 40, "b" * 40
RULES = (Approval("ml-lead", 1), Approval("risk", 1))
MEMBERS = {"ml-lead": frozenset({"lena", "liam"}), "risk": frozenset({"rita", "lena"})}


def state(*reviews, rules=RULES, author="dana"):
    return approval_state(list(reviews), rules, MEMBERS, author, HEAD, bots=frozenset({"modelbot"}))


def approve(user, sha=HEAD):
    return Review(user, "APPROVED", sha)


def test_one_member_of_each_role_approving_the_head_approves():
    result = state(approve("liam"), approve("rita"))
    assert result.approved and result.description == "ml-lead 1/1, risk 1/1"


def test_one_person_in_two_roles_counts_once():
    result = state(approve("lena"))
    assert not result.approved and result.description == "ml-lead 1/1, risk 0/1"


def test_a_person_in_two_roles_is_placed_where_needed():
    assert state(approve("lena"), approve("liam")).approved


@pytest.mark.parametrize(
    "reviews, why",
    [
        ([approve("dana")], "the author cannot approve their own PR"),
        ([Review("lena", "APPROVED", HEAD, is_bot=True)], "bots never count"),
        ([approve("modelbot")], "the bot never counts"),
        ([approve("mallory")], "not a member of the role"),
        ([approve("liam", OLD)], "approved an older head"),
        ([approve("liam"), Review("liam", "DISMISSED", HEAD)], "the approval was dismissed"),
    ],
)
def test_approvals_that_do_not_count(reviews, why):
    result = state(*reviews, rules=(Approval("ml-lead", 1),))
    assert not result.approved, why
    assert result.rules[0].approvers == ()


def test_a_stale_approval_is_reported_as_such():
    assert state(approve("liam", OLD)).stale == ("liam",)


def test_a_later_comment_does_not_withdraw_an_approval():
    assert state(approve("liam"), Review("liam", "COMMENTED", HEAD), approve("rita")).approved


def test_changes_requested_by_a_role_member_blocks_until_they_approve():
    blocked = state(approve("liam"), approve("rita"), Review("lena", "CHANGES_REQUESTED", OLD))
    assert not blocked.approved
    assert blocked.description == "ml-lead 1/1, risk 1/1; changes requested by lena"
    assert state(approve("liam"), approve("rita"), Review("lena", "CHANGES_REQUESTED", OLD), approve("lena")).approved


def test_changes_requested_by_an_outsider_does_not_block():
    assert state(approve("liam"), approve("rita"), Review("mallory", "CHANGES_REQUESTED", HEAD)).approved


def test_who_may_still_approve_excludes_the_author_and_those_who_did():
    result = approval_state([approve("liam")], RULES, MEMBERS, "rita", HEAD)
    assert result.rules[1].may_approve == ("lena",)


def test_user_names_compare_case_insensitively():
    assert state(Review("Liam", "APPROVED", HEAD), approve("rita")).approved
