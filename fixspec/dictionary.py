"""FIX data dictionaries: QuickFIX-format XML in, frozen typed metadata out.

A dictionary says which fields exist (tag, name, type, enumerated values), what goes in the
standard header and trailer, and the layout of each message: its fields, which are required,
and its repeating groups (nested to any depth; an entry starts with the group's *delimiter*,
its first field). Components are flattened into the messages that use them: a field is
required only if it is marked required *and* every enclosing component is required, which is
how QuickFIX reads these files. Inside a group entry, required flags apply to each entry.

FIX 4.x uses one dictionary for everything. FIXT 1.1 splits it: the transport dictionary
(FIXT11.xml) holds header, trailer and the admin messages, the application dictionary
(e.g. FIX50SP2.xml) holds the application messages. :class:`SessionDictionaries` pairs them;
codec and validator take either a :class:`DataDictionary` or a :class:`SessionDictionaries`.

Loading validates the XML once: every problem raises :class:`DictionaryError` naming the
file, the line and what is wrong (e.g. an unknown field name, with the message it is in).
"""

from __future__ import annotations

import functools
import weakref
import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from pathlib import Path
from types import MappingProxyType

from fixspec.fieldtypes import DATA_TYPES, KNOWN_TYPES

__all__ = [
    "BUILTIN_FILES",
    "DataDictionary",
    "DictionaryError",
    "FieldDef",
    "FieldRef",
    "FieldSet",
    "GroupDef",
    "Member",
    "MessageDef",
    "SessionDictionaries",
    "as_session",
    "builtin_session",
    "load",
    "load_builtin",
    "load_bytes",
]

BEGIN_STRING, BODY_LENGTH, MSG_TYPE, CHECKSUM = 8, 9, 35, 10

#: Dictionaries shipped in ``fixspec/data`` (QuickFIX's), by version name.
BUILTIN_FILES: Mapping[str, str] = MappingProxyType(
    {
        "FIX.4.2": "FIX42.xml",
        "FIX.4.4": "FIX44.xml",
        "FIXT.1.1": "FIXT11.xml",
        "FIX.5.0SP2": "FIX50SP2.xml",
    }
)

_EMPTY: Mapping[str, str] = MappingProxyType({})


class DictionaryError(ValueError):
    """A data dictionary XML is malformed; the message names the file, the line and the fault."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field of the dictionary: ``values`` maps each enumerated value to its description
    (empty when the field is not enumerated). ``type`` is the upper-case FIX type name."""

    tag: int
    name: str
    type: str
    values: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)

    @property
    def is_data(self) -> bool:
        """True for raw data fields (DATA, XMLDATA), whose values may contain SOH."""
        return self.type in DATA_TYPES


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field's place in a message, group entry, header or trailer."""

    field: FieldDef
    required: bool

    @property
    def tag(self) -> int:
        return self.field.tag


