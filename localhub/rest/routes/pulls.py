"""Pull requests: list, open, read, edit, commits, files, merge, reviewers and reviews."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.errors import ApiError, missing, not_found
from localhub.rest.api import Request, Response, Route, ok, page, require
from localhub.rest.ops import pulls as ops
from localhub.rest.ops.reviews import create_review
from localhub.rest.render import git as render_git
from localhub.rest.render import issues as render
from localhub.state import Issue

if TYPE_CHECKING:
    from localhub.hub import Hub


def pull_of(hub: Hub, req: Request) -> Issue:
    issue = hub.state.issues.get(req.int_param("pull_number"))
    if issue is None or issue.pull is None:
        raise not_found()
    return issue


def list_pulls(hub: Hub, req: Request) -> Response:
    """Filters as GitHub does: state (open|closed|all), head (`owner:branch`), base; newest first."""
    wanted = req.query.get("state", "open")
    head = req.query.get("head")
    base = req.query.get("base")
    owner = hub.state.repo.owner
    found = []
    for issue in sorted(hub.state.issues.values(), key=lambda i: -i.number):
        pr = issue.pull
        if pr is None or (wanted != "all" and issue.state != wanted):
            continue
        if head and head != f"{pr.head_owner or owner}:{pr.head_ref}":
            continue
        if base and pr.base_ref != base:
            continue
        found.append(issue)
    if req.query.get("direction") == "asc":
        found.reverse()
    return page(hub, req, found, lambda issue: render.pull(hub, issue, full=False))


def create_pull(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "read")
    title = req.json_field("title", "PullRequest")
    if not title:
        raise missing("PullRequest", "title")
    issue = ops.create_pull(
        hub,
        actor,
        str(title),
        str(req.json_field("head", "PullRequest", required=True)),
        str(req.json_field("base", "PullRequest", required=True)),
        req.json_field("body", "PullRequest"),
        bool(req.json_field("draft", "PullRequest")),
    )
    return ok(render.pull(hub, issue), 201)


def get_pull(hub: Hub, req: Request) -> Response:
    return ok(render.pull(hub, pull_of(hub, req)))


def update_pull(hub: Hub, req: Request) -> Response:
    issue = pull_of(hub, req)
    actor = require(hub, req, "read")
    if actor != issue.user:
        require(hub, req, "triage")
    body = req.body if isinstance(req.body, dict) else {}
    state = body.get("state")
    if state not in (None, "open", "closed"):
        raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": "state", "code": "invalid"}])
    ops.update_pull(
        hub, actor, issue, title=body.get("title"), body=body.get("body"), state=state, base=body.get("base")
    )
    return ok(render.pull(hub, issue))


def pull_commits(hub: Hub, req: Request) -> Response:
    pr = pull_of(hub, req).pull
    assert pr is not None
    base = hub.git.merge_base(pr.base_sha, pr.head_sha) or pr.base_sha
    shas = list(reversed(hub.git.log(f"{base}..{pr.head_sha}")))
    return page(hub, req, shas, lambda sha: render_git.commit(hub, hub.git.commit(sha)))


def pull_files(hub: Hub, req: Request) -> Response:
    pr = pull_of(hub, req).pull
    assert pr is not None
    base = hub.git.merge_base(pr.base_sha, pr.head_sha) or pr.base_sha
    return page(hub, req, hub.git.changes(base, pr.head_sha), lambda f: render_git.diff_entry(hub, f, pr.head_sha))


def is_merged(hub: Hub, req: Request) -> Response:
    pr = pull_of(hub, req).pull
    assert pr is not None
    if not pr.merged:
        raise not_found()
    return Response(204)


def merge(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    issue = pull_of(hub, req)
    body = req.body if isinstance(req.body, dict) else {}
    sha = ops.merge_pull(
        hub,
        actor,
        issue,
        body.get("merge_method", "merge"),
        body.get("sha"),
        body.get("commit_title"),
        body.get("commit_message"),
    )
    return ok({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


def request_reviewers(hub: Hub, req: Request) -> Response:
    require(hub, req, "triage")
    issue = pull_of(hub, req)
    pr = issue.pull
    assert pr is not None
    for login in req.json_field("reviewers", "PullRequest", default=[]):
        if login not in hub.state.users:
            raise ApiError(
                422,
                "Reviews may only be requested from collaborators. One or more of the users or "
                "teams you specified is not a collaborator of the repository.",
            )
        if login == issue.user:
            raise ApiError(422, "Review cannot be requested from pull request author.")
        if login not in pr.requested_reviewers:
            pr.requested_reviewers.append(login)
    return ok(render.pull(hub, issue, full=False), 201)


def list_reviews(hub: Hub, req: Request) -> Response:
    pr = pull_of(hub, req).pull
    assert pr is not None
    return page(hub, req, pr.reviews, lambda review: render.review(hub, review))


def post_review(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "read")
    issue = pull_of(hub, req)
    review = create_review(
        hub,
        actor,
        issue,
        str(req.json_field("event", "PullRequestReview", default="")),
        str(req.json_field("body", "PullRequestReview", default="") or ""),
        req.json_field("commit_id", "PullRequestReview"),
    )
    return ok(render.review(hub, review))


ROUTES = [
    Route("GET", "/repos/{owner}/{repo}/pulls", list_pulls),
    Route("POST", "/repos/{owner}/{repo}/pulls", create_pull),
    Route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", get_pull),
    Route("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", update_pull),
    Route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/commits", pull_commits),
    Route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files", pull_files),
    Route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", is_merged),
    Route("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", merge),
    Route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", request_reviewers),
    Route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", list_reviews),
    Route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", post_review),
]
