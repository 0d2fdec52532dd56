"""The walk in every language (issue 21, item 4): every page of the dashboard (tests/walk.py
finds them in the URL map) in each offered language with no English left; in a pseudo-locale
(every catalogue text accented and 40 % longer) with no visible text that is not from a
catalogue; and in Chromium at 390 px with those longer texts, without the page scrolling
sideways."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from test_i18n import ENGLISH, _VisibleText, english_left, words
from walk import seed, visit

from callgoose.engine import languages

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "callgoose" / "translations"
LANGUAGES = tuple(code for code in languages.OFFERED if code != "en")


def _unknown_pages(walk) -> None:
    assert walk.unknown == [], ("pages the walk does not know (fill their URL in tests/walk.py, or skip them "
                                f"there saying why): {walk.unknown}")


# -- every offered language, no English left ---------------------------------------------------

def _prose(text: str) -> str:
    """A catalogue text without what is not wording: code, placeholders, tags, addresses."""
    for pattern in (r"```.*?```", r"`[^`]*`", r"%\(\w+\)[sd]", r"<[^>]*>", r"&\w+;", r"https?://\S+",
                    r"@CALLGOOSE_\w+@", r"\]\([^)]*\)"):
        text = re.sub(pattern, " ", text, flags=re.S)
    return text


_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|«[^»]*»|„[^“]*“|\*\*[^*]*\*\*|「[^」]*」|‘[^’]*’")


def words_of(code: str) -> set[str]:
    """The words of ENGLISH that ``code``'s own catalogue writes as its words: in a page of that
    language they are its words, not English left (French "on", "page"; Portuguese "for"). A
    word counts when a translation brings it (its English has no such word), or when the
    translations use it outside quotes nine times or more (Indonesian "Edit"); a word a translation copies from its
    English (a key, a tool's label) is no proof."""
    with (TRANSLATIONS / languages.BY_CODE[code].catalogue / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh)
    brought, used = set(), Counter()
    for message in catalogue:
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        targets = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        english = {w.lower() for source in sources for w in words(_prose(source))}
        for number, target in enumerate(targets):
            said = {w.lower() for w in words(_prose(target or ""))} & ENGLISH
            brought |= said - english
            if number == 0:
                used.update({w.lower() for w in words(_QUOTED.sub(" ", _prose(target or "")))} & ENGLISH)
    return brought | {word for word, count in used.items() if count >= 9} | _calendar_words(code)


def _calendar_words(code: str) -> set[str]:
    """The words of ENGLISH that are the language's day or month names as CLDR writes them
    (Babel words dates: Finnish "to" is Thursday's abbreviation)."""
    from babel import Locale
    locale = Locale.parse(languages.BY_CODE[code].catalogue)
    names = set()
    for table in (locale.days, locale.months):
        for context in table.values():
            for width in context.values():
                names.update(str(name) for name in width.values())
    return {w.lower() for name in names for w in words(name)} & ENGLISH


def _spaced(text: str) -> str:
    return " ".join(text.split())


def kept_by(code: str) -> list[str]:
    """``code``'s translations (those that differ from their English), spaces made single: a
    text a page shows that one of them holds is the translator's wording, English words and all
    (a tool's own English labels a guide quotes, "Settings → Webhooks → Add webhook")."""
    with (TRANSLATIONS / languages.BY_CODE[code].catalogue / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh)
    kept = []
    for message in catalogue:
        sources = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        targets = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        kept += [_spaced(target) for target in targets if message.id and target and target not in sources]
    return kept


def _kept(text: str, kept: list[str]) -> bool:
    """Whether a translation holds ``text``: a single word only as a quoted or bold label of its
    own ("**Save**"), so that a lone English word a template forgot is not excused by a guide."""
    if len(text.split()) > 1:
        return any(text in translation for translation in kept)
    return any(_spaced(label.group()[1:-1].strip("*")) == text for translation in kept
               for label in _QUOTED.finditer(translation))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_in_every_language(make_app, sqlite_url, tmp_path, language):
    """Every page, in the states a team sees, answers, says its language in <html> and holds no
    English outside code, payloads and names. The words of ENGLISH that are the language's own
    words, as its catalogue writes them (French "on"), are allowed in it alone; so are texts its
    translations hold as they are (a tool's English labels a guide quotes)."""
    app = make_app(sqlite_url, tmp_path)
    fresh = make_app(f"sqlite:///{tmp_path / 'fresh.sqlite'}", tmp_path / "fresh")
    walk = seed(app)
    _unknown_pages(walk)
    own, kept = words_of(language), kept_by(language)
    direction = "rtl" if languages.is_rtl(language) else "ltr"
    left, wrong = {}, {}
    for page, status, html in visit(walk, app, fresh, {"Accept-Language": language}):
        if status != page.status:
            wrong[page.name] = status
        elif not page.fragment and f'<html lang="{language}" dir="{direction}">' not in html:
            wrong[page.name] = "no <html lang dir>"
        found = [text for text in english_left(html, allowed=walk.data)
                 if {w.lower() for w in words(_without(text, walk.data))} & ENGLISH - own
                 and not _kept(_spaced(text), kept)]
        if found:
            left[page.name] = found
    assert wrong == {}, wrong
    assert left == {}, json.dumps(left, ensure_ascii=False, indent=1)


def _without(text: str, data) -> str:
    for item in data:
        text = text.replace(item, " ")
    return re.sub(r"cg_[\w-]+…?|https?://\S+|\b[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\b", " ", text)


def test_a_translation_excuses_a_label_it_quotes_and_no_lone_word_inside_its_prose():
    kept = ["Klicken Sie auf **Add webhook** und wählen Sie „Delete“, then Save"]
    assert _kept("Add webhook", kept) and _kept("Delete", kept) and not _kept("Save", kept)


def test_a_language_s_own_words_are_its_words_only():
    assert {"on", "page"} <= words_of("fr") and "on" not in words_of("de")  # "on peut", never German
    assert "at" not in words_of("pt-BR") and "all" not in words_of("es")  # "até", "allí" are words of their own


# -- the pseudo-locale ------------------------------------------------------------------------

_ACCENTED = dict(zip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                     "áƀçðéƒĝĥíĵķĺɱñóþǫŕšţúṽŵẋýžÁƁÇÐÉƑĜĤÍĴĶĹṀÑÓÞǪŔŠŢÚṼŴẊÝŽ"))
# What a translation keeps exactly: code fences and spans, placeholders, HTML tags and
# entities, the guides' @CALLGOOSE_…@ markers, addresses and markdown link targets.
_KEPT = re.compile(r"```.*?```|`[^`]*`|%\(\w+\)[sd]|%[sd%]|<[^>]*>|&#?\w+;|@CALLGOOSE_\w+@|https?://[^\s)]+"
                   r"|\]\([^)]*\)", re.S)


