"""The catalogue check (issue 21, item 6): per language, what is missing, fuzzy or changed at
the source since it was translated. ``make translations`` runs it after extracting and
updating the catalogues; ``python -m callgoose.catalogues [CODE ...] [--list]`` runs it alone,
``python -m callgoose.catalogues --compile`` compiles every catalogue first (fuzzy entries, a
changed source's old translation among them, are left out of the ``.mo`` and not checked: the
server shows the English until someone translates them).

It exits non-zero when a language the dashboard offers (engine.languages.OFFERED) is not
complete, so a missing or broken translation never ships silently."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from .engine import languages

DIRECTORY = Path(__file__).resolve().parent / "translations"


@dataclass
class State:
    code: str
    total: int = 0
    missing: list = field(default_factory=list)  # no translation (a new source text)
    fuzzy: list = field(default_factory=list)  # marked fuzzy by a translator or a tool
    changed: list = field(default_factory=list)  # the source changed since it was translated
    # (pybabel update --previous keeps the source a fuzzy translation was made for, "#| msgid";
    # Babel writes it as a comment "# | msgid", read back either way)

    @property
    def complete(self) -> bool:
        return self.total > 0 and not (self.missing or self.fuzzy or self.changed)


def _text(message) -> str:
    return message.id[0] if isinstance(message.id, (list, tuple)) else message.id


def state(code: str, directory: Path = DIRECTORY) -> State:
    """One language's catalogue, read against the template's messages."""
    found = State(code)
    path = directory / languages.BY_CODE[code].catalogue / "LC_MESSAGES" / "messages.po"
    with (directory / "messages.pot").open("rb") as fh:
        template = {(m.id, m.context) for m in read_po(fh) if m.id}
    found.total = len(template)
    if not path.exists():  # no catalogue yet: everything is missing
        found.missing = sorted((_text_of(m) for m, _context in template), key=str)
        return found
    with path.open("rb") as fh:
        catalogue = read_po(fh)
    present = set()
    for message in catalogue:
        if not message.id:
            continue
        present.add((message.id, message.context))
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        if message.fuzzy and (message.previous_id or any(c.startswith("| msgid") for c in message.user_comments)):
            found.changed.append(_text(message))
        elif message.fuzzy:
            found.fuzzy.append(_text(message))
        elif not all(strings):
            found.missing.append(_text(message))
    found.missing.extend(_text_of(m) for m, _context in sorted(template - present, key=str))
    found.total = len(template)
    return found


def _text_of(message_id) -> str:
    return message_id[0] if isinstance(message_id, (list, tuple)) else message_id


def compile_all(directory: Path = DIRECTORY) -> list[str]:
    """Write each catalogue's ``.mo`` without its fuzzy entries; the problems of the others
    (a placeholder a translation lost or renamed), as ``path: message: problem``."""
    problems = []
    for path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        with path.open("rb") as fh:
            catalogue = read_po(fh)
        for message in catalogue:
            if message.id and not message.fuzzy:
                problems.extend(f"{path.relative_to(directory)}: {_text(message)!r}: {error}"
                                for error in message.check(catalogue))
        with path.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalogue, use_fuzzy=False)
    return problems


def main(argv: list[str]) -> int:
    if "--compile" in argv:
        problems = compile_all()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
    listing = "--list" in argv
    codes = [a for a in argv if not a.startswith("--")] or [found.code for found in languages.TABLE
                                                            if found.code != "en"]
    failed = False
    print(f"{'language':<10} {'offered':<8} {'missing':>8} {'fuzzy':>6} {'changed':>8}")
    for code in codes:
        if code not in languages.BY_CODE:
            print(f"{code}: not a language of callgoose/engine/languages.py", file=sys.stderr)
            return 2
        found = state(code)
        offered = code in languages.OFFERED
        print(f"{code:<10} {'yes' if offered else 'no':<8} {len(found.missing):>8} {len(found.fuzzy):>6} "
              f"{len(found.changed):>8}")
        if listing:
            for kind in ("missing", "fuzzy", "changed"):
                for text in getattr(found, kind):
                    print(f"  {kind}: {text!r}")
        failed = failed or (offered and not found.complete)
    if failed:
        print("An offered language is incomplete: translate what is listed (make translations lists it; "
              "--list names each message).", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
