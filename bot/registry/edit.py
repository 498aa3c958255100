"""Minimal-diff edits of models.yaml, a file people own.

A full round trip (load, change, dump) re-emits every line: ruamel.yaml keeps comments and order but normalises
indentation, wraps long lines and costs ~20x a C parse on a large registry. Instead the edit is located on the
parsed node tree and spliced into the original text: a promotion rewrites the one value of one stage line, a
registration inserts one version block (rendered by ruamel.yaml so its quoting is right). Every edit is then
verified: the new text must parse to exactly the old data with the intended change, and pass every registry
check, or nothing is returned.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from bot import yamlio
from bot.errors import InvalidFile, Location, ModelbotError, Problem, names
from bot.registry.load import build, validate
from bot.registry.model import Registry, version_key


class EditError(ModelbotError):
    """The edit could not be made so that only the intended lines change."""


def _model_node(root: yaml.Node | None, file: str, model: str, key: str) -> yaml.Node:
    _, models = yamlio.find_node(root, ["models"])
    key_node, node = yamlio.find_node(models, [model])
    if key_node is None or node is None:
        raise InvalidFile([Problem(Location(file, path=f"models.{model}"), f"model '{model}' is not in {file}")])
    found_key, found = yamlio.find_node(node, [key])
    if found_key is None or found is None:
        raise InvalidFile([Problem(Location(file, path=f"models.{model}.{key}"), f"model '{model}' has no '{key}'")])
    return found


def _scalar(value: str | int | None, like: yaml.ScalarNode | None = None) -> str:
    """A version id as YAML text, in the quoting style of the value it replaces."""
    if value is None:
        return "null"
    text = str(value)
    style = like.style if like is not None else None
    if style in ("'", '"'):
        return f"{style}{text}{style}"
    if text.isdigit() and not text.startswith("0"):
        return text
    plain_ok = yaml.safe_load(text) == text and ":" not in text and "#" not in text
    return text if plain_ok else json.dumps(text)


def _line_end(text: str, index: int) -> int:
    """Index just past the newline of the line holding `index` (or the end of text)."""
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _after_node(text: str, node: yaml.Node) -> int:
    """Where the line after a node's last content begins: a block collection's own end mark lies at the next
    token (past blank lines and comments), so descend to its last scalar or flow collection."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end = node.end_mark
    return end.index if end.column == 0 else _line_end(text, end.index)


def _splice_stage(
    root: yaml.Node | None, text: str, file: str, model: str, stage: str, version: str | int | None
) -> tuple[str, str]:
    """The text with the stage set, and the scalar token written (in the style of the value it replaces)."""
    stages = _model_node(root, file, model, "stages")
    if not isinstance(stages, yaml.MappingNode):
        raise EditError(f"{file}: models.{model}.stages is not a mapping")
    key_node, value_node = yamlio.find_node(stages, [stage])
    if key_node is not None and isinstance(value_node, yaml.ScalarNode):
        start, end = value_node.start_mark.index, value_node.end_mark.index
        if start == end:  # `stage:` with an empty value
            token = _scalar(version)
            return text[:start] + " " + token + text[end:], token
        token = _scalar(version, value_node)
        return text[:start] + token + text[end:], token
    token = _scalar(version)
    if stages.flow_style:
        close = stages.end_mark.index - 1
        sep = ", " if stages.value else ""
        return text[:close] + f"{sep}{stage}: {token}" + text[close:], token
    indent = " " * stages.value[0][0].start_mark.column
    at = _after_node(text, stages.value[-1][1])
    return text[:at] + f"{indent}{stage}: {token}\n" + text[at:], token


def render_block(entry: Mapping[str, Any], dash_column: int) -> str:
    """A version entry as a block sequence item at `dash_column`, rendered by ruamel.yaml."""
    from ruamel.yaml import YAML

    out = io.StringIO()
    dumper = YAML(typ="rt")
    dumper.default_flow_style = False
    dumper.width = 4096
    dumper.indent(mapping=2, sequence=4, offset=2)
    dumper.dump(json.loads(json.dumps(entry)), out)
    lines = out.getvalue().rstrip("\n").split("\n")
    pad = " " * dash_column
    return "".join(f"{pad}{'- ' if i == 0 else '  '}{line}\n" for i, line in enumerate(lines))


