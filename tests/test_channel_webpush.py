"""Issue 17: Web Push from the dashboard itself, against a push service on loopback.

FakePushService (tests/providers/webpush.py) checks each push as autopush and FCM do (VAPID,
aes128gcm, TTL, Urgency, 4 KiB) and plays the browser: it subscribes with the key the page
gives, as ``pushManager.subscribe()`` does, and decrypts what arrives, so a test reads the page
the service worker would show. Pressing a button is what static/sw.js does: a POST of the
signed action's URL, with no cookie.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import time

import pytest
from helpers import ALERTMANAGER, firing, post, run_jobs
from providers.webpush import MAX_BODY, FakePushService

from callgoose import channels
from callgoose.channels import webpush
from callgoose.channels.base import Outgoing
from callgoose.delivery import Permanent, Settings
from callgoose.engine.messages import Item, compose
from callgoose.engine.rules import SpecError
from callgoose.extensions import db
from callgoose.services.catalog import import_config
from callgoose.services.oncall import export_oncall

BASE = "http://callgoose.test"
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"
CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
POLICY = {"escalation_policies": [{"name": "checkout", "levels": [
    {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
    "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]}


@pytest.fixture
def push():
    with FakePushService() as fake:
        yield fake


@pytest.fixture
def push_app(make_app, database_url, tmp_path):
    return make_app(database_url, tmp_path, BASE_URL=BASE, MAIL_FROM="pager@callgoose.test",
                    WEBHOOK_ALLOWED_HOSTS="127.0.0.1", DELIVERY_TIMEOUT_SECONDS=5, INSTANCE_PATH=str(tmp_path))


@pytest.fixture
def ana(push_app, add_user, sign_in):
    """Ana, signed in on her phone's Firefox (with her sign-in email and its rule, as every new user)."""
    return browser_of(push_app, sign_in, add_user(push_app, "ana@example.com", admin=False), FIREFOX_ANDROID)


def browser_of(app, sign_in, user: tuple[str, str], agent: str):
    """A client that sends ``agent`` as its User-Agent (sessions are bound to it), signed in."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    sign_in(client, *user)
    return client


def subscribe(client, push):
    """What "Get pages on this device" does: subscribe with the page's key, POST the JSON."""
    page = client.get("/notifications/me").get_data(as_text=True)
    key = re.search(r'id="webpush"[^>]* data-key="([^"]+)"', page).group(1)
    subscription = push.subscribe(key)
    return subscription, client.post("/notifications/me/webpush", json={"subscription": subscription})


def devices(setup):
    return setup.query("SELECT id, name, address, verified_at FROM contact_methods WHERE channel = 'webpush' "
                       "ORDER BY id")


def rows(setup):
    return setup.query("SELECT kind, status, error, attempts FROM notifications WHERE channel = 'webpush' ORDER BY id")


