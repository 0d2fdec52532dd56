"""Issue 17, item 1 and 3: the channel registry and the one signed-action primitive.

Every channel is one module behind one interface, and everything that lists channels reads
the registry; every button and link acts through one signed token that names a
notification, works once, expires, and is short enough for Telegram's callback data.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from helpers import ALERTMANAGER, firing, post

from callgoose import channels, clock
from callgoose.channels.base import Channel
from callgoose.engine.rules import SpecError
from callgoose.engine.signing import BadLink, make_action, make_link, read_action
from callgoose.extensions import db
from callgoose.jobs import deliver, escalate
from callgoose.services.catalog import import_config

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = sorted((ROOT / "callgoose" / "translations").glob("*/LC_MESSAGES/messages.po"))


def test_every_module_is_one_channel_with_a_unique_name_and_fields():
    assert set(channels.NAMES) == set(channels.REGISTRY)
    for module in channels.MODULES:
        path = ROOT / "callgoose" / "channels" / f"{module}.py"
        assert path.exists(), module
    for name, channel in channels.REGISTRY.items():
        assert isinstance(channel, Channel) and channel.name == name
        assert channel.fields and channel.fields[0].kept == "address", name
        assert len({f.key for f in channel.fields}) == len(channel.fields), name
        assert len(name) <= 16  # the database's column


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda p: p.parts[-3])
def test_every_channel_label_and_field_is_translated(catalogue):
    with open(catalogue, "rb") as fh:
        translated = {m.id: m.string for m in read_po(fh) if m.id}
    texts = set()
    for channel in channels.REGISTRY.values():
        texts |= {channel.label.msgid, channel.noun.msgid} | {f.label.msgid for f in channel.fields}
        if channel.help is not None:
            texts.add(channel.help.msgid)
    missing = sorted(t for t in texts if not translated.get(t))
    assert missing == []


def test_a_channel_checks_its_fields_by_path():
    webhook = channels.get("webhook")
    kept = webhook.check({"url": " https://hooks.example.com/x "}, "users[0].contact_methods[1]")
    assert (kept.address, kept.format, kept.options) == ("https://hooks.example.com/x", "json", {})
    with pytest.raises(SpecError) as caught:
        webhook.check({"url": "ftp://x"}, "users[0].contact_methods[1]")
    assert caught.value.path == "users[0].contact_methods[1].url"
    with pytest.raises(SpecError) as caught:
        channels.get("sms").check({}, "m")
    assert caught.value.path == "m.address" and "required" in str(caught.value.message)
    assert webhook.document(kept.address, kept.format, kept.options) == {"url": "https://hooks.example.com/x",
                                                                         "format": "json"}


def test_a_signed_action_round_trips_and_fits_telegram():
    now = time.time()
    for action in ("acknowledge", "resolve"):
        for whole in (False, True):
            token = make_action("key", 2**40, action, whole, now)
            assert len(token.encode()) <= 64 and re.fullmatch(r"[A-Za-z0-9._-]+", token)
            fields = read_action("key", token, now + 60)
            assert (fields["notification"], fields["action"], fields["whole"]) == (2**40, action, whole)
    token = make_action("key", 7, "acknowledge", True, now)
    with pytest.raises(BadLink, match="expired"):
        read_action("key", token, now + 24 * 3600 + 5)
    with pytest.raises(BadLink, match="not valid"):
        read_action("another key", token, now)
    head, expiry, mac = token.split(".")
    for forged in (f"R{head[1:]}.{expiry}.{mac}", f"{head[0]}8.{expiry}.{mac}", f"{head}.zzzzzz.{mac}",
                   f"{head}.{expiry}", "", "...", f"{head}.{expiry}.{mac}x"):
        with pytest.raises(BadLink):
            read_action("key", forged, now)
    # a mail link's signature is no action's, and the other way round
    link = make_link("key", 7, "acknowledge", 1, now)
    with pytest.raises(BadLink):
        read_action("key", link, now)


def _page(app, setup_for):
    """Ana's webhook is paged for "Disk full"; return the setup and the service's token."""
    setup = setup_for(app)
    with app.app_context():
        import_config({"users": [{"email": "ana@example.com", "name": "Ana", "contact_methods": [
            {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/x"}],
            "notification_rules": [{"contact_method": "hook"}]}],
            "escalation_policies": [{"name": "p", "levels": [
                {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
            "services": [{**ALERTMANAGER, "escalation_policy": "p"}]}, clock.now())
    token = setup.token()
    assert post(app.test_client(), token, firing("g1", "Disk full")).status_code == 201
    with app.app_context():
        escalate.run(db.engine, app.config, time.time() + 1)
    return setup, token


def test_a_button_post_acts_once_without_a_session_or_csrf_token(make_app, database_url, tmp_path, setup_for):
    """What a push app's button does: POST the signed action's URL, no cookie, no form."""
    app = make_app(database_url, tmp_path, WTF_CSRF_ENABLED=True, BASE_URL="http://callgoose.test")
    setup, _token = _page(app, setup_for)
    (nid,) = setup.query("SELECT id FROM notifications WHERE kind = 'page'")[0]
    token = make_action("test", nid, "acknowledge", True, time.time())
    client = app.test_client()
    assert client.get(f"/l/{token}").status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]  # a GET never acts
    assert client.post(f"/l/{token}").status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    actor = setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'")[0][0]
    assert actor == "ana@example.com (via Webhook)"
    assert client.post(f"/l/{token}").status_code == 410  # once
    forged = make_action("not the key", nid, "resolve", True, time.time())
    assert client.post(f"/l/{forged}").status_code == 410
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]


def test_a_whole_message_action_acts_on_every_incident_it_carried(make_app, database_url, tmp_path, setup_for):
    app = make_app(database_url, tmp_path, BASE_URL="http://callgoose.test")
    setup, token = _page(app, setup_for)
    client = app.test_client()
    assert post(client, token, firing("g2", "Disk full again")).status_code == 201
    with app.app_context():
        escalate.run(db.engine, app.config, time.time() + 1)
        rows = setup.query("SELECT id FROM notifications WHERE kind = 'page' ORDER BY id")
        assert len(rows) == 2
        from callgoose.services import outbox
        from callgoose.store.transactions import run_write
        claimed = run_write(db.engine, lambda cursor: outbox.claim(cursor, time.time() + 2))
    (batch,) = claimed.batches
    assert batch.size == 2
    one = make_action("test", batch.rows[1].id, "resolve", False, time.time())
    whole = make_action("test", batch.lead.id, "acknowledge", True, time.time())
    assert client.post(f"/l/{one}").status_code == 200
    assert sorted(r[0] for r in setup.query("SELECT status FROM incidents")) == ["resolved", "triggered"]
    assert client.post(f"/l/{whole}").status_code == 200
    assert sorted(r[0] for r in setup.query("SELECT status FROM incidents")) == ["acknowledged", "resolved"]


def test_the_document_and_the_form_name_the_registry_s_channels(make_app, sqlite_url, tmp_path, add_user, sign_in):
    app = make_app(sqlite_url, tmp_path)
    client = app.test_client()
    sign_in(client, *add_user(app))
    page = client.get("/notifications/me").get_data(as_text=True)
    for name, channel in channels.REGISTRY.items():
        if channel.form:
            assert f'name="type" value="{name}"' in page
    ledger = client.get("/notifications").get_data(as_text=True)
    assert all(f'<option value="{name}"' in ledger for name in channels.NAMES)
    with app.app_context():
        with pytest.raises(SpecError) as caught:
            import_config({"services": [], "users": [{"email": "a@example.com", "contact_methods": [
                {"name": "x", "type": "carrier-pigeon", "address": "roof"}]}]}, clock.now())
    assert caught.value.path == "users[0].contact_methods[0].type"
    assert all(name in str(caught.value.message) for name, c in channels.REGISTRY.items() if c.exported)


def test_a_signed_link_page_speaks_the_recipient_s_language(make_app, database_url, tmp_path, setup_for):
    """Issue 21, item 4: the page a page's link opens is in the language of the person it was
    sent to (their /settings choice), not the browser's; a link nobody can be found for falls
    back to the browser's."""
    app = make_app(database_url, tmp_path, BASE_URL="http://callgoose.test")
    setup, _token = _page(app, setup_for)
    with app.app_context():
        db.session.execute(db.text("UPDATE users SET language = 'de' WHERE email = 'ana@example.com'"))
        db.session.commit()
    (nid,) = setup.query("SELECT id FROM notifications WHERE kind = 'page'")[0]
    token = make_action("test", nid, "acknowledge", True, time.time())
    client = app.test_client()
    french = {"Accept-Language": "fr-FR,fr;q=0.9"}
    page = client.get(f"/l/{token}", headers=french).get_data(as_text=True)
    assert '<html lang="de" dir="ltr">' in page and ">Bestätigen<" in page
    done = client.post(f"/l/{token}", headers=french).get_data(as_text=True)
    assert '<html lang="de" dir="ltr">' in done
    unknown = client.get("/l/not-a-link", headers=french).get_data(as_text=True)
    assert '<html lang="fr" dir="ltr">' in unknown and "Ce lien ne peut pas agir" in unknown