def _splice_version(root: yaml.Node | None, text: str, file: str, model: str, entry: Mapping[str, Any]) -> str:
    versions = _model_node(root, file, model, "versions")
    if not isinstance(versions, yaml.SequenceNode):
        raise EditError(f"{file}: models.{model}.versions is not a list")
    if versions.flow_style and not versions.value:
        return _empty_to_block(text, versions, entry)
    if versions.flow_style:
        close = versions.end_mark.index - 1
        sep = ", " if versions.value else ""
        return text[:close] + sep + json.dumps(entry) + text[close:]
    at = _after_node(text, versions.value[-1])
    return text[:at] + render_block(entry, versions.start_mark.column) + text[at:]


def _empty_to_block(text: str, versions: yaml.SequenceNode, entry: Mapping[str, Any]) -> str:
    """`versions: []` becomes a block list with the entry, as the rest of the file is written (issue 13); a
    comment after the brackets stays on the key's line."""
    start, end = versions.start_mark.index, versions.end_mark.index
    line_start = text.rfind("\n", 0, start) + 1
    line = text[line_start:start]
    indent = len(line) - len(line.lstrip(" "))
    eol = text.find("\n", end)
    eol = len(text) if eol < 0 else eol
    head = text[:start].rstrip(" ") + text[end:eol]
    return head + "\n" + render_block(entry, indent + 2) + text[eol + 1 :]


def _verified(
    old: dict[str, Any], new_text: str, file: str, model: str, change: Callable[[dict[str, Any]], None]
) -> tuple[str, Registry]:
    """Check that `new_text` is `old` with exactly `change` applied to one model, and that the model is valid."""
    new = yamlio.load(new_text, file)
    expected = copy.deepcopy(old["models"][model])
    change(expected)
    new_models = new.get("models") if isinstance(new, dict) else None
    same_elsewhere = (
        isinstance(new_models, dict)
        and list(new_models) == list(old["models"])
        and all(new_models[name] == old["models"][name] for name in old["models"] if name != model)
        and {k: v for k, v in new.items() if k != "models"} == {k: v for k, v in old.items() if k != "models"}
    )
    if not (isinstance(new_models, dict) and same_elsewhere and new_models[model] == expected):
        raise EditError(
            f"{file}: the edit would change more than intended; nothing was written. Please report this with the file."
        )
    validate({"version": new.get("version"), "models": {model: new_models[model]}}, yamlio.Locator(new_text, file))
    return new_text, build(new, file)


def _as_parsed(token: str) -> Any:
    """The value a YAML scalar token reads back as."""
    return yaml.safe_load(f"v: {token}")["v"]


def _require(data: dict[str, Any], file: str, model: str) -> dict[str, Any]:
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict) or not isinstance(models.get(model), dict):
        known = names(models) if isinstance(models, dict) else "none"
        raise InvalidFile(
            [Problem(Location(file, path=f"models.{model}"), f"model '{model}' is not in {file}; known: {known}")]
        )
    found: dict[str, Any] = models[model]
    return found


def set_stage(
    text: str, model: str, stage: str, version: str | int | None, file: str = "models.yaml"
) -> tuple[str, Registry]:
    """Point `stage` of `model` at `version` (None empties it); only that line changes (or one is added)."""
    old, root = yamlio.parse_document(text, file)
    entry = _require(old, file, model)
    raw_ids = [v.get("version") for v in entry.get("versions", []) if isinstance(v, dict)]
    new_value: str | int | None = None
    if version is not None:
        new_value = next((r for r in raw_ids if version_key(r) == version_key(version)), None)
        if new_value is None:
            raise InvalidFile(
                [
                    Problem(
                        Location(file, path=f"models.{model}.versions"),
                        f"version {version} of '{model}' is not registered; registered: {names(raw_ids, 30)}",
                    )
                ]
            )
    new_text, token = _splice_stage(root, text, file, model, stage, new_value)

    def change(entry: dict[str, Any]) -> None:
        entry["stages"][stage] = _as_parsed(token)

    return _verified(old, new_text, file, model, change)


