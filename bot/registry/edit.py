"""Minimal-diff edits of models.yaml, a file people own.

A full round trip (load, change, dump) re-emits every line: ruamel.yaml keeps comments and order but normalises
indentation, wraps long lines and costs ~20x a C parse on a large registry. Instead the edit is located on the
parsed node tree and spliced into the original text: a promotion rewrites the one value of one stage line, a
registration inserts one version block (rendered by ruamel.yaml so its quoting is right). Every edit is then
verified: the new text must parse to exactly the old data with the intended change, and pass every registry
check, or nothing is returned.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
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


def _splice_stage(root: yaml.Node | None, text: str, file: str, model: str, stage: str, version: str | None) -> str:
    stages = _model_node(root, file, model, "stages")
    if not isinstance(stages, yaml.MappingNode):
        raise EditError(f"{file}: models.{model}.stages is not a mapping")
    key_node, value_node = yamlio.find_node(stages, [stage])
    if key_node is not None and isinstance(value_node, yaml.ScalarNode):
        start, end = value_node.start_mark.index, value_node.end_mark.index
        if start == end:  # `stage:` with an empty value
            return text[:start] + " " + _scalar(version) + text[end:]
        return text[:start] + _scalar(version, value_node) + text[end:]
    if stages.flow_style:
        close = stages.end_mark.index - 1
        sep = ", " if stages.value else ""
        return text[:close] + f"{sep}{stage}: {_scalar(version)}" + text[close:]
    indent = " " * stages.value[0][0].start_mark.column
    at = _after_node(text, stages.value[-1][1])
    return text[:at] + f"{indent}{stage}: {_scalar(version)}\n" + text[at:]


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
    if versions.flow_style:
        close = versions.end_mark.index - 1
        sep = ", " if versions.value else ""
        return text[:close] + sep + json.dumps(entry) + text[close:]
    at = _after_node(text, versions.value[-1])
    return text[:at] + render_block(entry, versions.start_mark.column) + text[at:]


def _verified(
    old: dict[str, Any], new_text: str, file: str, model: str, path: tuple[str, ...], value: Any, append: bool = False
) -> tuple[str, Registry]:
    """Check that `new_text` is `old` with exactly one change, and that the changed model is still valid."""
    new = yamlio.load(new_text, file)
    new_model = new.get("models", {}).get(model) if isinstance(new, dict) else None
    if not isinstance(new_model, dict):
        raise EditError(f"{file}: the edit lost model '{model}'; nothing was written")
    parent = new_model
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if append:
        changed_ok = parent[last][-1] == value
    else:
        written = parent.get(last, object())
        changed_ok = (
            written is None if value is None else written is not None and version_key(written) == version_key(value)
        )
    old_parent = old["models"][model]
    for key in path[:-1]:
        old_parent = old_parent[key]
    if append:
        undone = parent[last][:-1] == old_parent[last] if changed_ok else False
        if undone:
            parent[last].pop()
    else:
        if last in old_parent:
            parent[last] = old_parent[last]
        else:
            parent.pop(last, None)
    same_elsewhere = new == old
    if not (changed_ok and same_elsewhere):
        raise EditError(
            f"{file}: the edit would change more than intended; nothing was written. Please report this with the file."
        )
    if append:
        parent[last].append(value)
    else:
        parent[last] = value
    validate({"version": new.get("version"), "models": {model: new_model}}, yamlio.Locator(new_text, file))
    return new_text, build(new, file)


def _require(data: dict[str, Any], file: str, model: str) -> dict[str, Any]:
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict) or not isinstance(models.get(model), dict):
        known = names(models) if isinstance(models, dict) else "none"
        raise InvalidFile(
            [Problem(Location(file, path=f"models.{model}"), f"model '{model}' is not in {file}; known: {known}")]
        )
    return models[model]


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
    new_text = _splice_stage(root, text, file, model, stage, new_value)
    return _verified(old, new_text, file, model, ("stages", stage), new_value)


def add_version(text: str, model: str, entry: Mapping[str, Any], file: str = "models.yaml") -> tuple[str, Registry]:
    """Register a version: one block is appended to the model's versions; no other line changes."""
    old, root = yamlio.parse_document(text, file)
    _require(old, file, model)
    value = json.loads(json.dumps(entry))
    new_text = _splice_version(root, text, file, model, value)
    return _verified(old, new_text, file, model, ("versions",), value, append=True)
