"""Reading a hand-written YAML or JSON file safely: bounded size, depth and shape.

`load_document(path)` returns plain data (dict, list, str, int, float, bool, None) or raises
`DocumentError(path, line, column, reason)`. It refuses, before building anything big:
- a file over `MAX_BYTES`, or one that is not UTF-8 (the reason names the byte offset);
- YAML aliases (`*name`): an "anchor bomb" of a few lines would expand to millions of nodes;
- nesting deeper than `MAX_DEPTH`, or more than `MAX_NODES` values (checked on the event stream,
  so PyYAML's recursive composer never gets deep enough to overflow the stack);
- duplicate keys, and keys that are not text (`NO: 3` reads as `false: 3` in YAML);
- tags other than the JSON types (`!!binary`, `!!set`, `!!python/...`).
Timestamps stay text, so validation sees (and reports) exactly what was written.
JSON is chosen by a `.json` suffix, or by content starting with `{` or `[` when the suffix is
neither `.yaml` nor `.yml`; everything else is read as YAML (which also reads most JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, Event, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.reader import ReaderError
from yaml.resolver import Resolver

from incident.errors import DocumentError

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000

_STR = "tag:yaml.org,2002:str"
_ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)


class _Limits(Exception):
    """Raised inside the loader with a place; turned into DocumentError by `_load_yaml`."""

    def __init__(self, node_or_mark: Any, reason: str) -> None:
        self.mark, self.reason = getattr(node_or_mark, "start_mark", node_or_mark), reason


class _Checked(Composer, SafeConstructor, Resolver):
    """PyYAML's own composer and safe constructor, counting depth and nodes as events arrive
    and building only JSON types. The events come from libyaml's parser when PyYAML has it
    (six times faster than the pure-Python one), else from PyYAML's."""

    def __init__(self) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._nodes = 0

    if TYPE_CHECKING:  # provided by the parser this is mixed with

        def peek_event(self) -> Event: ...

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise _Limits(event, f"YAML alias *{event.anchor} is not allowed: write the value out")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Limits(event, f"more than {MAX_NODES} values")
        if not isinstance(event, SequenceStartEvent | MappingStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Limits(event, f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if node.tag not in _ALLOWED_TAGS:
            raise _Limits(node, f"tag {node.tag!r} is not allowed: only text, numbers, true/false, "
                          "null, lists and mappings")  # fmt: skip
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Limits(key_node, "a key is a list or mapping: keys must be text")
            if key_node.tag != _STR:
                hint = f"quote it ('{key_node.value}')" if key_node.value else "give a text"
                raise _Limits(key_node, f"key {key_node.value!r} is not text: {hint}")
            if key_node.value in seen:
                raise _Limits(key_node, f"duplicate key {key_node.value!r}")
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


# Timestamps stay text; `=` (the YAML "value" type) and `<<` merges are plain text too.
_Checked.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag.rsplit(":", 1)[-1] not in ("timestamp", "value", "merge")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _Loader(_Checked, CParser):
        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Checked.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(_Checked, Parser, Scanner, Reader):  # type: ignore[no-redef]
        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)
            _Checked.__init__(self)


def load_document(path: Path, *, max_bytes: int = MAX_BYTES) -> Any:
    """One YAML or JSON document as plain data; any problem is a `DocumentError`."""
    name = str(path)
    text = _read_text(path, max_bytes)
    suffix = path.suffix.lower()
    as_json = suffix == ".json" or (
        suffix not in (".yaml", ".yml") and text.lstrip()[:1] in ("{", "[")
    )
    return _load_json(name, text) if as_json else _load_yaml(name, text)


def _read_text(path: Path, max_bytes: int) -> str:
    try:
        with path.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(
            str(path), None, None, f"cannot be read: {exc.strerror or exc}"
        ) from exc
    if len(raw) > max_bytes:
        raise DocumentError(str(path), None, None, f"is larger than {max_bytes} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw.count(b"\n", 0, start) + 1
        column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        reason = f"is not UTF-8: byte 0x{raw[start]:02x} at offset {start} ({exc.reason})"
        raise DocumentError(str(path), line, column, reason) from exc


def _load_yaml(name: str, text: str) -> Any:
    try:
        loader = _Loader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except _Limits as exc:
        raise _error(name, exc.mark, exc.reason) from None
    except ReaderError as exc:  # a control character YAML does not allow
        at = text.find(chr(exc.character)) if isinstance(exc.character, int) else -1
        line, column = (
            (text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)) if at >= 0 else (None, None)
        )
        reason = f"not YAML/JSON: character {exc.character:#06x} is not allowed"
        raise DocumentError(name, line, column, reason) from None
    except yaml.MarkedYAMLError as exc:
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
        raise _error(
            name, exc.problem_mark or exc.context_mark, f"not YAML/JSON: {reason}"
        ) from None
    except yaml.YAMLError as exc:
        raise DocumentError(name, None, None, f"not YAML/JSON: {exc}") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        raise DocumentError(name, None, None, _unreadable(exc)) from None
    except RecursionError:  # not expected (depth is checked first), but never a traceback
        raise DocumentError(name, None, None, f"nested deeper than {MAX_DEPTH} levels") from None


def _error(name: str, mark: Any, reason: str) -> DocumentError:
    if mark is None:
        return DocumentError(name, None, None, reason)
    return DocumentError(name, mark.line + 1, mark.column + 1, reason)


def _load_json(name: str, text: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise DocumentError(name, exc.lineno, exc.colno, f"not JSON: {exc.msg}") from None
    except _Limits as exc:
        raise DocumentError(name, None, None, exc.reason) from None
    except RecursionError:
        raise DocumentError(name, None, None, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise DocumentError(name, None, None, _unreadable(exc)) from None
    _check_shape(name, data)
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _Limits(None, f"duplicate key {key!r}")
        data[key] = value
    return data


def _no_constant(word: str) -> Any:
    raise _Limits(None, f"{word} is not a JSON number")


def _check_shape(name: str, data: Any) -> None:
    """Depth and size of parsed JSON, without recursion."""
    stack, nodes = [(data, 1)], 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise DocumentError(name, None, None, f"more than {MAX_NODES} values")
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise DocumentError(name, None, None, f"nested deeper than {MAX_DEPTH} levels")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


def _unreadable(exc: Exception) -> str:
    """A value PyYAML/json cannot build, e.g. an integer of more than 4300 digits."""
    return f"a value cannot be read: {str(exc).split(';', 1)[0]}"
