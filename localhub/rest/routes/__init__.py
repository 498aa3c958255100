"""The REST routes localhub answers, one module per area; `all_routes()` is the whole table."""

from __future__ import annotations

from localhub.rest.api import Route


def all_routes() -> list[Route]:
    from localhub.rest.routes import actions, apps, checks, contents, gitdata, issues, pulls, repos

    areas = (apps, repos, contents, gitdata, pulls, issues, checks, actions)
    return [route for area in areas for route in area.ROUTES]
