"""GitHub's vendored OpenAPI descriptions (localhub/schemas/github) as JSON-Schema validators.

The schemas are OpenAPI 3.0: `nullable: true` is rewritten into JSON Schema (a `null` type, and `None` added to
enums that do not list it, the quirk the README names) before validating with Draft 4 semantics, and a `oneOf`
whose overlapping alternatives both match is accepted (OpenAPI authors' "any of"). Requests are matched to an
operation by the path templates of `rest-api.json` itself, independently of localhub's own routing, so a route
localhub serves under a wrong path shows up as "no such operation".
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

# Vendored into the package (see its README): nothing outside the checkout is read.
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "github"

# Path parameters that GitHub accepts with slashes inside (file paths, refs, branch names).
_GREEDY_PARAMS = {"path", "ref", "branch", "base", "head"}
_METHODS = ("get", "post", "put", "patch", "delete")


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
def document(name: str) -> dict[str, Any]:
    """`rest-api.json` or `webhooks.json`, read once and rewritten into JSON Schema."""
    raw = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    converted: dict[str, Any] = _denull(copy.deepcopy(raw))
    return converted


def validator(schema: dict[str, Any], name: str) -> jsonschema.Draft4Validator:
    """A validator for `schema`, whose `$ref`s resolve into the components of document `name`."""
    root = {**schema, "components": document(name)["components"]}
    return jsonschema.Draft4Validator(root, format_checker=_format_checker())


def _ambiguous_one_of(error: jsonschema.ValidationError) -> bool:
    """GitHub writes `oneOf` where alternatives overlap (a 409 body is both a basic-error and a
    repository-rule-violation-error): matching more than one is read as OpenAPI authors mean it, "any of"."""
    return error.validator == "oneOf" and "is valid under each of" in error.message


def failures(check: jsonschema.Draft4Validator, value: Any, limit: int = 10) -> list[jsonschema.ValidationError]:
    """The first `limit` errors of `value`, in document order, ambiguous `oneOf`s excepted."""
    found = (e for e in check.iter_errors(value) if not _ambiguous_one_of(e))
    return sorted(found, key=lambda e: [str(p) for p in e.absolute_path])[:limit]


def describe(errors: list[jsonschema.ValidationError]) -> list[str]:
    """One line per error: where in the value (a JSON pointer without its slash), and what is wrong."""
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:300]}" for e in errors]


@dataclass(frozen=True)
class Operation:
    """One operation of rest-api.json: its method, path template, id and OpenAPI description."""

    method: str
    template: str
    operation_id: str
    spec: dict[str, Any]

    @property
    def documentation_url(self) -> str:
        url: str = self.spec.get("externalDocs", {}).get("url", "https://docs.github.com/rest")
        return url


@functools.cache
def _operations() -> list[tuple[re.Pattern[str], int, Operation]]:
    def param(match: re.Match[str]) -> str:
        return "(.+)" if match.group(1) in _GREEDY_PARAMS else "([^/]+)"

    table = []
    for template, item in document("rest-api.json")["paths"].items():
        for method, spec in item.items():
            if method not in _METHODS:
                continue
            escaped = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
            pattern = re.compile("^" + re.sub(r"\{(\w+)\}", param, escaped) + "$")
            literal = len(re.sub(r"\{\w+\}", "", template))
            table.append((pattern, literal, Operation(method.upper(), template, spec["operationId"], spec)))
    return table


def operation_for(method: str, path: str) -> Operation | None:
    """The operation of rest-api.json a request is for; the most literal template wins (as a router does)."""
    candidates = [
        (literal, op) for pattern, literal, op in _operations() if op.method == method and pattern.match(path)
    ]
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


def operation(method: str, template: str) -> Operation:
    """The operation of rest-api.json with this method and path template."""
    return next(op for _, _, op in _operations() if op.method == method and op.template == template)
