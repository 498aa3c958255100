"""GitHub's error answers: a status, a message, and for 422 the list of `errors` GitHub attaches."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class LocalhubError(Exception):
    """A problem of localhub itself (a bad workflow, an unknown user, a failed git command), reported to a
    person: the CLI turns it into a message and `exit_code`, as it does the bot's own errors."""

    exit_code = 1


class LocalhubUsageError(LocalhubError):
    """A hub set up wrongly by its caller (an unknown role or user)."""

    exit_code = 2


class LocalhubGitError(LocalhubError):
    """A git command behind the hub's repository failed."""


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        documentation_url: str = DOCS,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.documentation_url = documentation_url

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message": self.message,
            "documentation_url": self.documentation_url,
            "status": str(self.status),
        }
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def invalid(resource: str, field: str, code: str = "invalid", message: str | None = None) -> ApiError:
    """422 Validation Failed with one entry in `errors`, as GitHub reports a bad field."""
    error: dict[str, Any] = {"resource": resource, "field": field, "code": code}
    if message:
        error["message"] = message
    return ApiError(422, "Validation Failed", [error])


def missing(resource: str, field: str) -> ApiError:
    return invalid(resource, field, "missing_field")


def forbidden(message: str = "Resource not accessible by integration") -> ApiError:
    return ApiError(403, message)