def test_a_device_subscribes_gets_its_code_a_test_and_a_page_whose_button_acknowledges(
        push_app, ana, push, setup_for, now):
    setup = setup_for(push_app)
    subscription, answer = subscribe(ana, push)
    assert answer.status_code == 200 and answer.get_json() == {"location": "/notifications/me"}
    [(method_id, name, address, verified)] = devices(setup)
    assert (name, address, verified) == ("Firefox on Android", subscription["endpoint"], None)
    assert "A code is on its way to this device" in ana.get("/notifications/me").get_data(as_text=True)

    # the code was queued with the subscription: it arrives as a push, decrypted by the "browser"
    run_jobs(push_app, now.value + 1)
    [code_push] = push.wait(1)
    assert push.problems == [] and code_push["claims"]["sub"] == "mailto:pager@callgoose.test"
    assert code_push["ttl"] == 15 * 60 and code_push["urgency"] == "normal"
    shown = code_push["json"]
    code = re.fullmatch(r"Your Callgoose verification code is (\d{6})", shown["title"]).group(1)
    assert "My notifications page" in shown["body"] and shown["actions"] == {}
    assert shown["url"] == f"{BASE}/notifications/me"
    ana.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    assert devices(setup)[0][3] is not None

    now.set(120)  # the method's limit: one code or test a minute
    assert ana.post(f"/notifications/me/methods/{method_id}/test").status_code == 302
    run_jobs(push_app, now.value + 1)
    assert push.wait(2)[1]["json"]["title"] == "Test notification from Callgoose to Firefox on Android"

    # a real page: Ana's device at 0 minutes, through POST /v1/process
    assert ana.post("/notifications/me/rules", data={"contact_method": method_id, "after_minutes": 0,
                                                     "urgency": ["high", "low"]}).status_code == 302
    with push_app.app_context():
        import_config(POLICY, now.value)
    assert post(push_app.test_client(), setup.token(), firing("db1", "CPU high")).status_code == 201
    run_jobs(push_app, now.value + 1)
    page = push.wait(3)[2]
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    assert (page["ttl"], page["urgency"]) == (3600, "high")
    shown = page["json"]
    assert shown["title"] == "P2 HIGH checkout-api: CPU high"
    line, *below = shown["body"].splitlines()
    assert line == "checkout-api: CPU high" and below[0] == "cpu at 99%" and below[-1].startswith("Opened ")
    assert (shown["url"], shown["tag"], shown["kind"]) == (f"{BASE}/incidents/{incident_id}", f"incident-{incident_id}",
                                                          "page")
    assert shown["require_interaction"] is True
    assert set(shown["actions"]) == {"acknowledge", "resolve"}
    assert all(url.startswith(f"{BASE}/l/") for url in shown["actions"].values())
    assert shown["labels"]["acknowledge"] == "Acknowledge" and shown["labels"]["resolve"] == "Resolve"

    # the service worker's POST: no session, no CSRF token
    button = push_app.test_client()
    assert button.post(shown["actions"]["acknowledge"].removeprefix(BASE)).status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    assert setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'") == [
        ("ana@example.com (via Web Push)",)]
    assert button.post(shown["actions"]["acknowledge"].removeprefix(BASE)).status_code == 410  # once
    assert button.post(shown["actions"]["resolve"].removeprefix(BASE)).status_code == 200  # the other button
    assert setup.query("SELECT status FROM incidents") == [("resolved",)]
    assert [r[:2] for r in rows(setup)] == [("verify", "sent"), ("test", "sent"), ("page", "sent")]


def test_the_same_device_again_keeps_its_method_and_another_gets_a_number(push_app, ana, push, setup_for,
                                                                         sign_in):
    setup = setup_for(push_app)
    subscription, _ = subscribe(ana, push)
    again = ana.post("/notifications/me/webpush", json={"subscription": subscription})
    assert again.status_code == 200 and len(devices(setup)) == 1
    # not verified yet: pressing again asks for a code again, within the method's rate limit
    assert "Not sent: each contact method gets at most one code or test a minute" in ana.get(
        "/notifications/me").get_data(as_text=True)
    assert len(setup.query("SELECT id FROM notifications WHERE kind = 'verify'")) == 1
    subscribe(ana, push)
    subscribe(browser_of(push_app, sign_in, ("ana@example.com", "correct horse"), CHROME_LINUX), push)
    assert [d[1] for d in devices(setup)] == ["Firefox on Android", "Firefox on Android 2", "Chrome on Linux"]
    # new keys for a known endpoint replace the old ones, and the method must be verified again
    with push_app.app_context():
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE contact_methods SET verified_at = created_at WHERE channel = 'webpush'")
    key = webpush.page_key(push_app.config["INSTANCE_PATH"])
    renewed = {**push.subscribe(key), "endpoint": subscription["endpoint"]}
    assert ana.post("/notifications/me/webpush", json={"subscription": renewed}).status_code == 200
    first = devices(setup)[0]
    assert first[3] is None and len(devices(setup)) == 3
    options = setup.query("SELECT options FROM contact_methods WHERE id = :id", id=first[0])[0][0]
    assert (json.loads(options) if isinstance(options, str) else options)["p256dh"] == renewed["keys"]["p256dh"]


