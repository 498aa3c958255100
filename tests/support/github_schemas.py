"""GitHub's own schemas (vendored in localhub/schemas/github) as validators for what localhub answers and emits.

The schemas are OpenAPI 3.0: `nullable: true` is rewritten into JSON Schema (a `null` type, and `None` added
to enums that do not list it, the quirk the README names) before validating with Draft 4 semantics, and a
`oneOf` whose overlapping alternatives both match is accepted (OpenAPI authors' "any of").
Responses are matched to an operation by the path templates of `rest-api.json` itself, independently of
localhub's own routing.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

# Vendored into the package (see its README): the suite reads nothing outside the checkout.
SHARED = Path(__file__).resolve().parents[2] / "localhub" / "schemas" / "github"

# Path parameters that GitHub accepts with slashes inside (file paths, refs, branch names).
_GREEDY_PARAMS = {"path", "ref", "branch", "base", "head"}


def _denull(node: Any) -> Any:
    if isinstance(node, list):
        return [_denull(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _denull(value) for key, value in node.items() if key not in ("example", "examples")}
    if out.pop("nullable", False):
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        elif "oneOf" in out or "anyOf" in out or "allOf" in out or "$ref" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urllib.parse.urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.scheme in ("mailto", "urn", "git")))


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_is_datetime)
    checker.checks("uri")(_is_uri)
    return checker


@functools.cache
def _document(name: str) -> dict[str, Any]:
    raw = json.loads((SHARED / name).read_text(encoding="utf-8"))
    converted: dict[str, Any] = _denull(copy.deepcopy(raw))
    return converted


def _validator(schema: dict[str, Any], document: str) -> jsonschema.Draft4Validator:
    root = {**schema, "components": _document(document)["components"]}
    return jsonschema.Draft4Validator(root, format_checker=_format_checker())


def _ambiguous_one_of(error: jsonschema.ValidationError) -> bool:
    """GitHub writes `oneOf` where alternatives overlap (a 409 body is both a basic-error and a
    repository-rule-violation-error): matching more than one is read as OpenAPI authors mean it, "any of"."""
    return error.validator == "oneOf" and "is valid under each of" in error.message


def _errors(validator: jsonschema.Draft4Validator, value: Any) -> list[str]:
    found = sorted((e for e in validator.iter_errors(value) if not _ambiguous_one_of(e)),
                   key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:300]}" for e in found[:10]]


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    spec: dict[str, Any]


@functools.cache
def _operations() -> list[tuple[re.Pattern[str], int, Operation]]:
    table = []
    for template, item in _document("rest-api.json")["paths"].items():
        for method, spec in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue

            def param(match: re.Match[str]) -> str:
                return "(.+)" if match.group(1) in _GREEDY_PARAMS else "([^/]+)"

            pattern = re.sub(r"\{(\w+)\}", param, re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
            literal = len(re.sub(r"\{\w+\}", "", template))
            table.append((re.compile(f"^{pattern}$"), literal, Operation(method.upper(), template,
                                                                         spec["operationId"], spec)))
    return table


def operation_for(method: str, path: str) -> Operation | None:
    """The operation of rest-api.json a request is for; the most literal template wins (as a router does)."""
    candidates = [(literal, op) for pattern, literal, op in _operations()
                  if op.method == method and pattern.match(path)]
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


def _response_schema(op: Operation, status: int) -> dict[str, Any] | None:
    responses = op.spec["responses"]
    response = responses.get(str(status))
    if response is None:
        return {"$ref": "#/components/schemas/basic-error"} if status >= 400 else None
    if "$ref" in response:
        response = _document("rest-api.json")["components"]["responses"][response["$ref"].split("/")[-1]]
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None and status >= 400:
        return {"$ref": "#/components/schemas/basic-error"}
    return schema


@functools.cache
def _response_validator(method: str, template: str, status: int) -> jsonschema.Draft4Validator | None:
    op = next(op for _, _, op in _operations() if op.method == method and op.template == template)
    schema = _response_schema(op, status)
    return None if schema is None else _validator(schema, "rest-api.json")


def response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """Why a response does not match GitHub's description of it (empty when it does)."""
    op = operation_for(method, path.split("?")[0])
    if op is None:
        return [f"{method} {path}: no such operation in rest-api.json"]
    declared = op.spec["responses"]
    if status < 400 and str(status) not in declared:
        return [f"{method} {path}: status {status} is not one GitHub answers ({', '.join(declared)})"]
    validator = _response_validator(op.method, op.template, status)
    if validator is None:
        return [] if body in (None, b"", "") else [f"{method} {path}: {status} must have no body"]
    return [f"{op.operation_id} {status} {problem}" for problem in _errors(validator, body)]


def webhook_key(event: str, payload: dict[str, Any]) -> str:
    """The x-webhooks key for an event: `issue_comment` + `created` -> `issue-comment-created`."""
    name = event.replace("_", "-")
    action = payload.get("action")
    return f"{name}-{action}" if action and event not in ("push", "status", "workflow_dispatch") else name


@functools.cache
def _webhook_validator(key: str) -> jsonschema.Draft4Validator:
    hooks = _document("webhooks.json")["x-webhooks"]
    if key not in hooks:
        raise KeyError(f"{key}: not an event in webhooks.json x-webhooks ({', '.join(sorted(hooks))})")
    schema = hooks[key]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return _validator(schema, "webhooks.json")


def webhook_problems(event: str, payload: dict[str, Any]) -> list[str]:
    """Why a webhook payload does not match GitHub's schema for its event and action (empty when it does)."""
    key = webhook_key(event, payload)
    return [f"{key} {problem}" for problem in _errors(_webhook_validator(key), payload)]


def foreign_urls(value: Any, base_url: str, where: str = "") -> list[str]:
    """Every absolute URL in a JSON value that is not on `base_url` (documentation links excepted)."""
    if isinstance(value, dict):
        return [bad for key, item in value.items() if key != "documentation_url"
                for bad in foreign_urls(item, base_url, f"{where}/{key}")]
    if isinstance(value, list):
        return [bad for i, item in enumerate(value) for bad in foreign_urls(item, base_url, f"{where}/{i}")]
    if isinstance(value, str) and re.match(r"^https?://", value) and not value.startswith(base_url):
        return [f"{where or '<root>'}: {value}"]
    return []
