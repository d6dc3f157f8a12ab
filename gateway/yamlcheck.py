"""Strict YAML reading: every value checked once, every error naming file, line and key.

:func:`load_yaml` keeps pyyaml's node marks so :class:`Node` can say *where* a value is.
A loader walks the tree with :meth:`Node.mapping`, which rejects keys it was not told about
(with the list of keys it expected), and typed getters that reject values of the wrong type
or out of range. Errors are :class:`ConfigError`: ``FILE:LINE: key.path: reason``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration file is wrong; the message names the file, line, key and reason."""


@dataclass(frozen=True)
class Node:
    """A YAML node with where it came from: ``path`` is the dotted key path."""

    file: str
    path: str
    node: yaml.Node

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def error(self, reason: str) -> ConfigError:
        where = f"{self.path}: " if self.path else ""
        return ConfigError(f"{self.file}:{self.line}: {where}{reason}")

    def _child(self, key: str | int, node: yaml.Node) -> Node:
        path = f"{self.path}[{key}]" if isinstance(key, int) else (
            f"{self.path}.{key}" if self.path else key)
        return Node(self.file, path, node)

    # -- structure --------------------------------------------------------------------------

    def _pairs(self, merging: frozenset[int] = frozenset()) -> list[tuple[yaml.Node, yaml.Node]]:
        """The mapping's key and value nodes, YAML merge keys (``<<: *defaults``) expanded
        as YAML does: a key the mapping gives itself wins over a merged one, and of the
        mappings merged the first to give a key; a mapping merged into itself (through an
        alias) adds nothing. A key given twice in one mapping, its own or a merged one, is an
        error; a key that is no plain value is left to the caller to refuse."""
        assert isinstance(self.node, yaml.MappingNode)
        merging = merging | {id(self.node)}
        own = [(k, v) for k, v in self.node.value if k.tag != _MERGE]
        given: set[str] = set()
        for k, _ in own:
            if isinstance(k, yaml.ScalarNode):
                if k.value in given:
                    raise self._child(k.value, k).error("key given twice")
                given.add(k.value)
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        merges = [k for k, _ in self.node.value if k.tag == _MERGE]
        if len(merges) > 1:  # (one << takes a list of mappings)
            raise self._child("<<", merges[1]).error("key given twice")
        for k, v in self.node.value:
            if k.tag == _MERGE:
                for source in (v.value if isinstance(v, yaml.SequenceNode) else [v]):
                    if not isinstance(source, yaml.MappingNode):
                        raise Node(self.file, self.path, source).error(
                            "a merge (<<) takes a mapping or a list of them")
                    if id(source) not in merging:
                        merged += Node(self.file, self.path, source)._pairs(merging)
        out: list[tuple[yaml.Node, yaml.Node]] = []
        for k, v in merged:
            if not isinstance(k, yaml.ScalarNode) or k.value not in given:
                if isinstance(k, yaml.ScalarNode):
                    given.add(k.value)
                out.append((k, v))
        return out + own

    def mapping(self, allowed: set[str] | frozenset[str],
                required: set[str] | frozenset[str] = frozenset()) -> dict[str, Node]:
        """The mapping's entries; unknown or missing keys and duplicates are errors."""
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error(f"expected a mapping with keys {_keys(allowed)}")
        out: dict[str, Node] = {}
        for key_node, value_node in self._pairs():
            if not isinstance(key_node, yaml.ScalarNode):
                raise Node(self.file, self.path, key_node).error(
                    f"a key is a name, not a list or mapping; expected one of {_keys(allowed)}")
            key = key_node.value
            child = self._child(key, value_node)
            if key not in allowed:
                raise Node(self.file, child.path, key_node).error(
                    f"unknown key; expected one of {_keys(allowed)}")
            out[key] = child  # (each key once: _pairs)
        missing = sorted(required - out.keys())
        if missing:
            raise self.error(f"missing required key {', '.join(missing)}")
        return out

    def free_mapping(self, expected: str) -> dict[str, Node]:
        """A mapping whose keys are names (symbols, CompIDs, codes), by key as written:
        YAML would read the key ``ON`` as true and ``0700`` as 448. ``expected`` says what
        the mapping holds, for the error when this is no mapping."""
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error(f"expected a mapping of {expected}")
        keys = set()
        for k, _ in self._pairs():
            if not isinstance(k, yaml.ScalarNode):
                raise Node(self.file, self.path, k).error(
                    f"a key is a name, not a list or mapping, in a mapping of {expected}")
            if k.tag == _NULL or not k.value:
                raise Node(self.file, self.path, k).error(
                    f"expected a name for a key of {expected}, got {k.value or 'nothing'!r}")
            keys.add(k.value)
        return self.mapping(keys)

    def sequence(self) -> Iterator[Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error("expected a list")
        for i, item in enumerate(self.node.value):
            yield self._child(i, item)

    # -- scalars ----------------------------------------------------------------------------

    def _scalar(self) -> Any:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.error("expected a single value")
        value = self.raw()
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and ":" in self.node.value:
            # YAML 1.1's base 60: an unquoted 1:30 is the number 90, which a key taking
            # seconds would use as such
            raise self.error(f"{self.node.value} is read as the number {value} (base 60): "
                             f"quote it ('{self.node.value}') if it is a time of day")
        return value

    def existing_file(self, base: Path) -> Path:
        """The file this node names, relative to ``base`` (the YAML's folder) unless absolute;
        it must exist and be a regular file, else the error names the path."""
        path = base / self.string()
        if not path.exists():
            raise self.error(f"no such file: {path}")
        if not path.is_file():
            raise self.error(f"{path} is not a regular file")
        return path

    def string(self, choices: tuple[str, ...] = ()) -> str:
        """A non-empty string without control characters (a config's strings become FIX
        field values, file names and log text, where SOH or a line break breaks them)."""
        value = self._scalar()
        if not isinstance(value, str) or not value:
            raise self.error(f"expected a non-empty string, got {_shown(value)}")
        bad = next((i for i, c in enumerate(value) if c < " " or c == "\x7f"), None)
        if bad is not None:
            raise self.error(f"control character 0x{ord(value[bad]):02x} at position "
                             f"{bad + 1} of {value!r}")
        if choices and value not in choices:
            raise self.error(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def name(self) -> str:
        """A name (a CompID, a symbol, a session) as written: YAML would read an unquoted
        ``ON`` as true and ``0700`` as 448. Else (quoted) as :meth:`string` takes it."""
        node = self.node
        if (isinstance(node, yaml.ScalarNode) and node.style is None and node.tag != _NULL
                and node.value):
            return Node(self.file, self.path, yaml.ScalarNode(
                "tag:yaml.org,2002:str", node.value, node.start_mark, node.end_mark)).string()
        return self.string()

    def boolean(self) -> bool:
        value = self._scalar()
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {_shown(value)}")
        return value

    def integer(self, low: int | None = None, high: int | None = None) -> int:
        value = self._scalar()
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected an integer, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.error(f"expected an integer {_range(low, high, False)}, got "
                             f"{_shown(value)}")
        return value

    def number(self, low: float | None = None, high: float | None = None, *,
               above: bool = False) -> float:
        """A finite int or float in ``[low, high]`` (a bound of None: none that side;
        ``above``: ``low`` itself excluded).

        YAML's ``.nan`` and ``.inf`` are floats, and NaN fails no comparison: without the
        finiteness check here they would pass every range and fail far from the file (a NaN
        window cannot become a time; a NaN limit cannot be sent in FIX). Every number a
        config reads comes through here, so this one check covers every key."""
        value = self._scalar()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"expected a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(f"expected a finite number, got {value}")
        if ((low is not None and (value <= low if above else value < low))
                or (high is not None and value > high)):
            raise self.error(f"expected a number {_range(low, high, above)}, got "
                             f"{_shown(value)}")
        try:
            return float(value)
        except OverflowError:  # an integer of hundreds of digits, with no bound above
            raise self.error(f"{_shown(value)} is too large a number") from None

    def raw(self) -> Any:
        """The plain Python value of this node (for free-form sections); a value YAML cannot
        make (``!!int abc``, an integer of more digits than Python converts) is an error at
        its line, not the library's exception."""
        try:
            return yaml.safe_load(yaml.serialize(self.node))
        except (ValueError, KeyError, AttributeError, TypeError, yaml.YAMLError) as exc:
            problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
            raise self.error(f"YAML cannot read this value: {problem}") from None


_MERGE = "tag:yaml.org,2002:merge"
_NULL = "tag:yaml.org,2002:null"


def _shown(value: Any) -> str:
    """``value`` for an error (repr), an integer of more than 30 digits by its length (the
    digits Python would make of one of thousands are refused, and unreadable anyway)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 30:
        digits = len(str(abs(value))) if value.bit_length() < 4000 else \
            int(value.bit_length() * math.log10(2)) + 1  # (within one)
        prefix = "about " if value.bit_length() >= 4000 else ""
        return f"an integer of {prefix}{digits} digits"
    return repr(value)


def _range(low: float | None, high: float | None, above: bool) -> str:
    """``[0, 1]``, ``(0, 1]``, ``>= 1``, ``> 0``, ``<= 9``: the range in words for an error."""
    if low is not None and high is not None:
        return f"in {'(' if above else '['}{low}, {high}]"
    if low is not None:
        return f"{'>' if above else '>='} {low}"
    return f"<= {high}"


def _keys(allowed: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(allowed))


def load_yaml(path: str | Path) -> Node:
    """Parse ``path`` into a :class:`Node`; a file that cannot be read, is not UTF-8 (named
    with the line of the first bad byte) or is not YAML raises :class:`ConfigError`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # the codec names neither the file nor the line
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}): "
                          "save the file as UTF-8") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError(f"{path}:{line}: not valid YAML: {exc.problem}") from exc
    if node is None:
        raise ConfigError(f"{path}:1: the file is empty")
    return Node(str(path), "", node)