@pytest.mark.parametrize("change, field", [
    (lambda s: {**s, "endpoint": "ftp://push.example/x"}, "endpoint"),
    (lambda s: {**s, "keys": {**s["keys"], "p256dh": s["keys"]["p256dh"][:-6]}}, "p256dh"),
    (lambda s: {**s, "keys": {**s["keys"], "p256dh": "A" * 87}}, "p256dh"),  # 65 octets, not on the curve
    (lambda s: {**s, "keys": {**s["keys"], "auth": "not base64!"}}, "auth"),
    (lambda s: {**s, "keys": {}}, "p256dh"),
    (lambda s: "not an object", "endpoint"),
])
def test_a_bad_subscription_is_refused_naming_its_field(push_app, ana, push, setup_for, change, field):
    subscription = push.subscribe(re.search(r'data-key="([^"]+)"', ana.get("/notifications/me").get_data(
        as_text=True)).group(1))
    answer = ana.post("/notifications/me/webpush", json={"subscription": change(subscription)})
    assert answer.status_code == 422 and f"Not saved: {field} " in answer.get_json()["error"]
    assert devices(setup_for(push_app)) == []


def test_the_add_form_does_not_offer_it_and_the_document_refuses_it(push_app, ana, push, setup_for):
    page = ana.get("/notifications/me").get_data(as_text=True)
    assert 'name="type" value="webpush"' not in page and "Get pages on this device" in page
    subscription = push.subscribe(re.search(r'data-key="([^"]+)"', page).group(1))
    ana.post("/notifications/me/methods", data={"type": "webpush", "name": "phone", "address": subscription["endpoint"],
                                               **subscription["keys"]})
    assert devices(setup_for(push_app)) == []
    with push_app.app_context():
        with pytest.raises(SpecError) as caught:
            import_config({"services": [], "users": [{"email": "bo@example.com", "contact_methods": [
                {"name": "phone", "type": "webpush", "endpoint": subscription["endpoint"], **subscription["keys"]}]}]},
                time.time())
    assert caught.value.path == "users[0].contact_methods[0].type" and "webpush" not in str(caught.value.message)
    subscribe(ana, push)
    with push_app.app_context():
        exported = export_oncall([])
    [user] = [u for u in exported["users"] if u["email"] == "ana@example.com"]
    assert [m["type"] for m in user["contact_methods"]] == ["email"]  # the device is not exported


def test_the_channel_checks_its_fields_by_path(push):
    channel = channels.get("webpush")
    subscription = push.subscribe(_any_key())
    kept = channel.check(webpush.subscription_values(subscription), "m")
    assert kept.address == subscription["endpoint"] and kept.options == subscription["keys"]
    for key, bad in (("endpoint", "push.example/no-scheme"), ("p256dh", "AAAA"), ("auth", "A" * 30)):
        values = {**webpush.subscription_values(subscription), key: bad}
        with pytest.raises(SpecError) as caught:
            channel.check(values, "m")
        assert caught.value.path == f"m.{key}"
    assert channel.shown(subscription["endpoint"], kept.options) == "127.0.0.1"
    assert channel.destination(subscription["endpoint"], kept.options) == "webpush:127.0.0.1"


def _any_key() -> str:
    from cryptography.hazmat.primitives.asymmetric import ec
    return webpush.public_key(ec.generate_private_key(ec.SECP256R1()))


def _device(app, client, push, setup):
    """A verified device of Ana's (its code confirmed) and her rule for it; its method id."""
    subscription, _ = subscribe(client, push)
    [(method_id, *_rest)] = devices(setup)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE contact_methods SET verified_at = created_at WHERE channel = 'webpush'")
            conn.exec_driver_sql("DELETE FROM notifications")
    client.post("/notifications/me/rules", data={"contact_method": method_id, "after_minutes": 0,
                                                 "urgency": ["high", "low"]})
    with app.app_context():
        import_config(POLICY, time.time())
    return subscription