def pseudo(text: str) -> str:
    """``text`` accented and 40 % longer: "Save" -> "[Šáṽé ··]"; what it keeps, kept."""
    parts, at = [], 0
    for kept in _KEPT.finditer(text):
        parts.append(text[at:kept.start()].translate(str.maketrans(_ACCENTED)))
        parts.append(kept.group())
        at = kept.end()
    parts.append(text[at:].translate(str.maketrans(_ACCENTED)))
    worded = "".join(parts)
    pad = " ".join("·····" for _ in range(max(1, round(len(text) * 0.4 / 6))))
    if "\n" in text:  # markdown (a guide's block): pad the first line, keep the structure
        first, _, rest = worded.partition("\n")
        return f"{first} {pad}\n{rest}"
    return f"[{worded} {pad}]"


def test_pseudo_keeps_what_a_translation_keeps():
    assert pseudo("Save") == "[Šáṽé ·····]"
    source = "Hello %(name)s, see <a href=\"/x\">the &amp; `code` @CALLGOOSE_URL@</a>"
    said = pseudo(source)
    assert said.startswith("[Ĥéĺĺó %(name)s, šéé <a href=\"/x\">ţĥé &amp; `code` @CALLGOOSE_URL@</a> ·····")
    assert len(said) >= 1.4 * len(source) and said.endswith("·]")
    guide = pseudo("Read [the docs](https://example.com/x)\n```\nrun it\n```")
    assert guide.startswith("Ŕéáð [ţĥé ðóçš](https://example.com/x) ·····") and guide.endswith("\n```\nrun it\n```")


