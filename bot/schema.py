"""The JSON Schemas shipped with the package, and validation that names the failing key and its line."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from bot.errors import Location, Problem

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

MAX_PROBLEMS = 50


@cache
def schema(name: str) -> dict[str, Any]:
    """A shipped schema by name: 'models' or 'policy'."""
    text = resources.files("bot.schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]  # json.loads is typed Any; the schema files are JSON objects


@cache
def validator(name: str) -> Draft202012Validator:
    """The full validator, imported only when a document is invalid and its problems must be named."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(name))


@cache
def fast_validator(name: str) -> Callable[[Any], Any]:
    """The same schema compiled to Python by fastjsonschema: ~15x faster on a valid document, which is the
    common case; jsonschema then runs only to name every problem of an invalid one."""
    import fastjsonschema

    return fastjsonschema.compile(schema(name), use_default=False)


def is_valid(name: str, data: Any) -> bool:
    from fastjsonschema import JsonSchemaException

    try:
        fast_validator(name)(data)
    except JsonSchemaException:
        return False
    return True


def describe(error: ValidationError) -> str:
    """A message a person can act on: what was found and what is expected."""
    spec: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(spec.get("properties", {}))
        extra = error.message.split("(")[-1].rstrip(")") if "(" in error.message else error.message
        return f"unknown key {extra}" + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
    if error.validator == "required":
        return error.message.replace("is a required property", "is required here")
    if error.validator in ("oneOf", "anyOf"):
        expected = spec.get("description") or "one of the allowed forms"
        return f"{error.instance!r} is not valid; expected {expected}"
    hint = spec.get("description")
    message = error.message
    if hint and error.validator in ("pattern", "type", "enum", "const"):
        message += f" ({hint})"
    return message


def problems(name: str, data: Any, locate: Callable[[Sequence[str | int]], Location]) -> list[Problem]:
    """Every schema violation of `data`, located; at most MAX_PROBLEMS of them."""
    if is_valid(name, data):
        return []
    found: list[Problem] = []
    for error in validator(name).iter_errors(data):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            extra = [k for k in error.instance if k not in allowed]
            if extra:
                path.append(extra[0])
        location = locate(path)
        found.append(Problem(location, describe(error)))
        if len(found) >= MAX_PROBLEMS:
            break
    return sorted(found, key=lambda p: (p.location.line or 0, p.location.column or 0))