def add_version(text: str, model: str, entry: Mapping[str, Any], file: str = "models.yaml") -> tuple[str, Registry]:
    """Register a version: one block is appended to the model's versions; no other line changes."""
    old, root = yamlio.parse_document(text, file)
    _require(old, file, model)
    value = json.loads(json.dumps(entry))
    new_text = _splice_version(root, text, file, model, value)
    return _verified(old, new_text, file, model, lambda entry: entry["versions"].append(value))


def render_flow(value: Mapping[str, Any]) -> str:
    """A mapping as one line of YAML flow style, rendered by ruamel.yaml so its quoting is right."""
    from ruamel.yaml import YAML

    out = io.StringIO()
    dumper = YAML(typ="rt")
    dumper.default_flow_style = True
    dumper.width = 1 << 16
    dumper.dump(json.loads(json.dumps(value)), out)
    return out.getvalue().strip()


def _child(node: yaml.Node | None, key: str) -> tuple[yaml.Node | None, yaml.Node | None]:
    if not isinstance(node, yaml.MappingNode):
        return None, None
    return next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), (None, None))


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _splice_deployment(
    root: yaml.Node | None, text: str, file: str, model: str, stage: str, state: Mapping[str, Any] | None
) -> str:
    _, models = yamlio.find_node(root, ["models"])
    model_key, model_node = _child(models, model)
    if not isinstance(model_node, yaml.MappingNode) or model_node.flow_style or model_key is None:
        raise EditError(f"{file}: models.{model} must be a block mapping to edit its deployment state")
    child_col = model_node.value[0][0].start_mark.column
    unit = child_col - model_key.start_mark.column
    dep_key, dep = _child(model_node, "deployment")
    line = f"{stage}: {render_flow(state)}" if state is not None else ""
    if dep_key is None or not isinstance(dep, yaml.MappingNode):
        if state is None:
            return text
        at = _after_node(text, model_node)
        return text[:at] + f"{' ' * child_col}deployment:\n{' ' * (child_col + unit)}{line}\n" + text[at:]
    if dep.flow_style:
        current = {k.value: yaml.safe_load(text[v.start_mark.index : v.end_mark.index]) for k, v in dep.value}
        if state is None:
            current.pop(stage, None)
        else:
            current[stage] = state
        return text[: dep.start_mark.index] + render_flow(current) + text[dep.end_mark.index :]
    key, value = _child(dep, stage)
    if key is None or value is None:
        if state is None:
            return text
        at = _after_node(text, dep)
        return text[:at] + f"{' ' * dep.value[0][0].start_mark.column}{line}\n" + text[at:]
    if state is None:
        if len(dep.value) == 1:
            return text[: _line_start(text, dep_key.start_mark.index)] + text[_after_node(text, dep) :]
        return text[: _line_start(text, key.start_mark.index)] + text[_after_node(text, value) :]
    if isinstance(value, yaml.MappingNode | yaml.SequenceNode) and not value.flow_style:
        return text[: key.start_mark.index] + line + "\n" + text[_after_node(text, value) :]
    return text[: key.start_mark.index] + line + text[value.end_mark.index :]


def set_deployment(
    text: str, model: str, stage: str, state: Mapping[str, Any] | None, file: str = "models.yaml"
) -> tuple[str, Registry]:
    """Set (or, with None, remove) the deployment state of one stage; only that entry's line(s) change."""
    old, root = yamlio.parse_document(text, file)
    _require(old, file, model)
    value = json.loads(json.dumps(state)) if state is not None else None
    new_text = _splice_deployment(root, text, file, model, stage, value)

    def change(entry: dict[str, Any]) -> None:
        deployment = entry.setdefault("deployment", {})
        if value is None:
            deployment.pop(stage, None)
        else:
            deployment[stage] = value
        if not deployment:
            entry.pop("deployment")

    return _verified(old, new_text, file, model, change)


def text_diff(old: str, new: str, file: str = "models.yaml") -> str:
    """A unified diff of an edit, as `git diff` would show it."""
    import difflib

    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{file}", f"b/{file}")
    return "".join(lines)