def test_a_5xx_and_a_429_are_retried_and_an_unsubscribed_device_fails_for_good(push_app, ana, push, setup_for,
                                                                                 add_user, sign_in):
    setup = setup_for(push_app)
    subscription = _device(push_app, ana, push, setup)
    token = setup.token()
    push.fail_next(503)
    push.fail_next(429, retry_after=30)
    assert post(push_app.test_client(), token, firing("db1", "CPU high")).status_code == 201
    start = time.time()
    run_jobs(push_app, start + 1)
    assert rows(setup) == [("page", "pending", "attempt 1 failed, retrying: the push service answered HTTP 503: "
                                               "failing on purpose (fail_next)", 1)]
    run_jobs(push_app, start + 62)  # retried 30 s later, and at most one message a minute to a method
    assert rows(setup)[0][:2] == ("page", "pending") and "HTTP 429" in rows(setup)[0][2]
    run_jobs(push_app, start + 62 + 62)
    assert rows(setup)[0][:2] == ("page", "sent") and len(push.wait(1)) == 1

    push.unsubscribe(FakePushService.id_of(subscription))
    assert post(push_app.test_client(), token, firing("db2", "Disk full")).status_code == 201
    run_jobs(push_app, start + 200)
    run_jobs(push_app, start + 400)
    failed = rows(setup)[1]
    assert failed[:2] == ("page", "failed") and failed[3] == 1
    assert failed[2] == ("the push service answered HTTP 410: this device unsubscribed or its subscription expired; "
                         "get pages on it again")
    sign_in(ana, *add_user(push_app))  # an admin reads everyone's ledger
    ledger = ana.get("/notifications?status=failed&channel=webpush").get_data(as_text=True)
    assert "this device unsubscribed" in ledger and "Web Push" in ledger


def test_a_new_server_key_is_refused_by_the_push_service_and_says_what_to_do(push_app, ana, push, setup_for):
    setup = setup_for(push_app)
    _device(push_app, ana, push, setup)
    os.unlink(webpush.key_path(push_app.config["INSTANCE_PATH"]))  # the instance folder was lost
    assert post(push_app.test_client(), setup.token(), firing("db1")).status_code == 201
    run_jobs(push_app, time.time() + 1)
    [(kind, status, error, _attempts)] = rows(setup)
    assert (kind, status) == ("page", "failed")
    assert error.startswith("the push service refused this server's VAPID signature (HTTP 403: vapid k is not the "
                            "applicationServerKey") and "get pages on the device again" in error
    assert push.messages == []


def test_a_private_push_endpoint_is_refused_by_the_ssrf_guard(push_app, ana, push, setup_for):
    setup = setup_for(push_app)
    _device(push_app, ana, push, setup)
    push_app.config["WEBHOOK_ALLOWED_HOSTS"] = ""
    assert post(push_app.test_client(), setup.token(), firing("db1")).status_code == 201
    run_jobs(push_app, time.time() + 1)
    [(_kind, status, error, _attempts)] = rows(setup)
    assert status == "failed" and "loopback, private or link-local" in error and push.requests == []


def _outgoing(settings: Settings, target: str, keys: dict, items: list[Item], size: int | None = None) -> Outgoing:
    return Outgoing(settings=settings, target=target, format=None, options=keys, items=items,
                    message=compose(items, size), words=str, delivery_id="d1", notification_id=7,
                    row_ids=tuple(range(len(items))), kind=items[0].kind, size=size or len(items), now=time.time(),
                    sign=lambda nid, action: f"{settings.base_url}/l/{action}-{nid}")


def test_a_bundle_of_long_titles_is_cut_to_fit_one_push_and_still_decrypts(push, tmp_path):
    settings = Settings(base_url=BASE, webhook_allowed_hosts=frozenset({"127.0.0.1"}), timeout=5,
                        extra={"INSTANCE_PATH": str(tmp_path)})
    key = webpush.public_key(webpush.vapid_key(webpush.key_path(str(tmp_path))))
    subscription = push.subscribe(key)
    items = [Item(kind="page", incident_id=i, title="é" * 900 + f" {i}", service="checkout-api", urgency="low",
                  url=f"{BASE}/incidents/{i}") for i in range(12)]
    out = _outgoing(settings, subscription["endpoint"], subscription["keys"], items[:10], size=40)
    data = webpush.CHANNEL.payload(out)
    assert len(data) <= webpush.MAX_PLAINTEXT
    doc = json.loads(data)
    assert doc["body"].endswith("…") and doc["tag"] == "callgoose-bundle" and doc["url"] == f"{BASE}/incidents"
    assert doc["actions"] == {"acknowledge": f"{BASE}/l/acknowledge-7", "resolve": f"{BASE}/l/resolve-7"}
    assert doc["require_interaction"] is False and len(doc["title"]) <= webpush.TITLE_CHARS
    assert webpush.CHANNEL.prepare(out)() is not None
    [arrived] = push.wait(1)
    assert len(arrived["body"]) <= MAX_BODY and arrived["json"] == doc and arrived["urgency"] == "normal"
    assert push.problems == []
    short = _outgoing(settings, subscription["endpoint"], subscription["keys"], items[:1])
    assert json.loads(webpush.CHANNEL.payload(short))["body"] == "checkout-api: " + items[0].title


