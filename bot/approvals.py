"""approval_state: who approved what, judged against the policy's `{role, count}` rules. Pure; no I/O.

GitHub's own review rules are the model: a user's latest approve / request-changes / dismissal is their
standing review (a later plain comment does not withdraw an approval); an approval counts only on the head SHA
it was given for. On top of that: the PR's author and bots never count, a member of a required role who requests
changes blocks the PR, and each person counts for one rule only (separation of duties: with `ml-lead x1` and
`risk x1`, one person in both roles cannot approve alone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.policy import Approval

DECISIVE = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")


@dataclass(frozen=True)
class Review:
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    commit_id: str
    submitted_at: str = ""
    is_bot: bool = False


@dataclass(frozen=True)
class RuleState:
    role: str
    required: int
    approvers: tuple[str, ...]
    may_approve: tuple[str, ...]

    @property
    def satisfied(self) -> bool:
        return len(self.approvers) >= self.required

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "required": self.required,
            "approvers": list(self.approvers),
            "may_approve": list(self.may_approve),
            "satisfied": self.satisfied,
        }


@dataclass(frozen=True)
class ApprovalState:
    rules: tuple[RuleState, ...]
    blocked_by: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    ignored: tuple[str, ...] = field(default_factory=tuple)

    @property
    def approved(self) -> bool:
        return not self.blocked_by and all(rule.satisfied for rule in self.rules)

    @property
    def description(self) -> str:
        """The status line GitHub shows, e.g. `ml-lead 1/1, risk 0/1`; at most 140 characters."""
        parts = [f"{r.role} {min(len(r.approvers), r.required)}/{r.required}" for r in self.rules] or [
            "no approvals needed"
        ]
        text = ", ".join(parts)
        if self.blocked_by:
            text += f"; changes requested by {', '.join(self.blocked_by)}"
        return text if len(text) <= 140 else text[:139] + "…"

    def as_dict(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "description": self.description,
            "rules": [r.as_dict() for r in self.rules],
            "blocked_by": list(self.blocked_by),
            "stale": list(self.stale),
            "ignored": list(self.ignored),
        }


def standing(reviews: Iterable[Review]) -> dict[str, Review]:
    """Each user's standing review: the latest approve, request-changes or dismissal (in the order given)."""
    out: dict[str, Review] = {}
    for review in reviews:
        if review.state in DECISIVE:
            out[review.user.lower()] = review
    return out


def _assign(candidates: Mapping[int, list[str]], rules: tuple[Approval, ...]) -> dict[int, list[str]]:
    """Distinct approvers per rule, as many as each needs: a bipartite matching by augmenting paths."""
    slots = [(i, k) for i, rule in enumerate(rules) for k in range(rule.count)]
    holder: dict[str, tuple[int, int]] = {}

    def place(slot: tuple[int, int], seen: set[str]) -> bool:
        for user in candidates.get(slot[0], []):
            if user in seen:
                continue
            seen.add(user)
            if user not in holder or place(holder[user], seen):
                holder[user] = slot
                return True
        return False

    for slot in slots:
        place(slot, set())
    out: dict[int, list[str]] = {i: [] for i in range(len(rules))}
    for user, (rule_index, _) in sorted(holder.items()):
        out[rule_index].append(user)
    return out


def approval_state(
    reviews: Iterable[Review],
    rules: tuple[Approval, ...],
    members: Mapping[str, frozenset[str]],
    author: str,
    head_sha: str,
    bots: frozenset[str] = frozenset(),
    authors: frozenset[str] = frozenset(),
) -> ApprovalState:
    """The approval state of a PR. `members` maps each role to its users (teams already resolved), lower-case.
    `authors` are people who count as the PR's author besides `author` (who asked the bot to open it, who
    pushed its head): nobody approves their own change."""
    author = author.lower()
    excluded = {author, *authors}
    in_any_role = frozenset().union(*(members.get(rule.role, frozenset()) for rule in rules)) if rules else frozenset()
    valid: set[str] = set()
    blocked: list[str] = []
    stale: list[str] = []
    ignored: list[str] = []
    for user, review in standing(reviews).items():
        if user in excluded or review.is_bot or user in bots or user.endswith("[bot]"):
            ignored.append(user)
            continue
        if review.state == "CHANGES_REQUESTED" and user in in_any_role:
            blocked.append(user)
        elif review.state == "APPROVED":
            if review.commit_id != head_sha:
                stale.append(user)
            elif user in in_any_role:
                valid.add(user)
            else:
                ignored.append(user)
    candidates = {i: sorted(valid & members.get(rule.role, frozenset())) for i, rule in enumerate(rules)}
    assigned = _assign(candidates, rules)
    states = []
    for i, rule in enumerate(rules):
        others = sorted(members.get(rule.role, frozenset()) - excluded - set(assigned[i]) - bots)
        states.append(RuleState(rule.role, rule.count, tuple(assigned[i]), tuple(others)))
    return ApprovalState(tuple(states), tuple(sorted(blocked)), tuple(sorted(stale)), tuple(sorted(ignored)))