def test_the_pseudo_catalogue_keeps_every_placeholder_code_span_marker_and_fence():
    """What test_i18n asks of a real catalogue, asked of the pseudo one: every message's
    placeholders, code spans, @CALLGOOSE_…@ markers and code fence lines survive."""
    from test_i18n import _fenced, _names
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    checked = 0
    for message in template:
        for source in (message.id if isinstance(message.id, (list, tuple)) else (message.id,)):
            if source:
                said = pseudo(source)
                assert sorted(_names(said)) == sorted(_names(source)), source
                assert re.findall(r"`[^`]*`", said) == re.findall(r"`[^`]*`", source), source
                assert re.findall(r"@CALLGOOSE_\w+@", said) == re.findall(r"@CALLGOOSE_\w+@", source), source
                assert _fenced(said) == _fenced(source), source
                checked += 1
    assert checked > 1000


CARRIER = "ru"  # a locale whose CLDR dates and numbers hold no ASCII letters ("7 дек.")


def pseudo_catalogue(directory: Path) -> Path:
    """The pseudo catalogue of callgoose/translations/messages.pot, compiled under ``directory``
    as the carrier locale's."""
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    catalogue = Catalog(locale=CARRIER)
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, (list, tuple)):
            singular, plural = message.id
            string = tuple([pseudo(singular)] + [pseudo(plural)] * (catalogue.num_plurals - 1))
        else:
            string = pseudo(message.id)
        catalogue.add(message.id, string, context=message.context)
    folder = directory / CARRIER / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as fh:
        write_mo(fh, catalogue)
    return directory


@pytest.fixture
def pseudo_walk(make_app, sqlite_url, tmp_path, monkeypatch):
    """An app that speaks the pseudo-locale (as ``ru``), seeded, and its walk."""
    if CARRIER not in languages.OFFERED:
        offered = (*languages.OFFERED, CARRIER)
        monkeypatch.setattr(languages, "OFFERED", offered)
        monkeypatch.setattr(languages, "LANGUAGES", {code: languages.BY_CODE[code] for code in offered})
    directory = pseudo_catalogue(tmp_path / "pseudo")
    app = make_app(sqlite_url, tmp_path, BABEL_TRANSLATION_DIRECTORIES=str(directory))
    fresh = make_app(f"sqlite:///{tmp_path / 'fresh.sqlite'}", tmp_path / "fresh",
                     BABEL_TRANSLATION_DIRECTORIES=str(directory))
    _forget_translations(app)  # Flask-Babel keeps loaded catalogues by locale, across apps
    walk = seed(app)
    _unknown_pages(walk)
    yield app, fresh, walk
    _forget_translations(app)  # the real Russian again for the tests after this one


def _forget_translations(app) -> None:
    from callgoose.extensions import babel
    with app.app_context():
        babel.domain_instance.cache.clear()


# Product names a template lists as they are (the tools Callgoose takes alerts from or imports
# from): names, the same in every language. A product name inside a catalogue text is accented
# with the rest, so it needs no place here.
PRODUCTS = ("Grafana OnCall", "PagerDuty", "Opsgenie", "Alertmanager", "Grafana", "Zabbix", "Uptime Kuma", "Datadog",
            "Sentry", "AWS", "Nagios", "Icinga 2", "New Relic", "Azure", "GitHub Actions", "Healthchecks", "curl")


def _data(walk) -> tuple[str, ...]:
    """What a page shows as data in the pseudo walk: what the seed created (names, emails,
    titles, a rota's layers), the integrations' tool names, each language's name in itself
    (the picker), and the brand."""
    import tomllib
    tools = [tomllib.loads(path.read_text()).get("name", "")
             for path in (ROOT / "callgoose" / "integrations").glob("*.toml")]
    names = [language.name for language in languages.TABLE]
    return tuple(sorted({*walk.seeded, *filter(None, tools), *PRODUCTS, *names, "Callgoose"}, key=len, reverse=True))


# Data that is no wording whatever its value: addresses, emails, tokens, ids, media types,
# JSON paths (commonLabels.severity), the configuration's field names (time_zone) and time
# zones (Europe/Berlin).
_NOT_WORDING = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+(\.[\w-]+)+|cg_[\w-]+…?|\b[0-9a-f]{8}-[0-9a-f-]{27}\b"
                          r"|\b(?:application|text)/[\w.+-]+|\b\w+(?:\.\w+)+\b|\b[a-z]+(?:_[a-z]+)+\b"
                          r"|\b(?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)"
                          r"/[A-Za-z_/+-]+|\bUTC\b|(?<!\w)/[\w/.{}<>:-]+")


