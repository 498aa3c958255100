"""Issues and their comments, labels and reactions (pull requests are issues here too)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.errors import invalid
from localhub.rest.api import Request, Response, Route, ok, page, require
from localhub.rest.ops import issues as ops
from localhub.rest.ops.pulls import update_pull
from localhub.rest.render import issues as render
from localhub.state import now

if TYPE_CHECKING:
    from localhub.hub import Hub


def list_issues(hub: Hub, req: Request) -> Response:
    wanted = req.query.get("state", "open")
    labels = [name for name in req.query.get("labels", "").split(",") if name]
    found = [
        issue
        for issue in sorted(hub.state.issues.values(), key=lambda i: -i.number)
        if (wanted == "all" or issue.state == wanted) and all(name in issue.labels for name in labels)
    ]
    return page(hub, req, found, lambda issue: render.issue(hub, issue))


def create_issue(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "read")
    issue = ops.create_issue(
        hub, actor, str(req.json_field("title", "Issue", required=True) or ""), req.json_field("body", "Issue")
    )
    if req.json_field("labels", "Issue"):
        ops.add_labels(hub, actor, issue, list(req.body["labels"]))
    return ok(render.issue(hub, issue), 201)


def get_issue(hub: Hub, req: Request) -> Response:
    return ok(render.issue(hub, ops.get_issue(hub, req.int_param("issue_number"))))


def update_issue(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "read")
    issue = ops.get_issue(hub, req.int_param("issue_number"))
    if actor != issue.user:
        require(hub, req, "triage")
    body = req.body if isinstance(req.body, dict) else {}
    if body.get("state") not in (None, "open", "closed"):
        raise invalid("Issue", "state", "invalid")
    if issue.pull:
        update_pull(hub, actor, issue, title=body.get("title"), body=body.get("body"), state=body.get("state"))
    else:
        for key in ("title", "body"):
            if key in body:
                setattr(issue, key, body[key])
        if body.get("state") and body["state"] != issue.state:
            issue.state = body["state"]
            issue.closed_at = now() if issue.state == "closed" else None
        issue.updated_at = now()
    return ok(render.issue(hub, issue))


def list_comments(hub: Hub, req: Request) -> Response:
    number = ops.get_issue(hub, req.int_param("issue_number")).number
    found = [c for c in hub.state.comments.values() if c.issue_number == number]
    return page(hub, req, sorted(found, key=lambda c: c.id), lambda c: render.comment(hub, c))


def create_comment(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "read")
    comment = ops.create_comment(
        hub, actor, req.int_param("issue_number"), req.json_field("body", "IssueComment", required=True)
    )
    response = ok(render.comment(hub, comment), 201)
    response.headers["Location"] = render.comment(hub, comment)["url"]
    return response


def get_comment(hub: Hub, req: Request) -> Response:
    return ok(render.comment(hub, ops.get_comment(hub, req.int_param("comment_id"))))


def update_comment(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "read")
    comment = ops.get_comment(hub, req.int_param("comment_id"))
    if actor != comment.user:
        require(hub, req, "write")
    ops.update_comment(hub, actor, comment, req.json_field("body", "IssueComment", required=True))
    return ok(render.comment(hub, comment))


def delete_comment(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "read")
    comment = ops.get_comment(hub, req.int_param("comment_id"))
    if actor != comment.user:
        require(hub, req, "write")
    ops.delete_comment(hub, actor, comment)
    return Response(204)


def comment_reaction(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "read")
    comment = ops.get_comment(hub, req.int_param("comment_id"))
    reaction, created = ops.add_reaction(hub, actor, comment.reactions, req.json_field("content", "Reaction"))
    return ok(render.reaction(hub, reaction), 201 if created else 200)


def issue_reaction(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "read")
    issue = ops.get_issue(hub, req.int_param("issue_number"))
    reaction, created = ops.add_reaction(hub, actor, issue.reactions, req.json_field("content", "Reaction"))
    return ok(render.reaction(hub, reaction), 201 if created else 200)


def add_labels(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "triage")
    issue = ops.get_issue(hub, req.int_param("issue_number"))
    names = req.body.get("labels") if isinstance(req.body, dict) else req.body
    if not isinstance(names, list):
        raise invalid("Label", "labels", "invalid")
    labels = ops.add_labels(hub, actor, issue, [n if isinstance(n, str) else n.get("name") for n in names])
    return ok([render.label(hub, label) for label in labels])


def remove_label(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "triage")
    issue = ops.get_issue(hub, req.int_param("issue_number"))
    labels = ops.remove_label(hub, actor, issue, req.params["name"])
    return ok([render.label(hub, label) for label in labels])


ROUTES = [
    Route("GET", "/repos/{owner}/{repo}/issues", list_issues),
    Route("POST", "/repos/{owner}/{repo}/issues", create_issue),
    Route("GET", "/repos/{owner}/{repo}/issues/{issue_number}", get_issue),
    Route("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}", update_issue),
    Route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", list_comments),
    Route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", create_comment),
    Route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", get_comment),
    Route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", update_comment),
    Route("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", delete_comment),
    Route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", comment_reaction),
    Route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/reactions", issue_reaction),
    Route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", add_labels),
    Route("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", remove_label),
]
