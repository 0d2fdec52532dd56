"""iCalendar (RFC 5545) for on-call shifts: one VEVENT per shift, times in UTC, so every
calendar shows them in its own zone; text escaped and lines folded as the RFC says."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def escape(text: str) -> str:
    """TEXT values: backslash, semicolon, comma and newlines escaped; other control characters dropped."""
    text = "".join(ch for ch in text if ch in "\n" or ord(ch) >= 32)
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after CRLF and a space."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts, current = [], b""
    for ch in line:
        encoded = ch.encode("utf-8")
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode("utf-8"))
            current = b""
        current += encoded
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def calendar(name: str, events: list[tuple[float, float, str, str]], now: float) -> str:
    """A VCALENDAR of ``(start, end, summary, description)`` events."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Callgoose//On call//EN", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{escape(name)}"]
    for start, end, summary, description in events:
        uid = hashlib.sha256(f"{name}|{start}|{end}|{summary}".encode()).hexdigest()[:32]
        lines += ["BEGIN:VEVENT", f"UID:{uid}@callgoose", f"DTSTAMP:{_stamp(now)}", f"DTSTART:{_stamp(start)}",
                  f"DTEND:{_stamp(end)}", f"SUMMARY:{escape(summary)}", f"DESCRIPTION:{escape(description)}",
                  "TRANSP:OPAQUE", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(fold(line) for line in lines) + "\r\n"
