"""The part of GitHub Actions' expression language that workflows for this bot use: `${{ ... }}` with
contexts (github, env, secrets, inputs, steps, needs, vars), literals, `== != < <= > >= && || !`, parentheses,
and the functions contains, startsWith, endsWith, format, join, toJSON, fromJSON, success, failure, always,
cancelled. Anything else fails loudly with the expression in the message, never evaluates to a guess.

Semantics follow GitHub's documentation: `&&`/`||` return an operand, comparisons of strings and property
names ignore case, a missing property is null, and null, false, 0 and "" are falsy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from localhub.errors import LocalhubError

_TOKEN = re.compile(
    r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?)
                        |(?P<str>'(?:[^']|'')*')
                        |(?P<op>==|!=|<=|>=|&&|\|\||[<>!().,\[\]*])
                        |(?P<name>[A-Za-z_][A-Za-z0-9_-]*))""",
    re.X,
)


class ExpressionError(LocalhubError):
    """An expression localhub cannot evaluate as GitHub would."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"${{{{ {text} }}}}: cannot read at {text[pos : pos + 12]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", 0.0)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Parser:
    def __init__(self, text: str, contexts: Mapping[str, Any]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.contexts = contexts

    def fail(self, why: str) -> ExpressionError:
        return ExpressionError(f"${{{{ {self.text} }}}}: {why}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise self.fail(f"expected {value or 'more'}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]  # peek() returns a token tuple here (not at the end)
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.compare()
            value = right if truthy(value) else value
        return value

    def compare(self) -> Any:
        left = self.unary()
        token = self.peek()
        if token and token[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return _compare(token[1], left, self.unary())
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind != "name":
            raise self.fail(f"unexpected {value!r}")
        if value in ("true", "false"):
            return value == "true"
        if value == "null":
            return None
        if self.peek() == ("op", "("):
            return self.call(value)
        if value not in self.contexts:
            raise self.fail(f"unknown context {value!r} (localhub knows {', '.join(sorted(self.contexts))})")
        return self.contexts[value]

    def postfix(self, value: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                key = self.take()[1]
                value = _index(value, key)
            else:
                key = self.or_()
                self.take("]")
                value = _index(value, key)
        return value

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek() != ("op", ")"):
            args.append(self.or_())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        return _function(self, name, args)


def _index(value: Any, key: Any) -> Any:
    """A property or element; property names match case-insensitively, as on GitHub."""
    if isinstance(value, Mapping):
        if key in value or not isinstance(key, str):
            return value.get(key)
        return next((v for k, v in value.items() if isinstance(k, str) and k.lower() == key.lower()), None)
    if isinstance(value, list) and isinstance(key, (int, float)) and 0 <= int(key) < len(value):
        return value[int(key)]
    return None


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    elif type(left) is not type(right) and not (isinstance(left, (int, float)) and isinstance(right, (int, float))):
        left, right = _number(left), _number(right)
    if op in ("==", "!="):
        return bool(left == right) == (op == "==")
    try:
        return bool({"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op])
    except TypeError:
        return False


def _number(value: Any) -> float:
    if value is None or value is False:
        return 0.0
    if value is True:
        return 1.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _function(parser: _Parser, name: str, args: list[Any]) -> Any:
    lowered = name.lower()
    status = parser.contexts.get("job", {}).get("status", "success")
    if lowered == "contains":
        hay, needle = args
        if isinstance(hay, list):
            return any(_compare("==", item, needle) for item in hay)
        return _text(needle).lower() in _text(hay).lower()
    if lowered in ("startswith", "endswith"):
        text, fix = _text(args[0]).lower(), _text(args[1]).lower()
        return text.startswith(fix) if lowered == "startswith" else text.endswith(fix)
    if lowered == "format":
        return re.sub(r"\{(\d+)\}", lambda m: _text(args[1 + int(m.group(1))]), _text(args[0]))
    if lowered == "join":
        return (_text(args[1]) if len(args) > 1 else ",").join(_text(a) for a in args[0] or [])
    if lowered == "tojson":
        return json.dumps(args[0], indent=2)
    if lowered == "fromjson":
        return json.loads(_text(args[0]))
    if lowered == "success":
        return status == "success"
    if lowered == "failure":
        return status == "failure"
    if lowered == "always":
        return True
    if lowered == "cancelled":
        return False
    raise parser.fail(f"function {name}() is not supported by localhub")


def evaluate(expression: str, contexts: Mapping[str, Any]) -> Any:
    """The value of one expression (without `${{ }}`)."""
    return _Parser(expression.strip(), contexts).parse()


def substitute(text: str, contexts: Mapping[str, Any]) -> str:
    """Replace every `${{ ... }}` in a string with its value as text."""
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: _text(evaluate(m.group(1), contexts)), text, flags=re.S)


def condition(text: str | bool | None, contexts: Mapping[str, Any]) -> bool:
    """An `if:`: a bare expression or one wrapped in `${{ }}`; absent means success()."""
    if text is None:
        return truthy(evaluate("success()", contexts))
    if isinstance(text, bool):
        return text
    stripped = text.strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", stripped, flags=re.S)
    expression = match.group(1) if match else stripped
    if not re.search(r"\b(success|failure|always|cancelled)\s*\(", expression, flags=re.I):
        expression = f"success() && ({expression})"  # GitHub's implicit status check
    return truthy(evaluate(expression, contexts))
