"""Request bodies checked against the operation's `requestBody` schema in rest-api.json, as GitHub does.

GitHub refuses a body its schema does not admit with 422 and a message that starts "Invalid request." followed
by what is wrong (`"body" wasn't supplied.`, `For 'properties/conclusion', "great" is not a member of [...]`),
and the operation's documentation URL. This is GitHub's behaviour, not a test aid: localhub does it always.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import jsonschema

from localhub.conformance.schemas import Operation, document, failures, operation, operation_for, validator
from localhub.errors import ApiError

_ARTICLES = {"integer": "an integer", "object": "an object", "array": "an array", "null": "null"}


def _labels_object(body: Any) -> Any:
    return {"labels": body} if isinstance(body, list) else body


# Bodies GitHub accepts beyond its schema, as the operation's own description says, read as the schema's form.
# "Add labels": "You can also pass an `array` of labels directly" (PyGithub's add_to_labels does).
_ALSO_ACCEPTED = {"issues/add-labels": _labels_object}


def _request_schema(op: Operation) -> tuple[dict[str, Any], bool] | None:
    """The JSON schema of an operation's request body and whether a body is required (None: it takes none)."""
    body = op.spec.get("requestBody")
    if body is None:
        return None
    if "$ref" in body:
        body = document("rest-api.json")["components"]["requestBodies"][body["$ref"].split("/")[-1]]
    schema = body.get("content", {}).get("application/json", {}).get("schema")
    return None if schema is None else (schema, bool(body.get("required")))


@functools.cache
def _body_validator(method: str, template: str) -> tuple[jsonschema.Draft4Validator, bool] | None:
    found = _request_schema(operation(method, template))
    return None if found is None else (validator(found[0], "rest-api.json"), found[1])


def _shown(value: Any) -> str:
    """A value as GitHub's messages show it (JSON, with Ruby's `nil`)."""
    return "nil" if value is None else json.dumps(value)


def _where(path: Sequence[Any]) -> str:
    steps = ["items" if isinstance(step, int) else f"properties/{step}" for step in path]
    return f"For '{'/'.join(steps)}', " if steps else "For the request body, "


def _a(kinds: Any) -> str:
    names = kinds if isinstance(kinds, list) else [kinds]
    return " or ".join(_ARTICLES.get(name, f"a {name}") for name in names)


def _message(error: jsonschema.ValidationError) -> str:
    """One of GitHub's "Invalid request." lines for a schema error, naming the field."""
    where = _where(list(error.absolute_path))
    expected: Any = error.validator_value
    found: Any = error.instance
    if error.validator == "required":
        missing = [name for name in expected if name not in found]
        names = ", ".join(f'"{name}"' for name in missing)
        verb = "wasn't" if len(missing) == 1 else "weren't"
        return f"{where if error.absolute_path else ''}{names} {verb} supplied."
    if error.validator == "enum":
        members = ", ".join(_shown(v) for v in expected)
        return f"{where}{_shown(found)} is not a member of [{members}]."
    if error.validator == "type":
        return f"{where}{_shown(found)} is not {_a(expected)}."
    if error.validator in ("oneOf", "anyOf"):
        detail = jsonschema.exceptions.best_match(error.context or [])
        why = f" {_message(detail)}" if detail is not None else ""
        return f'{where if error.absolute_path else ""}No subschema in "{error.validator}" matched.{why}'
    return f"{where}{error.message[:300]}."


def invalid_body(method: str, path: str, body: Any) -> ApiError | None:
    """GitHub's 422 for a request body its operation's schema does not admit; None when it is admitted (or
    the operation is not in rest-api.json, or declares no JSON body)."""
    op = operation_for(method, path)
    found = None if op is None else _body_validator(op.method, op.template)
    if op is None or found is None:
        return None
    check, required = found
    if body is None:
        if not required:
            return None
        body = {}
    body = _ALSO_ACCEPTED.get(op.operation_id, lambda same: same)(body)
    errors = failures(check, body, limit=5)
    if not errors:
        return None
    lines = "\n".join(dict.fromkeys(_message(e) for e in errors))  # one line for all missing fields
    return ApiError(422, f"Invalid request.\n\n{lines}", documentation_url=op.documentation_url)
