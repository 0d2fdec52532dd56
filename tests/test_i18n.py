"""Languages (issue 10, item 10): the dashboard in the user's language (their choice on
/settings, else the browser's Accept-Language), catalogues complete and compiled."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from callgoose.engine.languages import BY_CODE, OFFERED

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "callgoose" / "translations"
LANGUAGES = tuple(code for code in OFFERED if code != "en")


def folder(code: str) -> Path:
    return TRANSLATIONS / BY_CODE[code].catalogue / "LC_MESSAGES"


def ids(catalog) -> set:
    return {m.id for m in catalog if m.id}


def po(path: Path):
    with path.open("rb") as fh:
        return read_po(fh)


def mo(path: Path):
    with path.open("rb") as fh:
        return read_mo(fh)


def test_the_template_lists_every_marked_text(tmp_path):
    """callgoose/translations/messages.pot is what pybabel extracts now (make translations)."""
    fresh = tmp_path / "fresh.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
                    "-k", "_l", "-k", "lazy_gettext", "-k", "Say", "-k", "Plural:1,2", "-k", "lazy_ngettext:1,2", "--no-location", "-o", str(fresh), "."],
                   cwd=ROOT, check=True, capture_output=True)
    assert ids(po(fresh)) == ids(po(TRANSLATIONS / "messages.pot"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalogue_is_complete_and_compiled(language):
    template = ids(po(TRANSLATIONS / "messages.pot"))
    catalogue = po(folder(language) / "messages.po")
    untranslated = [m.id for m in catalogue
                    if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    assert untranslated == [] and ids(catalogue) == template and not any(m.fuzzy for m in catalogue if m.id)
    compiled = mo(folder(language) / "messages.mo")
    def entries(catalog):
        return {tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id:
                tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string for m in catalog if m.id}
    assert entries(compiled) == entries(catalogue)  # the .mo is the .po compiled (make translations)
    for m in catalogue:  # the placeholders survive translation
        if m.id:
            for source, target in zip(m.id if isinstance(m.id, tuple) else (m.id,),
                                      m.string if isinstance(m.string, tuple) else (m.string,)):
                assert sorted(_names(source)) == sorted(_names(target)), (language, m.id)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_guides_translations_keep_their_code_and_markers(language):
    """A translated guide paragraph keeps every code span, code fence line and @CALLGOOSE_…@
    marker of the English (the configuration a person pastes is never translated)."""
    import tomllib

    from callgoose.engine.guides import blocks
    catalogue = {m.id: m.string for m in po(folder(language) / "messages.po") if m.id}
    checked = 0
    for path in sorted((ROOT / "callgoose" / "integrations").glob("*.toml")):
        for block, prose in blocks(tomllib.loads(path.read_text())["guide"]):
            if prose:
                translated = catalogue[block]
                assert sorted(re.findall(r"`[^`]*`", block)) == sorted(re.findall(r"`[^`]*`", translated)), block
                assert re.findall(r"@CALLGOOSE_\w+@", block) == re.findall(r"@CALLGOOSE_\w+@", translated), block
                assert _fenced(block) == _fenced(translated), block
                checked += 1
    assert checked >= 40


def _fenced(text: str) -> list[str]:
    """The lines of a markdown text's code fences (the fence lines too)."""
    found, inside = [], False
    for line in text.split("\n"):
        if line.strip().startswith("```"):
            inside = not inside
            found.append(line)
        elif inside:
            found.append(line)
    return found


def _names(text: str) -> list[str]:
    import re
    return re.findall(r"%\((\w+)\)[sd]", text)