@dataclass(frozen=True, eq=False, kw_only=True)
class FieldSet:
    """An ordered layout of fields and groups: a header, a trailer, a message body, or one entry
    of a repeating group.

    ``members`` is the dictionary order. The derived lookups cover this level only (a group
    counts as its NumInGroup tag; the group's own fields live in its :class:`GroupDef`):
    ``tags`` every tag allowed here, ``required_tags`` those that must be present, ``groups``
    the groups by NumInGroup tag, ``fields`` the field definitions by tag, ``data_lengths`` the
    LENGTH field of each data field that has one (by data field tag).
    """

    members: tuple[Member, ...]
    tags: frozenset[int] = field(init=False)
    required_tags: frozenset[int] = field(init=False)
    groups: Mapping[int, GroupDef] = field(init=False)
    fields: Mapping[int, FieldDef] = field(init=False)
    _positions: Mapping[int, int] = field(init=False, repr=False)
    data_lengths: Mapping[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fields: dict[int, FieldDef] = {}
        groups: dict[int, GroupDef] = {}
        required: set[int] = set()
        positions: dict[int, int] = {}
        length_of: dict[int, int] = {}
        last_length: int | None = None
        for i, m in enumerate(self.members):
            fd = m.count if isinstance(m, GroupDef) else m.field
            positions.setdefault(fd.tag, i)
            fields.setdefault(fd.tag, fd)
            if isinstance(m, GroupDef):
                groups.setdefault(fd.tag, m)
            if m.required:
                required.add(fd.tag)
            # A data field's length is the LENGTH field listed just before it (QuickFIX's
            # convention); the encoder needs the pair because Signature (89) follows
            # SignatureLength (93) on the wire although its tag is lower.
            if fd.type == "LENGTH":
                last_length = fd.tag
            elif fd.is_data and last_length is not None:
                length_of[fd.tag] = last_length
        object.__setattr__(self, "tags", frozenset(fields))
        object.__setattr__(self, "required_tags", frozenset(required))
        object.__setattr__(self, "groups", MappingProxyType(groups))
        object.__setattr__(self, "fields", MappingProxyType(fields))
        object.__setattr__(self, "_positions", MappingProxyType(positions))
        object.__setattr__(self, "data_lengths", MappingProxyType(length_of))

    def position(self, tag: int) -> int | None:
        """Index of ``tag`` in dictionary order at this level, or None if not defined here."""
        return self._positions.get(tag)


@dataclass(frozen=True, eq=False, kw_only=True)
class GroupDef(FieldSet):
    """A repeating group: ``count`` is its NumInGroup field, ``members`` the layout of one entry.

    ``required`` says whether the NumInGroup field must be present where the group is used.
    """

    count: FieldDef
    required: bool

    @property
    def tag(self) -> int:
        """The NumInGroup tag."""
        return self.count.tag

    @property
    def name(self) -> str:
        return self.count.name

    @property
    def delimiter(self) -> int:
        """The tag that must open every entry: the first member (a nested group's NumInGroup)."""
        first = self.members[0]
        return first.count.tag if isinstance(first, GroupDef) else first.field.tag


@dataclass(frozen=True, eq=False, kw_only=True)
class MessageDef(FieldSet):
    """A message type: ``members`` is the body layout (header and trailer are the dictionary's).

    ``category`` is ``"admin"`` (session level) or ``"app"``.
    """

    name: str
    msg_type: str
    category: str

    @property
    def is_admin(self) -> bool:
        return self.category == "admin"


Member = FieldRef | GroupDef


@dataclass(frozen=True, eq=False, kw_only=True)
class DataDictionary:
    """A loaded dictionary. Lookups: ``fields_by_tag``, ``fields_by_name``, ``messages`` (by
    MsgType), ``messages_by_name``; :meth:`field` and :meth:`message` raise ``KeyError`` with
    a readable message."""

    source: str
    fix_type: str
    major: int
    minor: int
    servicepack: int
    fields_by_tag: Mapping[int, FieldDef]
    fields_by_name: Mapping[str, FieldDef]
    header: FieldSet
    trailer: FieldSet
    messages: Mapping[str, MessageDef]
    messages_by_name: Mapping[str, MessageDef]

    @property
    def version(self) -> str:
        """``FIX.4.4``, ``FIXT.1.1``, ``FIX.5.0SP2``: the BeginString for FIX 4.x and FIXT, the
        ApplVerID-style name for an application dictionary of FIX 5."""
        sp = f"SP{self.servicepack}" if self.servicepack else ""
        return f"{self.fix_type}.{self.major}.{self.minor}{sp}"

    @property
    def is_transport(self) -> bool:
        """True if this dictionary defines the session layer (FIX 4.x or FIXT), i.e. has a
        header with BeginString, BodyLength and MsgType."""
        return BEGIN_STRING in self.header.tags

    def field(self, key: int | str) -> FieldDef:
        """The field with this tag number or name."""
        found = (
            self.fields_by_tag.get(key) if isinstance(key, int) else self.fields_by_name.get(key)
        )
        if found is None:
            raise KeyError(f"no field {key!r} in {self.version} dictionary ({self.source})")
        return found

    def message(self, msg_type: str) -> MessageDef:
        """The message with this MsgType (35) value."""
        found = self.messages.get(msg_type)
        if found is None:
            raise KeyError(f"no MsgType {msg_type!r} in {self.version} dictionary ({self.source})")
        return found


@dataclass(frozen=True, eq=False)
class SessionDictionaries:
    """The dictionaries one session validates against.

    Header, trailer and admin messages come from ``transport``; application messages from
    ``app``. For FIX 4.x both are the same dictionary (see :meth:`single`).
    """

    transport: DataDictionary
    app: DataDictionary

    def __post_init__(self) -> None:
        if not self.transport.is_transport:
            raise ValueError(
                f"{self.transport.source}: {self.transport.version} has no session header "
                "(BeginString, BodyLength, MsgType) and cannot be a transport dictionary"
            )
        if self.transport.fix_type == "FIX" and self.app is not self.transport:
            raise ValueError(
                f"a {self.transport.version} session uses one dictionary; pair an application "
                "dictionary only with a FIXT transport dictionary"
            )

    @classmethod
    def single(cls, dictionary: DataDictionary) -> SessionDictionaries:
        """The pairing for FIX 4.x: one dictionary for both roles."""
        return cls(dictionary, dictionary)

    @property
    def begin_string(self) -> str:
        return self.transport.version

    @property
    def header(self) -> FieldSet:
        return self.transport.header

    @property
    def trailer(self) -> FieldSet:
        return self.transport.trailer

    def message(self, msg_type: str) -> tuple[MessageDef, DataDictionary] | None:
        """The definition of ``msg_type`` and the dictionary holding it (admin messages from
        the transport dictionary first), or None if neither defines it."""
        found = self.transport.messages.get(msg_type)
        if found is not None:
            return found, self.transport
        found = self.app.messages.get(msg_type)
        if found is not None:
            return found, self.app
        return None

    def field(self, tag: int) -> FieldDef | None:
        """The definition of ``tag`` (application dictionary first), or None if undefined."""
        return self.app.fields_by_tag.get(tag) or self.transport.fields_by_tag.get(tag)

    def data_fields(self) -> frozenset[tuple[int, int]]:
        """Every (length tag, data tag) pair of the dictionaries by QuickFIX's rule: a DATA
        field's length is the field numbered one below it, whatever its type
        (SignatureLength 93 for Signature 89): what the framer must read by length (a
        user-defined DATA field's value may hold SOH as a standard one's may). One data
        tag for each length tag."""
        pairs: set[tuple[int, int]] = set()
        for dd in (self.transport, self.app):
            for tag, fd in dd.fields_by_tag.items():
                if fd.is_data:
                    pairs.add((93 if tag == 89 else tag - 1, tag))
        return frozenset(pairs)


_SINGLES: weakref.WeakKeyDictionary[DataDictionary, SessionDictionaries] = (
    weakref.WeakKeyDictionary()
)


def as_session(dictionary: DataDictionary | SessionDictionaries) -> SessionDictionaries:
    """Accept either form wherever a session's dictionaries are expected.

    A plain dictionary always maps to the same :class:`SessionDictionaries` object while it
    lives, so per-session caches keyed on it (the codec has some) keep hitting.
    """
    if isinstance(dictionary, SessionDictionaries):
        return dictionary
    found = _SINGLES.get(dictionary)
    if found is None:
        found = _SINGLES[dictionary] = SessionDictionaries.single(dictionary)
    return found


# ---------------------------------------------------------------------------------------------
# Loading


def load(path: str | PathLike[str]) -> DataDictionary:
    """Load a QuickFIX-format dictionary from ``path``; :class:`DictionaryError` if malformed.

    Not cached: a session pointed at a counterparty's file reads it when configured.
    """
    p = Path(path)
    return load_bytes(p.read_bytes(), str(p))


def load_bytes(data: bytes, source: str = "<bytes>") -> DataDictionary:
    """Load a dictionary from XML bytes; ``source`` names it in error messages."""
    root, lines = _parse_xml(data, source)
    return _Builder(source, root, lines).build()


@functools.cache
def load_builtin(version: str) -> DataDictionary:
    """One of the dictionaries shipped with the package (see :data:`BUILTIN_FILES`), loaded
    once per process."""
    try:
        name = BUILTIN_FILES[version]
    except KeyError:
        raise KeyError(
            f"no built-in dictionary {version!r}; choose one of {', '.join(BUILTIN_FILES)}"
        ) from None
    ref = resources.files("fixspec").joinpath("data", name)
    return load_bytes(ref.read_bytes(), str(ref))


@functools.cache
def builtin_session(begin_string: str, app_version: str = "FIX.5.0SP2") -> SessionDictionaries:
    """Built-in dictionaries for a session with this BeginString: ``FIX.4.2`` and ``FIX.4.4``
    alone, ``FIXT.1.1`` with the application dictionary ``app_version``. Cached."""
    transport = load_builtin(begin_string)
    if transport.fix_type == "FIXT":
        return SessionDictionaries(transport, load_builtin(app_version))
    return as_session(transport)


def _parse_xml(data: bytes, source: str) -> tuple[ET.Element, dict[ET.Element, int]]:
    """Parse into an ElementTree, remembering each element's line (ElementTree itself keeps
    none, and the line is what a user needs to fix a counterparty's file)."""
    parser = xml.parsers.expat.ParserCreate()
    lines: dict[ET.Element, int] = {}
    stack: list[ET.Element] = []
    roots: list[ET.Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        el = ET.Element(tag, attrs)
        lines[el] = parser.CurrentLineNumber
        (stack[-1].append(el) if stack else roots.append(el))
        stack.append(el)

    def end(_tag: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise DictionaryError(source, exc.lineno, f"not well-formed XML: {exc}") from None
    return roots[0], lines


_SECTIONS = ("header", "trailer", "messages", "components", "fields")


#: the deepest components and groups may nest in a dictionary (see _Builder.members)
MAX_NESTING = 100


class _Builder:
    def __init__(self, source: str, root: ET.Element, lines: dict[ET.Element, int]) -> None:
        self.source = source
        self.root = root
        self.lines = lines
        self.by_name: dict[str, FieldDef] = {}
        self.components: dict[str, ET.Element] = {}
        self.flat: dict[tuple[str, bool], tuple[Member, ...]] = {}

    def error(self, el: ET.Element | None, reason: str) -> DictionaryError:
        return DictionaryError(self.source, self.lines.get(el) if el is not None else None, reason)

    def attr(self, el: ET.Element, name: str, what: str) -> str:
        value = el.get(name)
        if value is None or not value.strip():
            raise self.error(el, f"{what} has no '{name}' attribute")
        return value.strip()

    def int_attr(self, el: ET.Element, name: str, what: str, default: int | None = None) -> int:
        if default is not None and el.get(name) is None:
            return default
        text = self.attr(el, name, what)
        try:
            return int(text)
        except ValueError:
            raise self.error(el, f"{what}: {name}={text!r} is not an integer") from None

    def section(self, name: str) -> ET.Element | None:
        found = [el for el in self.root if el.tag == name]
        if len(found) > 1:
            raise self.error(found[1], f"<{name}> appears more than once")
        return found[0] if found else None

    def build(self) -> DataDictionary:
        root = self.root
        if root.tag != "fix":
            raise self.error(root, f"root element is <{root.tag}>, expected <fix>")
        fix_type = self.attr(root, "type", "<fix>")
        if fix_type not in ("FIX", "FIXT"):
            raise self.error(root, f"<fix type={fix_type!r}>: expected FIX or FIXT")
        major = self.int_attr(root, "major", "<fix>")
        minor = self.int_attr(root, "minor", "<fix>")
        servicepack = self.int_attr(root, "servicepack", "<fix>", default=0)
        for el in root:
            if el.tag not in _SECTIONS:
                raise self.error(
                    el, f"unexpected element <{el.tag}> in <fix>; expected {', '.join(_SECTIONS)}"
                )
        fields_el = self.section("fields")
        if fields_el is None:
            raise self.error(root, "no <fields> section")
        by_tag = self.load_fields(fields_el)
        self.load_components()

        header = FieldSet(members=self.section_members("header"))
        trailer = FieldSet(members=self.section_members("trailer"))
        if fix_type == "FIXT" or major < 5:
            for tag, where, fs in (
                (BEGIN_STRING, "header", header),
                (BODY_LENGTH, "header", header),
                (MSG_TYPE, "header", header),
                (CHECKSUM, "trailer", trailer),
            ):
                if tag not in fs.tags:
                    raise self.error(
                        self.section(where) or root,
                        f"the {where} of a {fix_type}.{major}.{minor} dictionary must "
                        f"contain tag {tag}",
                    )
        messages, by_msg_name = self.load_messages()
        return DataDictionary(
            source=self.source,
            fix_type=fix_type,
            major=major,
            minor=minor,
            servicepack=servicepack,
            fields_by_tag=MappingProxyType(by_tag),
            fields_by_name=MappingProxyType(self.by_name),
            header=header,
            trailer=trailer,
            messages=MappingProxyType(messages),
            messages_by_name=MappingProxyType(by_msg_name),
        )

    def load_fields(self, fields_el: ET.Element) -> dict[int, FieldDef]:
        by_tag: dict[int, FieldDef] = {}
        for el in fields_el:
            if el.tag != "field":
                raise self.error(el, f"unexpected <{el.tag}> in <fields>")
            name = self.attr(el, "name", "<field> in <fields>")
            what = f"field '{name}'"
            tag = self.int_attr(el, "number", what)
            ftype = self.attr(el, "type", what).upper()
            if tag <= 0:
                raise self.error(el, f"{what}: number {tag} must be positive")
            if ftype not in KNOWN_TYPES:
                raise self.error(
                    el, f"{what}: unknown type {ftype!r}; known: {', '.join(sorted(KNOWN_TYPES))}"
                )
            if tag in by_tag:
                raise self.error(el, f"{what}: number {tag} already used by '{by_tag[tag].name}'")
            if name in self.by_name:
                raise self.error(el, f"{what} defined twice")
            values: dict[str, str] = {}
            for v in el:
                if v.tag != "value":
                    raise self.error(v, f"{what}: unexpected <{v.tag}>, expected <value>")
                enum = v.get("enum")
                if enum is None or enum == "":
                    raise self.error(v, f"{what}: <value> has no 'enum' attribute")
                if enum in values:
                    raise self.error(v, f"{what}: enum value {enum!r} listed twice")
                values[enum] = v.get("description", "")
            fd = FieldDef(tag, name, ftype, MappingProxyType(values) if values else _EMPTY)
            by_tag[tag] = fd
            self.by_name[name] = fd
        return by_tag

    def load_components(self) -> None:
        comps = self.section("components")
        if comps is None:
            return
        for el in comps:
            if el.tag != "component":
                raise self.error(el, f"unexpected <{el.tag}> in <components>")
            name = self.attr(el, "name", "<component> in <components>")
            if name in self.components:
                raise self.error(el, f"component '{name}' defined twice")
            self.components[name] = el
        # Check every component, including unused ones, so a broken file fails at load time.
        for name in self.components:
            self.component_members(name, True, (), self.components[name])

    def section_members(self, name: str) -> tuple[Member, ...]:
        el = self.section(name)
        return () if el is None else self.members(el, True, f"<{name}>", ())

    def load_messages(self) -> tuple[dict[str, MessageDef], dict[str, MessageDef]]:
        messages: dict[str, MessageDef] = {}
        by_name: dict[str, MessageDef] = {}
        section = self.section("messages")
        for el in section if section is not None else ():
            if el.tag != "message":
                raise self.error(el, f"unexpected <{el.tag}> in <messages>")
            name = self.attr(el, "name", "<message>")
            msg_type = self.attr(el, "msgtype", f"message '{name}'")
            category = el.get("msgcat", "app").strip()
            if category not in ("admin", "app"):
                raise self.error(el, f"message '{name}': msgcat={category!r}, expected admin/app")
            if msg_type in messages:
                other = messages[msg_type].name
                raise self.error(el, f"message '{name}': msgtype {msg_type!r} already used by "
                                 f"'{other}'")
            if name in by_name:
                raise self.error(el, f"message '{name}' defined twice")
            owner = f"message '{name}' (35={msg_type})"
            md = MessageDef(
                members=self.members(el, True, owner, ()),
                name=name,
                msg_type=msg_type,
                category=category,
            )
            messages[msg_type] = md
            by_name[name] = md
        return messages, by_name

    def required(self, el: ET.Element, owner: str) -> bool:
        flag = el.get("required", "N").strip().upper()
        if flag not in ("Y", "N"):
            raise self.error(el, f"{owner}: required={flag!r}, expected Y or N")
        return flag == "Y"

    def component_members(
        self, name: str, required: bool, stack: tuple[str, ...], ref: ET.Element,
        depth: int = 0,
    ) -> tuple[Member, ...]:
        key = (name, required)
        if key in self.flat:
            return self.flat[key]
        el = self.components.get(name)
        if el is None:
            raise self.error(ref, f"unknown component '{name}'")
        if name in stack:
            cycle = " -> ".join((*stack, name))
            raise self.error(ref, f"component '{name}' includes itself ({cycle})")
        members = self.members(el, required, f"component '{name}'", (*stack, name), depth + 1)
        self.flat[key] = members
        return members

    def members(
        self, parent: ET.Element, required_ctx: bool, owner: str, stack: tuple[str, ...],
        depth: int = 0,
    ) -> tuple[Member, ...]:
        """Flatten ``parent``'s children. A required flag counts only if ``required_ctx`` (every
        enclosing component is required); group entries start a fresh context. ``depth``:
        the components and groups ``parent`` is within, at most MAX_NESTING (real
        dictionaries nest a few deep; hundreds exhausted Python's stack: a traceback)."""
        if depth > MAX_NESTING:
            raise self.error(parent, f"{owner}: components and groups nested more than "
                                     f"{MAX_NESTING} deep")
        out: list[Member] = []
        seen: set[int] = set()

        def add(member: Member, el: ET.Element) -> None:
            tag = member.count.tag if isinstance(member, GroupDef) else member.field.tag
            if tag in seen:
                # Two definitions of one tag at one level make decoding ambiguous.
                raise self.error(el, f"{owner}: tag {tag} appears twice at the same level")
            seen.add(tag)
            out.append(member)

        for el in parent:
            if el.tag == "field":
                name = self.attr(el, "name", f"<field> in {owner}")
                fd = self.by_name.get(name)
                if fd is None:
                    raise self.error(el, f"{owner} refers to unknown field '{name}'")
                add(FieldRef(fd, required_ctx and self.required(el, owner)), el)
            elif el.tag == "group":
                name = self.attr(el, "name", f"<group> in {owner}")
                fd = self.by_name.get(name)
                if fd is None:
                    raise self.error(el, f"{owner}: group '{name}' has no field of that name")
                if fd.type not in ("NUMINGROUP", "INT"):
                    raise self.error(
                        el, f"{owner}: group '{name}' counter has type {fd.type}, "
                        "expected NUMINGROUP (or INT in old dictionaries)"
                    )
                inner = self.members(el, True, f"group '{name}' in {owner}", stack, depth + 1)
                if not inner:
                    raise self.error(el, f"{owner}: group '{name}' has no fields")
                add(GroupDef(members=inner, count=fd, required=required_ctx
                             and self.required(el, owner)), el)
            elif el.tag == "component":
                name = self.attr(el, "name", f"<component> in {owner}")
                req = required_ctx and self.required(el, owner)
                for m in self.component_members(name, req, stack, el, depth):
                    add(m, el)
            else:
                raise self.error(el, f"{owner}: unexpected <{el.tag}>")
        return tuple(out)
