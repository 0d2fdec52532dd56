"""An integration guide's prose, paragraph by paragraph, for the catalogues (issue 10, item 10).

A guide (markdown, in callgoose/integrations/<key>.toml) is cut into blocks at blank lines
outside code fences; the prose blocks are what translators see (``pybabel extract`` reads
them with :func:`extract`, see babel.cfg) and what the dashboard swaps for their translation;
code fences (the configuration to paste) stay as written. Pure.
"""

from __future__ import annotations

import tomllib


def blocks(text: str) -> list[tuple[str, bool]]:
    """``text`` as (block, is_prose) in order; joined with blank lines they give ``text`` back
    (up to runs of blank lines)."""
    found, current, fence = [], [], False
    for line in text.split("\n"):
        if line.strip().startswith("```"):
            fence = not fence
            current.append(line)
            continue
        if not fence and not line.strip():
            if current:
                found.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        found.append("\n".join(current))
    return [(block, not block.lstrip().startswith("```")) for block in found]


def translated(text: str, gettext) -> str:
    """The guide with each prose block replaced by ``gettext(block)``."""
    return "\n\n".join(gettext(block) if prose else block for block, prose in blocks(text))


def extract(fileobj, keywords, comment_tags, options):
    """A Babel extraction method for a template file: its guide's prose blocks."""
    doc = tomllib.loads(fileobj.read().decode("utf-8"))
    for block, prose in blocks(doc.get("guide", "")):
        if prose:
            yield 1, None, block, [f"part of the {doc.get('name', 'integration')} guide"]