def test_the_vapid_key_is_made_once_private_and_the_same_for_every_process(tmp_path):
    path = webpush.key_path(str(tmp_path))
    made = []
    threads = [threading.Thread(target=lambda: made.append(webpush.public_key(webpush.vapid_key(path))))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 1 and len(made) == 8
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert webpush.public_key(webpush.vapid_key(path)) == made[0]
    assert sorted(os.listdir(tmp_path)) == ["vapid_private.pem"]  # no spare file left behind
    assert re.fullmatch(r"[A-Za-z0-9_-]{87}", made[0])  # 65 octets, base64url without padding
    with pytest.raises(Permanent, match="instance folder"):
        webpush.key_path(None)


@pytest.mark.parametrize("mail_from, base, sub", [
    ("Callgoose <pager@example.com>", "http://10.0.0.5:8000", "mailto:pager@example.com"),
    ("callgoose@localhost", "https://alerts.example.com", "https://alerts.example.com"),
    ("callgoose@localhost", "http://10.0.0.5:8000", "mailto:callgoose@localhost"),
])
def test_the_vapid_contact_is_the_mail_sender_or_the_https_base_url(mail_from, base, sub):
    assert webpush.contact(Settings(base_url=base, mail_from=mail_from)) == sub


@pytest.mark.parametrize("agent, named", [
    (FIREFOX_ANDROID, ("Firefox", "Android")),
    (CHROME_LINUX, ("Chrome", "Linux")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
     "Mobile/15E148 Safari/604.1", ("Safari", "iPhone")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 "
     "Edg/131.0", ("Edge", "Windows")),
    ("", (None, None)),
])
def test_a_device_is_named_by_its_browser_and_system(agent, named):
    assert webpush.device(agent) == named


def test_the_manifest_and_the_service_worker_are_served_to_anyone(push_app, add_user):
    add_user(push_app)
    client = push_app.test_client()
    answer = client.get("/manifest.webmanifest")
    assert answer.status_code == 200 and answer.mimetype == "application/manifest+json"
    doc = json.loads(answer.data)
    assert doc["name"] == "Callgoose" and doc["display"] == "standalone" and doc["scope"] == "/"
    assert doc["start_url"] == "/incidents" and doc["icons"][0]["sizes"] == "any"
    with client.get(doc["icons"][0]["src"]) as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"
    assert b'addEventListener("push"' in worker.data and b'addEventListener("notificationclick"' in worker.data
    assert 'rel="manifest" href="/manifest.webmanifest"' in client.get("/login").get_data(as_text=True)


def test_without_a_key_the_page_offers_no_button_and_still_works(push_app, ana, tmp_path):
    """A read-only instance folder: the key can be neither read nor made."""
    push_app.config["INSTANCE_PATH"] = str(tmp_path / "missing" / "folder")
    page = ana.get("/notifications/me")
    assert page.status_code == 200 and 'id="webpush"' not in page.get_data(as_text=True)
    assert "Contact methods" in page.get_data(as_text=True)


def test_importing_the_document_keeps_a_device_and_its_rule(push_app, ana, push, setup_for):
    """The document cannot name a device (it is not exported), so replacing a person's methods
    from it must not drop the devices their browsers subscribed, nor the rules that page them."""
    setup = setup_for(push_app)
    subscribe(ana, push)
    (device,) = devices(setup)
    with push_app.app_context():
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO notification_rules (user_id, contact_method_id, after_minutes, "
                                 f"urgencies) SELECT user_id, id, 2, 'high' FROM contact_methods WHERE id = {device[0]}")
        exported = export_oncall([])
        import_config({**exported, "services": []}, time.time())
    assert [d[0] for d in devices(setup)] == [device[0]]
    rules = setup.query("SELECT contact_method_id, after_minutes FROM notification_rules ORDER BY id")
    assert (device[0], 2) in rules and len(rules) == 2  # the mail's rule, from the document, and the device's
