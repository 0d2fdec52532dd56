"""Reading a request body into a payload, and reading values out of it (SPEC S7-S14).

Pure: no Flask, SQLAlchemy or Werkzeug. Numbers keep the exact text they were
written with (S13), so the parser turns them into :class:`Number` strings.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property

MAX_JSON_DEPTH = 64

_TEXT_TYPES = frozenset({
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/javascript",
})
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INDEX = re.compile(r"\[(\d+)\]")
_NOT_REPLACEABLE = frozenset({"idna", "punycode"})


class Number(str):
    """A JSON number, kept as the text the sender wrote (``1.50`` stays ``1.50``)."""

    __slots__ = ()


def clean(text: str) -> str:
    """Replace NUL and lone surrogates with U+FFFD so every database can store the text (S9)."""
    if text.isascii() and "\x00" not in text:  # most texts: two scans in C, no regular expression
        return text
    return _UNSTORABLE.sub("\ufffd", text)


def split_content_type(content_type: str | None) -> tuple[str, str | None]:
    """Return the lower-cased media type and the declared charset, if any."""
    if not content_type:
        return "", None
    mime, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').strip("'") or None
    return mime.strip().lower(), charset


def is_text_type(mime: str) -> bool:
    """Tell whether a media type is read as text (S7); an empty type is a missing one."""
    if not mime or mime.startswith("text/") or mime in _TEXT_TYPES:
        return True
    return mime.startswith("application/") and mime.endswith(("+json", "+xml"))


def text_encoding(charset: str | None) -> str:
    """The codec a declared charset names, if it is a real text encoding; else UTF-8 (S7).

    ``base64``, ``rot13``, ``zlib`` and the like are codecs but not text encodings, and
    ``idna``/``punycode`` cannot replace what they fail to decode: all are read as UTF-8.
    """
    if not charset or len(charset) > 64:
        return "utf-8"
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError, TypeError):
        return "utf-8"
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_REPLACEABLE:
        return "utf-8"
    return info.name


def decode_body(raw: bytes, content_type: str | None) -> str:
    """Decode a body as S7 says; non-text types give the empty payload."""
    mime, charset = split_content_type(content_type)
    if not is_text_type(mime):
        return ""
    encoding = text_encoding(charset)
    try:
        text = raw.decode(encoding, errors="replace")
    except (UnicodeError, LookupError, ValueError, TypeError):  # a codec that cannot replace
        text = raw.decode("utf-8", errors="replace")
    return clean(text)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def depth_exceeds(value, limit: int) -> bool:
    """Tell whether a parsed JSON value nests deeper than ``limit`` (iteratively)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def parse_json(text: str):
    """Parse text as a JSON object or array (S8), or return None when it is not one."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        value = json.loads(stripped, parse_int=Number, parse_float=Number,
                           parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    # Cheap bound first: fewer opening brackets than the limit cannot nest deeper.
    if stripped.count("[") + stripped.count("{") > MAX_JSON_DEPTH and depth_exceeds(value, MAX_JSON_DEPTH):
        return None
    return value


def compact_json(value) -> str:
    """Serialise like ``json.dumps(separators=(",", ":"))`` but keep numbers as written."""
    if isinstance(value, Number):
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ",".join(f"{compact_json(k)}:{compact_json(v)}" for k, v in value.items()) + "}"
    return "[" + ",".join(compact_json(v) for v in value) + "]"


def pretty_json(value, indent: int = 2) -> str:
    """Indented JSON for people, numbers kept as written, always storable and printable."""
    def lines(node, depth: int) -> str:
        pad, inner = " " * (indent * depth), " " * (indent * (depth + 1))
        if isinstance(node, dict) and node:
            items = [f"{inner}{compact_json(k)}: {lines(v, depth + 1)}" for k, v in node.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(node, list) and node:
            return "[\n" + ",\n".join(inner + lines(v, depth + 1) for v in node) + "\n" + pad + "]"
        return compact_json(node)

    return clean(lines(value, 0))


def as_text(value) -> str:
    """Turn a JSON value into text (S13); the result is always storable (S9)."""
    if isinstance(value, str):
        text = str.__str__(value)
    elif value is True:
        text = "true"
    elif value is False:
        text = "false"
    else:
        text = compact_json(value)
    return clean(text)


def split_key(key: str) -> list[str]:
    """Split ``alerts[0].status`` or ``alerts.0.status`` into segments (S10)."""
    return _INDEX.sub(r".\1", key).split(".")


def _walk(node, segments: list[str]):
    for i, segment in enumerate(segments):
        if isinstance(node, str) and not isinstance(node, Number):
            node = parse_json(node)  # S11: a string holding JSON is walked into
        if isinstance(node, dict):
            rest = segments[i:]
            if len(rest) > 1:
                # A dotted literal key deeper down wins like it does at the top (README).
                literal = ".".join(rest)
                if literal in node:
                    return node[literal]
            if segment not in node:
                return None
            node = node[segment]
        elif isinstance(node, list):
            if not segment.isdigit() or not segment.isascii():
                return None
            index = int(segment)
            if index >= len(node):
                return None
            node = node[index]
        else:
            return None
    return node


@dataclass
class Payload:
    """A request body as the rules see it: the stored text and, if it is JSON, its value."""

    text: str
    data: object = None  # dict or list when the text is JSON (S8), else None
    _memo: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_text(cls, text: str) -> "Payload":
        text = clean(text)
        return cls(text=text, data=parse_json(text))

    @classmethod
    def from_body(cls, raw: bytes, content_type: str | None) -> "Payload":
        return cls.from_text(decode_body(raw, content_type))

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the payload text: what S27 compares."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def value(self, key: str) -> str | None:
        """Return the text of a json key (S10-S14), or None when the key is absent."""
        try:
            return self._memo[key]
        except KeyError:
            pass
        if key == "":
            found = self.text
        else:
            raw = self.raw(key)
            found = None if raw is None else as_text(raw)
        self._memo[key] = found
        return found

    def raw(self, key: str):
        """The JSON value a non-empty key reaches (S10-S12), or None when it is absent."""
        if self.data is None:
            return None
        if isinstance(self.data, dict) and key in self.data:
            return self.data[key]
        return _walk(self.data, split_key(key))

    def present(self, key: str, matcher) -> frozenset[str]:
        """The items of ``matcher`` that occur in the folded value of ``key`` (once per call and key)."""
        memo_key = ("present", key, id(matcher))
        found = self._memo.get(memo_key)
        if found is None:
            value = self.folded(key)
            found = self._memo[memo_key] = matcher.present(value) if value is not None else frozenset()
        return found

    def folded(self, key: str) -> str | None:
        """Return the value of a key case-folded for matching (S16), or None when absent."""
        memo_key = ("folded", key)
        try:
            return self._memo[memo_key]
        except KeyError:
            value = self.value(key)
            found = None if value is None else value.casefold()
            self._memo[memo_key] = found
            return found


MAX_PARTS = 10_000  # S38: elements of a split payload one call may carry (SPLIT_MAX_ELEMENTS's default)


@dataclass
class Part(Payload):
    """One element of a split payload (S38): its own keys as usual, the whole payload's keys
    with a leading ``$.`` (``$`` alone is the whole payload text)."""

    whole: Payload | None = None
    index: int = 0

    def value(self, key: str) -> str | None:
        if self.whole is not None and (key == "$" or key.startswith("$.")):
            return self.whole.value(key[2:])
        return super().value(key)


def split(payload: Payload, key: str, limit: int = MAX_PARTS) -> tuple[list[Part], int] | None:
    """The elements of the array at ``key`` as payloads of their own, and how many there were;
    None when the key is absent or not an array (the payload is then evaluated whole)."""
    found = payload.raw(key)
    if isinstance(found, str) and not isinstance(found, Number):
        found = parse_json(found)  # S11: an array held in a string
    if not isinstance(found, list):
        return None
    parts = []
    for index, element in enumerate(found[:limit]):
        if isinstance(element, (dict, list)):
            text, data = clean(compact_json(element)), element
        elif element is None:
            text, data = "null", None
        else:
            text = as_text(element)
            data = parse_json(text) if isinstance(element, str) and not isinstance(element, Number) else None
        parts.append(Part(text=text, data=data, whole=payload, index=index))
    return parts, len(found)
