"""The REST routes localhub answers, one module per area; `all_routes()` is the whole table."""

from __future__ import annotations

from localhub.rest.api import Route


def all_routes() -> list[Route]:
    from localhub.rest.routes import checks, contents, gitdata, issues, pulls, repos

    return [*repos.ROUTES, *contents.ROUTES, *gitdata.ROUTES, *pulls.ROUTES, *issues.ROUTES, *checks.ROUTES]
