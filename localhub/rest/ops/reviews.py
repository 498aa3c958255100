"""Pull request reviews: approve, request changes, comment, dismiss; each bound to the commit it saw."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.errors import ApiError, invalid
from localhub.rest import webhooks
from localhub.state import Issue, Review

if TYPE_CHECKING:
    from localhub.hub import Hub

EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Unprocessable Entity", [message])  # type: ignore[list-item]  # GitHub's 422 here lists plain messages, not error objects


def create_review(
    hub: Hub, actor: str, issue: Issue, event: str, body: str = "", commit_id: str | None = None
) -> Review:
    """A submitted review; GitHub refuses an author's approval of their own pull request."""
    pr = issue.pull
    assert pr is not None
    if event not in EVENTS:
        raise invalid("PullRequestReview", "event", "invalid")
    if actor == issue.user and event != "COMMENT":
        verb = "approve" if event == "APPROVE" else "request changes on"
        raise _unprocessable(f"Review Can not {verb} your own pull request")
    if event != "APPROVE" and not body:
        raise _unprocessable(f"Review Body is required when the event is {event}")
    sha = commit_id or pr.head_sha
    if hub.git.resolve_commit(sha) is None:
        raise _unprocessable(f"Review commit_id {sha} is not part of the pull request")
    review = Review(
        id=hub.state.next_id(), number=issue.number, user=actor, body=body, state=EVENTS[event], commit_id=sha
    )
    pr.reviews.append(review)
    if actor in pr.requested_reviewers:
        pr.requested_reviewers.remove(actor)
    hub.emit("pull_request_review", webhooks.pull_request_review(hub, "submitted", review, issue, actor), actor)
    return review


def dismiss_review(hub: Hub, actor: str, issue: Issue, review: Review, message: str) -> Review:
    if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
        raise _unprocessable("Can not dismiss a commented or pending review")
    review.state = "DISMISSED"
    hub.emit("pull_request_review", webhooks.pull_request_review(hub, "dismissed", review, issue, actor), actor)
    return review
