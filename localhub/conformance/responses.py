"""Does an answer match what rest-api.json says the operation answers, and stay on the hub's own address?"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema

from localhub.conformance.schemas import describe, document, failures, operation, operation_for, validator

# Fields whose text comes from users or the bot, not from GitHub: any URL may appear in them.
FREE_TEXT = frozenset({
    "body", "target_url", "details_url", "environment_url", "log_url", "description", "title", "message",
    "summary", "text", "homepage", "payload", "documentation_url",
})  # fmt: skip


def _response_schema(spec: dict[str, Any], status: int) -> dict[str, Any] | None:
    response = spec["responses"].get(str(status))
    if response is None:
        return {"$ref": "#/components/schemas/basic-error"} if status >= 400 else None
    if "$ref" in response:
        response = document("rest-api.json")["components"]["responses"][response["$ref"].split("/")[-1]]
    schema: dict[str, Any] | None = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None and status >= 400:
        return {"$ref": "#/components/schemas/basic-error"}
    return schema


@functools.cache
def _response_validator(method: str, template: str, status: int) -> jsonschema.Draft4Validator | None:
    schema = _response_schema(operation(method, template).spec, status)
    return None if schema is None else validator(schema, "rest-api.json")


def response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """Why a response does not match GitHub's description of it (empty when it does)."""
    op = operation_for(method, path.split("?")[0])
    if op is None:
        return [f"{method} {path}: no such operation in rest-api.json"]
    declared = op.spec["responses"]
    if status < 400 and str(status) not in declared:
        return [f"{method} {path}: status {status} is not one GitHub answers ({', '.join(declared)})"]
    check = _response_validator(op.method, op.template, status)
    if check is None:
        return [] if body in (None, b"", "") else [f"{method} {path}: {status} must have no body"]
    return [f"{op.operation_id} {status} {problem}" for problem in describe(failures(check, body))]


def foreign_urls(value: Any, base_url: str, where: str = "") -> list[str]:
    """Every absolute URL in a JSON value that is not on `base_url` (documentation links excepted)."""
    if isinstance(value, dict):
        return [
            bad
            for key, item in value.items()
            if key != "documentation_url"
            for bad in foreign_urls(item, base_url, f"{where}/{key}")
        ]
    if isinstance(value, list):
        return [bad for i, item in enumerate(value) for bad in foreign_urls(item, base_url, f"{where}/{i}")]
    if isinstance(value, str) and re.match(r"^https?://", value) and not value.startswith(base_url):
        return [f"{where or '<root>'}: {value}"]
    return []


def own_urls_only(value: Any, base_url: str) -> list[str]:
    """The foreign URLs of a value outside its free-text fields (where a user or the bot may write any URL)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() if k not in FREE_TEXT for p in own_urls_only(v, base_url)]
    if isinstance(value, list):
        return [p for item in value for p in own_urls_only(item, base_url)]
    return foreign_urls(value, base_url)


def link_problems(link: str, base_url: str) -> list[str]:
    """Every target of a `Link` header that is not on the hub's own address."""
    return [link for part in link.split(",") if part.strip() and not part.strip().startswith(f"<{base_url}/")]
