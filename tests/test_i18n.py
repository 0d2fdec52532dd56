"""Languages (issue 10, item 10): the dashboard in the user's language (their choice on
/settings, else the browser's Accept-Language), catalogues complete and compiled."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "callgoose" / "translations"
LANGUAGES = ("de", "es", "fr", "pt", "ja")


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
                    "-k", "_l", "-k", "lazy_gettext", "-k", "Say", "--no-location", "-o", str(fresh), "."],
                   cwd=ROOT, check=True, capture_output=True)
    assert ids(po(fresh)) == ids(po(TRANSLATIONS / "messages.pot"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalogue_is_complete_and_compiled(language):
    template = ids(po(TRANSLATIONS / "messages.pot"))
    catalogue = po(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    untranslated = [m.id for m in catalogue
                    if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    assert untranslated == [] and ids(catalogue) == template and not any(m.fuzzy for m in catalogue if m.id)
    compiled = mo(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo")
    def entries(catalog):
        return {tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id:
                tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string for m in catalog if m.id}
    assert entries(compiled) == entries(catalogue)  # the .mo is the .po compiled (make translations)
    for m in catalogue:  # the placeholders survive translation
        if m.id:
            for source, target in zip(m.id if isinstance(m.id, tuple) else (m.id,),
                                      m.string if isinstance(m.string, tuple) else (m.string,)):
                assert sorted(_names(source)) == sorted(_names(target)), (language, m.id)


def _names(text: str) -> list[str]:
    return re.findall(r"%\((\w+)\)[sd]", text)


def test_the_browser_s_language_and_html_lang(make_app, database_url, tmp_path):
    # Its own app: pytest-flask's app fixture keeps one context (and the locale in it) per test.
    client = make_app(database_url, tmp_path).test_client()
    page = client.get("/setup", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="de">' in page and "Den ersten Admin anlegen" in page and "Passwort wiederholen" in page
    japanese = client.get("/setup", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="ja">' in japanese and "最初の管理者を作成" in japanese
    other = client.get("/setup", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert '<html lang="en">' in other and "Create the first admin" in other


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
        assert '<html lang="de">' in page
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
        assert "Nicht gespeichert: language must be one of en, de, es, fr, pt, ja." in refused


def test_a_mail_link_page_in_the_browser_s_language(make_app, database_url, tmp_path):
    """The page a mail's link opens (no sign-in: the browser's language)."""
    client = make_app(database_url, tmp_path).test_client()
    page = client.get("/l/not-a-link", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    text = page.get_data(as_text=True)
    assert page.status_code == 410 and "Ce lien ne peut pas agir" in text and "Ce lien n&#39;est pas valide." in text
    # Markup put into a translated sentence (a link, bold text) is markup, not escaped text.
    assert '<a href="/login">Se connecter</a> pour voir l\'incident et agir.' in text and "&lt;a" not in text

