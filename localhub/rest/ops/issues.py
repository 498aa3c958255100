"""Issues, comments, labels and reactions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.errors import ApiError, invalid, missing, not_found
from localhub.rest import webhooks
from localhub.state import REACTIONS, Comment, Issue, Label, Reaction, now

if TYPE_CHECKING:
    from localhub.hub import Hub

MAX_BODY = 65536  # GitHub rejects longer comment and issue bodies


def get_issue(hub: Hub, number: int) -> Issue:
    issue = hub.state.issues.get(number)
    if issue is None:
        raise not_found()
    return issue


def get_comment(hub: Hub, comment_id: int) -> Comment:
    comment = hub.state.comments.get(comment_id)
    if comment is None:
        raise not_found()
    return comment


def _check_body(resource: str, body: object) -> str:
    if not isinstance(body, str) or not body:
        raise missing(resource, "body")
    if len(body) > MAX_BODY:
        raise invalid(resource, "body", "custom", f"Body is too long (maximum is {MAX_BODY} characters)")
    return body


def create_issue(hub: Hub, actor: str, title: str, body: str | None = None) -> Issue:
    if not title:
        raise missing("Issue", "title")
    state = hub.state
    issue = Issue(number=state.next_number(), id=state.next_id(), title=title, body=body, user=actor)
    state.issues[issue.number] = issue
    return issue


def create_comment(hub: Hub, actor: str, number: int, body: object) -> Comment:
    issue = get_issue(hub, number)
    comment = Comment(id=hub.state.next_id(), issue_number=number, user=actor, body=_check_body("IssueComment", body))
    hub.state.comments[comment.id] = comment
    issue.updated_at = now()
    hub.emit("issue_comment", webhooks.issue_comment(hub, "created", comment, actor), actor)
    return comment


def update_comment(hub: Hub, actor: str, comment: Comment, body: object) -> Comment:
    text = _check_body("IssueComment", body)
    if text != comment.body:
        previous = comment.body
        comment.body, comment.updated_at = text, now()
        hub.emit(
            "issue_comment",
            webhooks.issue_comment(hub, "edited", comment, actor, changes={"body": {"from": previous}}),
            actor,
        )
    return comment


def delete_comment(hub: Hub, actor: str, comment: Comment) -> None:
    del hub.state.comments[comment.id]
    hub.emit("issue_comment", webhooks.issue_comment(hub, "deleted", comment, actor), actor)


def add_labels(hub: Hub, actor: str, issue: Issue, names: list[str]) -> list[Label]:
    """Add labels, creating unknown ones as GitHub does; already-present labels are left alone."""
    for name in names:
        if not isinstance(name, str) or not name:
            raise invalid("Label", "name", "invalid")
        label = hub.state.labels.get(name)
        if label is None:
            label = hub.state.labels[name] = Label(id=hub.state.next_id(), name=name)
        if name not in issue.labels:
            issue.labels.append(name)
            issue.updated_at = now()
            if issue.pull:
                hub.emit("pull_request", webhooks.pull_request(hub, "labeled", issue, actor, label=label), actor)
    return [hub.state.labels[name] for name in issue.labels]


def remove_label(hub: Hub, actor: str, issue: Issue, name: str) -> list[Label]:
    if name not in issue.labels:
        raise ApiError(404, "Label does not exist")
    issue.labels.remove(name)
    issue.updated_at = now()
    return [hub.state.labels[n] for n in issue.labels]


def add_reaction(hub: Hub, actor: str, reactions: list[Reaction], content: object) -> tuple[Reaction, bool]:
    """A reaction, or the one this user already left with the same content (GitHub answers 200 then)."""
    if content not in REACTIONS:
        raise invalid("Reaction", "content", "invalid")
    for existing in reactions:
        if existing.user == actor and existing.content == content:
            return existing, False
    reaction = Reaction(id=hub.state.next_id(), user=actor, content=str(content))
    reactions.append(reaction)
    return reaction, True
