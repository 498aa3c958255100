"""Strict, fast YAML reading for files people write and attackers may send.

PyYAML's C loader does the parsing; this module adds what a registry needs on top of it: duplicate keys
refused (YAML would silently keep the last one), dates kept as the strings the schema checks, a cap on
aliases (billion-laughs), a size cap, strict UTF-8, and every problem reported with its file, line and
column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from bot.errors import InvalidFile, Location, Problem

MAX_BYTES = 32 * 1024 * 1024
MAX_ALIASES = 1000
MAX_EXPANSION = 10_000

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BaseLoader):  # type: ignore[misc]  # PyYAML's loaders are untyped classes
    """SafeLoader (C-accelerated where available) that refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [k.value if isinstance(k, yaml.ScalarNode) else id(k) for k, _ in node.value]
        if len(set(keys)) != len(keys):
            seen: set[Any] = set()
            for key, (key_node, _) in zip(keys, node.value, strict=True):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"duplicate key {key!r} (YAML would keep only the last value)",
                        key_node.start_mark,
                    )
                seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


class AliasGuardLoader(StrictLoader):
    """StrictLoader that also refuses alias floods (billion laughs); used only when the text has anchors."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.alias_uses = 0

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:
            self.alias_uses += 1
            if self.alias_uses > MAX_ALIASES:
                raise yaml.constructor.ConstructorError(
                    None, None, f"more than {MAX_ALIASES} alias references", node.start_mark
                )
        return super().construct_object(node, deep=deep)

    def construct_document(self, node: yaml.Node) -> Any:
        data = super().construct_document(node)
        if self.alias_uses:
            expanded = _expanded_size(node, {})
            if expanded > MAX_EXPANSION + _unique_size(node, set()):
                raise yaml.constructor.ConstructorError(
                    None, None, f"aliases expand the document to {expanded:,} nodes", node.start_mark
                )
        return data


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Node count with every alias expanded: what a consumer walking the data would visit."""
    if id(node) not in memo:
        memo[id(node)] = 1 + sum(_expanded_size(child, memo) for child in _children(node))
    return memo[id(node)]


def _unique_size(node: yaml.Node, seen: set[int]) -> int:
    if id(node) in seen:
        return 0
    seen.add(id(node))
    return 1 + sum(_unique_size(child, seen) for child in _children(node))


# Dates stay strings: the schema checks their format, and a datetime would not survive a JSON dump.
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_constructor("tag:yaml.org,2002:map", StrictLoader.construct_yaml_map)
AliasGuardLoader.yaml_implicit_resolvers = StrictLoader.yaml_implicit_resolvers


