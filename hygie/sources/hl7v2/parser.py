"""HL7 v2 messages: bytes → segments → fields → repetitions → components → subcomponents.

The parser is small and lazy: a message is split into segments and fields once; components are
split only when asked for, and escape sequences are decoded only in values that contain the escape
character. Encoding characters are the ones the message declares in MSH-1/MSH-2, segments may be
separated by CR, LF or CRLF, and the character set named in MSH-18 decodes the bytes.

>>> message = parse_message(b"MSH|^~\\\\&|APP|FAC|||20240101||ADT^A01|42|P|2.5\\rPID|1||7^^^H^PI")
>>> message.type, message.control_id, message.segments[1].value(3, comp=4)
('ADT^A01', '42', 'H')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")
SEEN_NAMES: set[str] = set()
"""Segment names already checked against SEGMENT_NAME (a bounded set)."""
SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")
MLLP_START = b"\x0b"
MLLP_END = b"\x1c"
UTF8_BOM = b"\xef\xbb\xbf"
HEADER_SEGMENTS = (b"MSH", b"FHS", b"BHS")
BATCH_SEGMENTS = ("FHS", "BHS", "BTS", "FTS")

CHARSETS = {
    "": "utf-8",
    "ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "8859/1": "iso-8859-1",
    "8859/2": "iso-8859-2",
    "8859/5": "iso-8859-5",
    "8859/7": "iso-8859-7",
    "8859/9": "iso-8859-9",
    "8859/15": "iso-8859-15",
    "UNICODE UTF-16": "utf-16",
}
"""MSH-18 character sets (HL7 table 0211) and their Python codecs."""


class MessageError(ValueError):
    """A message that cannot be parsed, with a stable reason code and where it went wrong."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Encoding:
    """The delimiters a message declares in MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


class Segment:
    """One segment: its name and its raw (still escaped) fields.

    Field numbers follow the standard: ``seg.raw(3)`` is PID-3. For MSH, ``raw(1)`` is the field
    separator and ``raw(2)`` the encoding characters, as in the standard's numbering. Fields are
    split into repetitions once, when first asked for, and kept.
    """

    __slots__ = ("_reps", "_special", "encoding", "fields", "index", "name")

    def __init__(
        self,
        name: str,
        fields: list[str],
        encoding: Encoding,
        index: int,
        special: re.Pattern[str] | None = None,
    ) -> None:
        self.name = name
        self.fields = fields
        self.encoding = encoding
        self.index = index
        """Position of the segment in its message, 1-based (MSH is 1)."""
        self._reps: dict[int, list[Composite]] = {}
        self._special = special or special_characters(encoding)

    def raw(self, number: int) -> str:
        """The raw text of field ``number`` ('' when absent)."""
        fields = self.fields
        return fields[number] if number < len(fields) else ""

    def repetitions(self, number: int) -> list[Composite]:
        """The repetitions of field ``number`` (empty list when the field is empty)."""
        found = self._reps.get(number)
        if found is not None:
            return found
        fields = self.fields
        text = fields[number] if number < len(fields) else ""
        if not text:
            found = []
        elif self.name == "MSH" and number in (1, 2):
            found = [Composite(text, self.encoding, literal=True)]
        else:
            encoding = self.encoding
            found = [Composite(part, encoding) for part in text.split(encoding.repetition)]
        self._reps[number] = found
        return found

    def field(self, number: int) -> Composite:
        """The first repetition of field ``number``."""
        reps = self._reps.get(number) or self.repetitions(number)
        return reps[0] if reps else Composite("", self.encoding)

    def value(self, number: int, comp: int = 1, sub: int = 1) -> str:
        """Unescaped text of component ``comp`` (subcomponent ``sub``) of field ``number``."""
        fields = self.fields
        text = fields[number] if number < len(fields) else ""
        if not text:
            return ""
        if self._special.search(text) is None and not (self.name == "MSH" and number < 3):
            # A plain value (most fields): no component, repetition, escape to look at.
            return text if comp == 1 and sub == 1 else ""
        return self.field(number).sub(comp, sub)

    def where(self, number: int, comp: int | None = None) -> str:
        """A position for messages: ``PID-7`` or ``PID-3.4`` (segment n)."""
        path = f"{self.name}-{number}" + (f".{comp}" if comp else "")
        return f"{path} (segment {self.index})"


@cache
def _encoding(delimiters: str) -> tuple[Encoding, re.Pattern[str]]:
    """The Encoding of MSH-1 + MSH-2 (``|^~\\&``), and its special characters (kept: messages
    of one feed all declare the same)."""
    encoding = Encoding(*delimiters[:5])
    return encoding, special_characters(encoding)


@cache
def special_characters(encoding: Encoding) -> re.Pattern[str]:
    """A pattern finding any of the component, repetition, escape, subcomponent characters."""
    chars = encoding.component + encoding.repetition + encoding.escape + encoding.subcomponent
    return re.compile("[" + re.escape(chars) + "]")


class Composite:
    """One repetition of a field, split into components on demand (once)."""

    __slots__ = ("_components", "_values", "encoding", "literal", "text")

    def __init__(self, text: str, encoding: Encoding, *, literal: bool = False) -> None:
        self.text = text
        self.encoding = encoding
        self.literal = literal
        self._components: list[str] | None = None
        self._values: list[str] | None = None

    def components(self) -> list[str]:
        """The raw components of this repetition."""
        if self._components is None:
            self._components = (
                [self.text] if self.literal else self.text.split(self.encoding.component)
            )
        return self._components

    def comp(self, number: int) -> str:
        """Unescaped text of component ``number`` (1-based), with its subcomponents joined."""
        values = self._values if self._values is not None else self.values()
        return values[number - 1] if number <= len(values) else ""

    def values(self) -> list[str]:
        """The unescaped components (subcomponents joined); component n is ``values()[n-1]``."""
        values = self._values
        if values is None:
            parts = self.components()
            encoding = self.encoding
            escape = encoding.escape
            if self.literal or escape not in self.text:
                values = parts
            else:
                values = [unescape(part, encoding) if escape in part else part for part in parts]
            self._values = values
        return values

    def sub(self, number: int, sub: int = 1) -> str:
        """Unescaped text of subcomponent ``sub`` of component ``number``."""
        parts = self.components()
        raw = parts[number - 1] if number <= len(parts) else ""
        if self.literal:
            return raw
        if self.encoding.subcomponent not in raw:
            return self.comp(number) if sub == 1 else ""
        subs = raw.split(self.encoding.subcomponent)
        return unescape(subs[sub - 1], self.encoding) if sub <= len(subs) else ""

    def subs(self, number: int) -> list[str]:
        """All unescaped subcomponents of component ``number``."""
        parts = self.components()
        raw = parts[number - 1] if number <= len(parts) else ""
        return [unescape(s, self.encoding) for s in raw.split(self.encoding.subcomponent)]

    def __bool__(self) -> bool:
        return bool(self.text)


def unescape(text: str, encoding: Encoding) -> str:
    r"""Decode the escape sequences of a value (\F\ \S\ \T\ \R\ \E\ \Xhh\ \.br\).

    Formatting sequences (\H\, \N\, \.sp\, ...) and character-set switches are dropped.

    >>> unescape(r"A \T\ B \F\ C \X41\", Encoding())
    'A & B | C A'
    """
    esc = encoding.escape
    if not esc or esc not in text:
        return text
    out: list[str] = []
    i = 0
    length = len(text)
    while i < length:
        ch = text[i]
        if ch != esc:
            out.append(ch)
            i += 1
            continue
        end = text.find(esc, i + 1)
        if end < 0:
            out.append(text[i:])
            break
        code = text[i + 1 : end]
        out.append(_escape_value(code, encoding))
        i = end + 1
    return "".join(out)


def _escape_value(code: str, encoding: Encoding) -> str:
    simple = {
        "F": encoding.field,
        "S": encoding.component,
        "T": encoding.subcomponent,
        "R": encoding.repetition,
        "E": encoding.escape,
        ".br": "\n",
    }
    if code in simple:
        return simple[code]
    if code[:1] == "X" and len(code) % 2 == 1:
        try:
            return bytes.fromhex(code[1:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            try:
                return bytes.fromhex(code[1:]).decode("latin-1")
            except ValueError:
                return ""
    return ""


class Message:
    """A parsed message: its encoding, segments, and the MSH facts every mapping needs."""

    __slots__ = ("encoding", "segments")

    def __init__(self, encoding: Encoding, segments: list[Segment]) -> None:
        self.encoding = encoding
        self.segments = segments

    @property
    def header(self) -> Segment:
        return self.segments[0]

    @property
    def type(self) -> str:
        """Message code and trigger event, e.g. ``ORU^R01``."""
        msh9 = self.header.field(9)
        return f"{msh9.comp(1)}^{msh9.comp(2)}"

    @property
    def control_id(self) -> str:
        return self.header.value(10)

    @property
    def version(self) -> str:
        return self.header.value(12)

    def first(self, name: str) -> Segment | None:
        """The first segment called ``name``."""
        for segment in self.segments:
            if segment.name == name:
                return segment
        return None

    def all(self, name: str) -> list[Segment]:
        """Every segment called ``name``, in order."""
        return [segment for segment in self.segments if segment.name == name]


def decode_message(content: bytes) -> str:
    """Decode message bytes with the charset named in MSH-18 (UTF-8 when none is named)."""
    content = content.lstrip(MLLP_START).removeprefix(UTF8_BOM)
    start = content.find(b"MSH")
    if start < 0:
        raise MessageError("missing-header", "no MSH segment: this is not an HL7 v2 message")
    end = len(content)
    for separator in (b"\r", b"\n"):
        found = content.find(separator, start)
        if 0 <= found < end:
            end = found
    header = content[start:end].decode("latin-1")
    if len(header) < 8:
        raise MessageError("truncated-message", "the MSH segment is cut before MSH-2")
    field_separator = header[3]
    fields = header.split(field_separator)
    charset = fields[17].split(header[4])[0].strip() if len(fields) > 17 else ""
    codec = CHARSETS.get(charset.upper())
    if codec is None:
        raise MessageError(
            "unsupported-charset",
            f"MSH-18 names the character set {charset!r}, which Hygie does not decode "
            f"(known: {', '.join(sorted(k for k in CHARSETS if k))})",
        )
    try:
        return content.decode(codec)
    except UnicodeDecodeError as exc:
        line = content.count(b"\r", 0, exc.start) + content.count(b"\n", 0, exc.start) + 1
        raise MessageError(
            "invalid-encoding",
            f"byte 0x{content[exc.start]:02x} at offset {exc.start} (segment {line}) is not "
            f"valid {charset or 'UTF-8 (no MSH-18)'}; declare the right MSH-18",
        ) from None


def parse_message(content: bytes | str) -> Message:
    """Parse one message (MLLP framing, BOM and trailing blank lines are tolerated)."""
    text = decode_message(content) if isinstance(content, bytes) else content.lstrip("\ufeff")
    text = text.strip("\x0b\x1c\r\n \ufeff")
    if not text.startswith("MSH"):
        raise MessageError("missing-header", "the message does not start with an MSH segment")
    if len(text) < 8:
        raise MessageError("truncated-message", "the MSH segment is cut before MSH-2")
    field_separator = text[3]
    declared = text[4:8]
    if field_separator.isalnum() or len(set(declared + field_separator)) < 5:
        raise MessageError(
            "invalid-separators",
            f"MSH-1/MSH-2 declare {field_separator + declared!r}: the five delimiters must be "
            "distinct, non-alphanumeric characters (usually |^~\\&)",
        )
    encoding, special = _encoding(field_separator + declared)
    segments: list[Segment] = []
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    field = encoding.field
    for line in lines:
        if not line or line.isspace():
            continue
        name = line[:3]
        if name in SEEN_NAMES and line[3:4] in (field, ""):
            segments.append(Segment(name, line.split(field), encoding, len(segments) + 1, special))
        else:
            segments.append(_segment(line, encoding, len(segments) + 1, special))
    header = segments[0]
    if header.name != "MSH" or len(header.fields) < 12:
        raise MessageError(
            "truncated-message",
            f"the MSH segment has {len(header.fields) - 1} fields; MSH-9 (type), MSH-10 "
            "(control id) and MSH-12 (version) are required",
        )
    # MSH-1 is the field separator itself: insert it so numbering matches the standard.
    header.fields.insert(1, field_separator)
    return Message(encoding, segments)


def _segment(
    line: str, encoding: Encoding, index: int, special: re.Pattern[str] | None = None
) -> Segment:
    name = line[:3]
    if SEGMENT_NAME.fullmatch(name) is None or (len(line) > 3 and line[3] != encoding.field):
        shown = line[:20].encode("unicode_escape").decode()
        raise MessageError(
            "invalid-segment",
            f"segment {index} starts with {shown!r}: a segment is a 3-character name followed "
            f"by the declared field separator {encoding.field!r} (wrong separators, or a line "
            "break inside a field?)",
        )
    if len(SEEN_NAMES) < 1024:
        SEEN_NAMES.add(name)
    return Segment(name, line.split(encoding.field), encoding, index, special)


def split_batch(text: str) -> list[tuple[int, str]]:
    """Messages of a batch (FHS/BHS ... BTS/FTS) or a file of messages: (segment line, text)."""
    messages: list[tuple[int, list[str]]] = []
    for line_no, line in enumerate(SEGMENT_SPLIT.split(text), start=1):
        stripped = line.strip("\x0b\x1c")
        if not stripped.strip():
            continue
        if stripped.startswith(BATCH_SEGMENTS):
            continue
        if stripped.startswith("MSH") or not messages:
            messages.append((line_no, [stripped]))
        else:
            messages[-1][1].append(stripped)
    return [(line_no, "\r".join(lines)) for line_no, lines in messages]
