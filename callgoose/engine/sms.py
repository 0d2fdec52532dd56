"""How long a text is as SMS: GSM-7 when every character is in its alphabet (3GPP TS 23.038),
else UCS-2; how many segments it takes; and what fits in a number of segments.

One segment carries 160 GSM-7 septets or 70 UCS-2 code units; a longer text is split into
parts of 153 or 67 (the rest is the header that joins them). A character of GSM-7's
extension table (``^ { } \\ [ ~ ] | €`` and form feed) takes two septets (an escape and
itself); a character outside the Basic Multilingual Plane (most emoji) two UCS-2 units.
"""

from __future__ import annotations

from typing import Callable

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
SINGLE = {"gsm7": 160, "ucs2": 70}
PART = {"gsm7": 153, "ucs2": 67}
ELLIPSIS = "..."  # "…" is not GSM-7: one would make the whole text UCS-2


def encoding(text: str) -> str:
    """``gsm7`` or ``ucs2``: the encoding a text is sent in."""
    return "gsm7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "ucs2"


def units(text: str) -> int:
    """The text's length in its encoding's units (septets, or UTF-16 code units)."""
    if encoding(text) == "gsm7":
        return len(text) + sum(1 for c in text if c in GSM7_EXTENSION)
    return len(text.encode("utf-16-le")) // 2


def _width(c: str, kind: str) -> int:
    if kind == "gsm7":
        return 2 if c in GSM7_EXTENSION else 1
    return 2 if ord(c) > 0xFFFF else 1


def segments(text: str) -> int:
    """How many SMS the text is sent as. An escaped GSM-7 character or a surrogate pair is
    never split between two parts, so a part may carry one unit less than it could."""
    kind = encoding(text)
    if units(text) <= SINGLE[kind]:
        return 1
    count, used = 1, 0
    for c in text:
        width = _width(c, kind)
        if used + width > PART[kind]:
            count, used = count + 1, 0
        used += width
    return count


def within(count: int = 1) -> Callable[[str], bool]:
    """Whether a text is sent as at most ``count`` SMS (engine.page.fit's budget)."""
    return lambda text: segments(text) <= count


def cut(text: str, count: int = 1) -> str:
    """``text`` within ``count`` SMS, ending in "..." when cut."""
    if segments(text) <= count:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if segments(text[:middle] + ELLIPSIS) <= count:
            low = middle
        else:
            high = middle - 1
    return text[:low] + ELLIPSIS