def decode(raw: bytes, file: str, max_bytes: int = MAX_BYTES) -> str:
    """Bytes to text, refusing what is not a readable YAML document."""
    if len(raw) > max_bytes:
        raise InvalidFile([Problem(Location(file), f"file is {len(raw):,} bytes; the limit is {max_bytes:,}")])
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise InvalidFile([Problem(Location(file, line), "file holds binary data (a NUL byte); expected UTF-8 YAML")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InvalidFile(
            [Problem(Location(file, line, col), f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")]
        ) from None


MAX_DEPTH = 200
_CHEAP_LIMIT = 2 * MAX_DEPTH


def _may_be_deep(text: str) -> bool:
    """A cheap over-estimate: nesting needs brackets or long lines (indentation, compact `- - -`)."""
    if text.count("[") + text.count("{") > _CHEAP_LIMIT:
        import numpy as np

        raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        delta = (raw == ord("[")).astype(np.int32) + (raw == ord("{")) - (raw == ord("]")) - (raw == ord("}"))
        if int(np.cumsum(delta).max(initial=0)) > MAX_DEPTH:
            return True
    return max(map(len, text.splitlines()), default=0) > _CHEAP_LIMIT


def _check_depth(text: str, file: str) -> None:
    """Refuse absurd nesting before composing: the C composer recurses and a deep enough file crashes it."""
    if not _may_be_deep(text):
        return
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_BaseLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(file, event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        # PyYAML >= 6.0.4 limits nesting in its scanner, which reads ahead of the events: same refusal, our words.
        if "nesting depth" in (exc.problem or ""):
            raise _too_deep(file, exc.problem_mark) from None
        return  # the real parse reports it with its position
    except yaml.YAMLError:
        return


def _too_deep(file: str, mark: Any) -> InvalidFile:  # a yaml.Mark, from the C or the pure-Python parser
    loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
    return InvalidFile([Problem(loc, f"YAML nested too deeply (more than {MAX_DEPTH} levels)")])


def conflict_lines(text: str) -> tuple[int, ...]:
    """1-based numbers of the lines holding git's conflict markers (a merge or revert left for a person)."""
    if "\n<<<<<<< " not in f"\n{text}" or "\n>>>>>>> " not in f"\n{text}":
        return ()
    return tuple(
        n
        for n, line in enumerate(text.splitlines(), 1)
        if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "======="
    )


def parse_document(text: str, file: str) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document strictly: its data, and its node tree (positions) from the same pass."""
    if not text.strip():
        raise InvalidFile([Problem(Location(file), "file is empty; expected a YAML mapping")])
    if marked := conflict_lines(text):
        raise InvalidFile(
            [
                Problem(
                    Location(file, marked[0]),
                    f"unresolved merge conflict: git's conflict markers at lines "
                    f"{', '.join(map(str, marked))}; keep the side you want and delete the markers",
                )
            ]
        )
    _check_depth(text, file)
    loader = (AliasGuardLoader if "&" in text else StrictLoader)(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        return data, node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        what = exc.problem or str(exc)
        if exc.context and "duplicate" not in (exc.problem or ""):
            what = f"{exc.context}: {what}"
        raise InvalidFile([Problem(loc, f"invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidFile([Problem(Location(file), f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise InvalidFile([Problem(Location(file), "YAML nested too deeply")]) from None
    finally:
        loader.dispose()


def load(text: str, file: str) -> Any:
    """Parse one YAML document strictly; errors carry the file, line and column."""
    return parse_document(text, file)[0]


def load_bytes(raw: bytes, file: str, max_bytes: int = MAX_BYTES) -> Any:
    return load(decode(raw, file, max_bytes), file)


def compose(text: str) -> yaml.Node | None:
    """The node tree with positions, for locating keys (errors, minimal-diff edits)."""
    _check_depth(text, "<document>")
    return yaml.compose(text, Loader=_BaseLoader)


def find_node(root: yaml.Node | None, path: Sequence[str | int]) -> tuple[yaml.Node | None, yaml.Node | None]:
    """Follow a key path through the node tree; returns (key node, value node) of its deepest existing step."""
    key_node: yaml.Node | None = None
    node = root
    for step in path:
        if isinstance(node, yaml.MappingNode):
            match = next(
                ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(step)), None
            )
            if match is None:
                break
            key_node, node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            key_node, node = None, node.value[step]
        else:
            break
    return key_node, node


class Locator:
    """Turns key paths into file locations; composes the document once, and only when first asked."""

    def __init__(self, text: str, file: str, root: yaml.Node | None = None) -> None:
        self.text = text
        self.file = file
        self._root = root
        self._composed = root is not None

    def __call__(self, path: Sequence[str | int]) -> Location:
        dotted = ".".join(str(p) for p in path) or None
        if not self._composed:
            self._composed = True
            try:
                self._root = compose(self.text)
            except yaml.YAMLError:
                self._root = None
        key_node, node = find_node(self._root, path)
        anchor = key_node or node
        if anchor is None:
            return Location(self.file, path=dotted)
        return Location(self.file, anchor.start_mark.line + 1, anchor.start_mark.column + 1, dotted)