def not_from_a_catalogue(html: str, data: tuple[str, ...]) -> list[str]:
    """The visible texts (as _VisibleText sees them) holding a run of two or more plain ASCII
    letters that is no data: in the pseudo-locale, wording no catalogue gave."""
    reader = _VisibleText()
    reader.feed(html)
    found = []
    for text in reader.texts:
        plain = _NOT_WORDING.sub(" ", text)
        for item in data:
            plain = re.sub(rf"(?<![\w-]){re.escape(item)}(?![\w-])", " ", plain)
        if re.search(r"[A-Za-z]{2,}", plain):
            found.append(text)
    return found


def test_not_from_a_catalogue_finds_plain_letters_only():
    assert not_from_a_catalogue("<p>[Šáṽé ··]</p><p>Save</p><code>run it</code>", ()) == ["Save"]
    assert not_from_a_catalogue("<p>[Áĺéŕţ ƒŕóɱ checkout-api: ana@example.com]</p>", ("checkout-api",)) == []
    assert not_from_a_catalogue('<button title="Delete">x</button>', ()) == ["Delete"]
    assert not_from_a_catalogue("<p>[ţíɱé time_zone: commonLabels.severity, application/json]</p>", ()) == []
    assert not_from_a_catalogue("<p>Checkout-api is down</p>", ("checkout-api",)) == ["Checkout-api is down"]
    assert not_from_a_catalogue("<p>[Ţíɱé žóñé: Europe/Berlin, America/Sao_Paulo]</p><p>Yes/No</p>", ()) == ["Yes/No"]


def test_the_pseudo_locale_walk(pseudo_walk):
    """Every page in the pseudo-locale: each answers, says ``lang="ru"``, and every visible text
    is from a catalogue (accented) or is data."""
    app, fresh, walk = pseudo_walk
    data = _data(walk)
    offenders, wrong = {}, {}
    for page, status, html in visit(walk, app, fresh, {"Accept-Language": CARRIER}):
        if status != page.status:
            wrong[page.name] = status
        elif not page.fragment and f'<html lang="{CARRIER}" dir="ltr">' not in html:
            wrong[page.name] = "no <html lang dir>"
        found = not_from_a_catalogue(html, data)
        if found:
            offenders[page.name] = found
    assert wrong == {}, wrong
    assert offenders == {}, json.dumps(offenders, ensure_ascii=False, indent=1)


# -- the pseudo-locale at 390 px in Chromium ---------------------------------------------------

WIDEST = """() => {
  const root = document.documentElement;
  if (root.scrollWidth <= root.clientWidth + 1) return null;
  let widest = null, right = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right < right || box.width === 0) continue;
    let clipped = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') { clipped = true; break; }
    }
    if (!clipped) { right = box.right; widest = el; }
  }
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
          tag: widest && widest.tagName.toLowerCase(), class: widest && String(widest.className),
          text: widest && (widest.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60)};
}"""


def test_the_pseudo_pages_do_not_scroll_sideways_at_390_px(pseudo_walk, browser):
    """Each pseudo page at 390 px: the page never scrolls sideways (a wide table scrolls inside
    its own wrapper, which is no page scrolling). The pages the test client fetched are shown
    in Chromium (``set_content``: the POSTed states too), their styles and scripts from the app
    served on loopback to a signed-in browser."""
    from werkzeug.serving import make_server
    app, fresh, walk = pseudo_walk
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    wide = {}
    try:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.goto(base + "/login")  # signed in: a page's scripts (htmx) ask the app as its reader
        page.fill("input[name=email]", "admin@example.com")
        page.fill("input[name=password]", "correct horse")
        page.click("form button[type=submit], form input[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        for shown, status, html in visit(walk, app, fresh, {"Accept-Language": CARRIER}):
            if shown.fragment:
                continue
            page.set_content(html, wait_until="load")
            found = page.evaluate(WIDEST)
            if found:
                wide[shown.name] = found
        context.close()
    finally:
        server.shutdown()
        thread.join()
    assert wide == {}, json.dumps(wide, ensure_ascii=False, indent=1)