def test_the_browser_s_language_and_html_lang(make_app, database_url, tmp_path):
    # Its own app: pytest-flask's app fixture keeps one context (and the locale in it) per test.
    client = make_app(database_url, tmp_path).test_client()
    page = client.get("/setup", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="de" dir="ltr">' in page and "Den ersten Admin anlegen" in page and "Passwort wiederholen" in page
    japanese = client.get("/setup", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="ja" dir="ltr">' in japanese and "最初の管理者を作成" in japanese
    other = client.get("/setup", headers={"Accept-Language": "sw"}).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in other and "Create the first admin" in other


def test_the_user_s_choice_wins_and_the_german_pages_have_no_english_left(make_app, database_url, tmp_path):
    from conftest import Setup, _add_user, _sign_in
    from helpers import ALERTMANAGER, firing, post
    app = make_app(database_url, tmp_path)
    setup = Setup(app)
    setup.services(ALERTMANAGER)
    token = setup.token()
    with app.test_client() as client:
        _sign_in(client, *_add_user(app))
        post(client, token, firing("g1"))
        english = {"Accept-Language": "en"}
        client.post("/settings/profile", data={"name": "", "time_zone": "Europe/Berlin", "language": "de"},
                    headers=english)
    with app.test_client() as client:  # a new request context sees the saved choice
        _sign_in(client, "admin@example.com", "correct horse")
        page = client.get("/incidents", headers=english).get_data(as_text=True)
        assert '<html lang="de" dir="ltr">' in page
        for german in ("Vorfälle", "Dienste", "Dienstpläne", "Abmelden", "Markierte bestätigen", "ausgelöst",
                       "hoch", "Dringlichkeit", "vor "):
            assert german in page, german
        for english_text in (">Incidents<", ">Services<", ">Sign out<", "Acknowledge ticked", ">triggered<",
                             ">Urgency<", "Resolve ticked", ">Filter<"):
            assert english_text not in page, english_text
        incident = client.get("/incidents/1", headers=english).get_data(as_text=True)
        for german in ("Alle Vorfälle", "Bestätigen", "Zuordnungswert", "Verlauf", "geöffnet", "Kommentar hinzufügen",
                       "durch API-Aufruf"):
            assert german in incident, german
        tokens = client.get("/tokens", headers=english).get_data(as_text=True)
        assert "Endpunkt" in tokens and "Neues Token" in tokens and "Erneuern" in tokens and ">Rotate<" not in tokens
        services = client.get("/services", headers=english).get_data(as_text=True)
        assert "Neuer Dienst" in services and "Eine Konfiguration importieren" in services
        test_page = client.get("/test", headers=english).get_data(as_text=True)
        assert "Probelauf (ändert nichts)" in test_page and "Dry run (changes nothing)" not in test_page
        users = client.get("/users", headers=english).get_data(as_text=True)
        assert "Einen Benutzer hinzufügen" in users and "Bereitschaftsperson: bestätigt, behebt, kommentiert" in users
        welcome = client.get("/welcome", headers=english).get_data(as_text=True)
        assert "Welches Werkzeug schickt Ihre Alarme?" in welcome and "Vorerst überspringen" in welcome
        settings = client.get("/settings", headers=english).get_data(as_text=True)
        assert "Name, Sprache und Zeitzone" in settings and 'value="de" lang="de" selected' in settings
        refused = client.post("/settings/profile", data={"name": "", "time_zone": "UTC", "language": "xx"},
                              follow_redirects=True, headers=english).get_data(as_text=True)
        assert f"Nicht gespeichert: language muss eines von {', '.join(OFFERED)} sein." in refused


def test_a_mail_link_page_in_the_browser_s_language(make_app, database_url, tmp_path):
    """The page a mail's link opens (no sign-in: the browser's language)."""
    client = make_app(database_url, tmp_path).test_client()
    page = client.get("/l/not-a-link", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    text = page.get_data(as_text=True)
    assert page.status_code == 410 and "Ce lien ne peut pas agir" in text and "Ce lien n&#39;est pas valide." in text
    # Markup put into a translated sentence (a link, bold text) is markup, not escaped text.
    assert '<a href="/login">Se connecter</a> pour voir l\'incident et agir.' in text and "&lt;a" not in text


# -- every page in German, with no English left ---------------------------------------------

# Words that are English and no German word: a visible text holding one is left untranslated.
ENGLISH = set("""the and is are of to with this that for from not none every when which who what your
you on at by or has have been will would can add save delete edit yet here there its nobody any all
call calls rule rules incident incidents new show shows send sent open opened page pages nothing
""".split())
# Where English is data, not wording: code, payloads, text people typed, and names.
VERBATIM = {"code", "pre", "script", "style", "textarea", "kbd", "samp"}


class _VisibleText(HTMLParser):
    """The text a reader sees (and the attributes read out or shown: placeholders, titles,
    labels, confirmations), outside code and payloads and outside what is marked as English
    (``lang="en"``: a tool's guide, said so in the reader's language above it)."""

    def __init__(self):
        super().__init__()
        self.open: list[tuple[str, bool]] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        # translate="no" (HTML's own mark: a browser's translator leaves it too) on an example
        # of what a field takes ("mon-fri 09:00-17:00", "DE"): data, like code.
        kept = (found.get("lang") == "en" and tag != "html") or found.get("translate") == "no"
        if tag not in ("br", "input", "img", "meta", "link", "hr", "source", "col", "wbr"):
            self.open.append((tag, kept))
        if kept or any(english for _tag, english in self.open):
            return
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label", "hx-confirm", "alt") and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        while self.open and self.open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if data.strip() and not any(tag in VERBATIM or english for tag, english in self.open):
            self.texts.append(data.strip())


def words(text: str) -> list[str]:
    """A text's words, letters of any script ("até" is one word, no English "at")."""
    return re.findall(r"[^\W\d_]+", text)


def english_left(html: str, allowed: tuple[str, ...] = ()) -> list[str]:
    reader = _VisibleText()
    reader.feed(html)
    left = []
    for text in reader.texts:
        plain = text
        for data in allowed:
            plain = plain.replace(data, " ")
        plain = re.sub(r"cg_[\w-]+…?", " ", plain)  # a token's shown start is random data ("cg_vnl2is…" is no "is")
        plain = re.sub(r"https?://\S+", " ", plain)  # an address is data ("…/webhook-events-and-payloads")
        if any(w.lower() in ENGLISH for w in words(plain)):
            left.append(text)
    return left


def test_english_left_finds_english_and_not_code_or_data():
    assert english_left("<p>Speichern</p><p>Save the rule</p>") == ["Save the rule"]
    assert english_left("<p>Frühere Tage, até logo</p>") == []  # "here", "at" inside words of the language
    assert english_left('<p>Sie <code>the key</code></p><button title="Delete it">x</button>') == ["Delete it"]
    assert english_left("<p>Alarm von checkout-api</p>", allowed=("checkout-api",)) == []
    assert english_left("<p>test (global, cg_vnl2is…)</p>", allowed=("test", "global")) == []
    assert english_left('<p>Auf Englisch:</p><article lang="en"><p>Add a receiver</p></article>') == []
    assert english_left('<input placeholder="mon-fri" translate="no"><input placeholder="show all">') == ["show all"]


def test_the_walk_s_states_read_in_german(make_app, database_url, tmp_path):
    """Issue 10's "done when", the German half: the states the walk seeds (tests/walk.py: rules,
    a heartbeat, a schedule with an override, a policy, incidents being paged, a call that did
    nothing, faults a form shows) read in German. That no English is left on any page, in
    German and every other offered language, is tests/test_walk.py's walk."""
    from walk import seed, visit
    app = make_app(database_url, tmp_path)
    fresh = make_app(f"sqlite:///{tmp_path / 'fresh.sqlite'}", tmp_path / "fresh")
    walk = seed(app)
    pages_seen = {page.name: html for page, _status, html in visit(walk, app, fresh, {"Accept-Language": "de"})}
    assert "Cy (in rota) hat keine bestätigte Kontaktmethode" in pages_seen["/readiness"]
    assert "für nightly-jobs wird niemand alarmiert" in pages_seen["/readiness"]
    assert "kann nie greifen: Auslöseregel 1 davor hat keine Bedingungen" in pages_seen["/services/2"]
    assert "nicht gesendet: Der Vorfall wurde vorher behoben" in pages_seen["/notifications"]
    assert "bei 0 Min.: Ana per E-Mail; nach 5 Min.: wer in rota Bereitschaft hat; wiederholt einmal" \
        in pages_seen["/policies"]
    assert any("auf Stufe 2 eskaliert: " in html for path, html in pages_seen.items() if path.startswith("/incidents/"))
    assert "eine Behebungsregel braucht mindestens eine Bedingung" in pages_seen["refused rule"]
    assert "ist kein IANA-Zeitzonenname" in pages_seen["refused schedule"]
    assert "checkout-api: Wiederholung derselben Payload für „g1“ im Duplikatfenster" in pages_seen["/calls"]


def test_a_german_reader_sees_german_day_and_month_names_and_decimal_commas(make_app, database_url, tmp_path):
    """Issue 21, item 2: dates, times and numbers through Babel in the reader's locale."""
    from datetime import datetime, timezone

    from flask import render_template_string

    from callgoose.web.i18n import here, number
    app = make_app(database_url, tmp_path)
    at = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        assert here(at, "%a %d %b %Y %H:%M %Z") == "Mo., 7. Dez. 2026 08:00 UTC"
        assert number(41.2) == "41,2" and number(1234.5, 2) == "1.234,50"
        said = render_template_string('{{ _("First page delivered %(seconds)s s after the incident opened.", '
                                      'seconds=41.234|number) }}')
        assert "41,2 s" in said and "Alarmierung" in said, said
    with app.test_request_context("/", headers={"Accept-Language": "ja"}):
        assert here(at, "%a %d") == "7日(月)"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert here(at, "%a %d %b %Y %H:%M %Z") == "Mon 07 Dec 2026 08:00 UTC" and number(41.2) == "41.2"


def test_the_catalogue_check_lists_missing_fuzzy_and_changed_messages(tmp_path):
    """Issue 21, item 6: python -m callgoose.catalogues (make translations' last step) names,
    per language, what is missing, fuzzy or changed at the source, and fails while an offered
    language is incomplete."""
    import shutil

    from babel.messages.pofile import write_po

    from callgoose import catalogues
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy)
    path = copy / "de" / "LC_MESSAGES" / "messages.po"
    catalogue = po(path)
    assert catalogues.state("de", copy).complete
    messages = [m for m in catalogue if m.id and not isinstance(m.id, tuple)]
    gone, guessed, changed = messages[10], messages[20], messages[30]
    catalogue.delete(gone.id)
    guessed.flags.add("fuzzy")
    changed.flags.add("fuzzy")
    changed.user_comments.append('| msgid "the source as it was"')
    with path.open("wb") as fh:
        write_po(fh, catalogue)
    found = catalogues.state("de", copy)
    assert (found.missing, found.fuzzy, found.changed) == ([gone.id], [guessed.id], [changed.id])
    assert not found.complete


def test_a_russian_page_counts_with_the_three_russian_forms(make_app, database_url, tmp_path):
    """Issue 21, item 2: counts through ngettext with each language's CLDR plural forms: a
    Russian reader acknowledging 1, 3 and 5 ticked incidents reads инцидент, инцидента,
    инцидентов on the incident list."""
    from conftest import Setup, _add_user, _sign_in
    from helpers import ALERTMANAGER, firing, post
    app = make_app(database_url, tmp_path)
    setup = Setup(app)
    setup.services(ALERTMANAGER)
    token = setup.token()
    russian = {"Accept-Language": "ru-RU,ru;q=0.9"}
    seen = {}
    with app.test_client() as client:
        _sign_in(client, *_add_user(app))
        for n in range(1, 10):
            assert post(client, token, firing(f"g{n}")).status_code == 201
        ticked = iter(range(1, 10))
        for count in (1, 3, 5):
            page = client.post("/incidents/bulk", data={"action": "acknowledge",
                                                        "ids": [str(next(ticked)) for _ in range(count)]},
                               headers=russian, follow_redirects=True).get_data(as_text=True)
            assert '<html lang="ru" dir="ltr">' in page
            seen[count] = re.search(r"(Подтвержд\w+ \d+ инцидент\w*)\.", page)[1]
    assert seen == {1: "Подтверждён 1 инцидент", 3: "Подтверждено 3 инцидента", 5: "Подтверждено 5 инцидентов"}



@pytest.mark.parametrize("language", LANGUAGES)
def test_a_page_s_mail_sms_and_chat_texts_in_each_language(language):
    """Issue 21, item 5: what the worker sends (mail subject and body, SMS, chat text) is
    worded in the recipient's language, every placeholder filled; the SMS is measured in
    segments (GSM-7 160 / UCS-2 70, as the language's letters need) and takes as few as keep
    its headline whole with the way to reply (engine.page.sms_page): one wherever they fit."""
    from callgoose.engine.messages import Item, chat_text, compose
    from callgoose.engine.sms import segments
    from callgoose.services.languages import words_for
    items = [Item("page", 7, "Disk full on db1", "checkout-api", "high", "triggered", url="https://cg.example/i/7",
                  ack_url="https://cg.example/l/a", resolve_url="https://cg.example/l/r", priority="P1",
                  labels=(("instance", "db1:9100"),), opened=1_765_000_000, zone="Europe/Berlin", repeats=3)]
    english = compose(items)
    words = words_for(language)
    message = compose(items, words=words)
    for text in (message.subject, message.text, message.short, chat_text(message, items, words)):
        assert "%(" not in text and "Disk full on db1" in text or text == message.short
    assert message.text != english.text and message.subject != english.subject
    from callgoose.engine.sms import encoding
    from callgoose.engine.words import Say
    head, *_facts, reply = message.short.split("\n")
    line = head.removeprefix("Callgoose: ")
    replies = [words(Say("Reply 1 to acknowledge, 2 to resolve, 3 to escalate.")),
               words(Say("Reply 1 ack, 2 resolve, 3 escalate."))]
    assert "checkout-api" in line and line.endswith("Disk full on db1") and reply in replies, (language, message.short)
    fewest = min(segments(f"{h}\n{r}") for h in (f"Callgoose: {line}", line) for r in replies)
    assert segments(message.short) == fewest, (language, message.short)
    assert encoding(message.short) == "ucs2" or fewest == 1, (language, message.short)
    bundle = compose(items * 12, total=12, words=words)  # a bundle: "... and 2 more." in words
    assert "%(" not in bundle.text and bundle.text != compose(items * 12, total=12).text


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_keeps_a_glossary_of_its_terms(language):
    """Issue 21, item 1: terms are kept consistent within a language by a short glossary in the
    repository, beside its catalogue, naming at least these."""
    text = (TRANSLATIONS / BY_CODE[language].catalogue / "GLOSSARY.md").read_text().lower()
    for term in ("incident", "acknowledge", "resolve", "escalation", "schedule", "on call", "override", "token",
                 "payload"):
        assert term in text, (language, term)


def test_the_language_picker_names_each_language_in_itself(make_app, database_url, tmp_path):
    """Issue 21, item 1: the picker lists every offered language by its own name, each option
    marked with its language (a screen reader reads "Deutsch" in German)."""
    from babel import Locale
    from conftest import _add_user, _sign_in

    from callgoose.engine.languages import TABLE
    app = make_app(database_url, tmp_path)
    with app.test_client() as client:
        _sign_in(client, *_add_user(app))
        page = client.get("/settings", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert len(TABLE) >= 33
    for found in TABLE:
        assert f'<option value="{found.code}" lang="{found.code}" >{found.name}</option>' in page \
            or f'<option value="{found.code}" lang="{found.code}" selected>{found.name}</option>' in page, found.code
        own = Locale.parse(found.catalogue).get_display_name(found.catalogue).casefold()
        assert own.split(" (")[0] in found.name.casefold() or found.name.casefold() in own or \
            found.code in ("zh-Hans", "zh-Hant", "id"), (found.code, own)  # 简体中文, Bahasa Indonesia: the usual names
