"""Issue 17: a Discord channel's webhook as a contact method, end to end against a local
server that checks what Discord checks (tests/providers/web.py): added and verified on My
notifications, a page as an embed with the incident's facts within Discord's limits, signed
links that ask before they act ("via Discord" on the timeline), retries and refusals in the
ledger."""

from __future__ import annotations

import json
import re
import time

import pytest
from helpers import ALERTMANAGER, T0, configure, firing, post, run_jobs
from providers.web import FakeDiscord

from callgoose import channels, clock
from callgoose.engine.rules import SpecError
from callgoose.engine.words import Moment
from callgoose.services.catalog import import_config
from callgoose.store.hotpath import to_datetime

BASE = "http://callgoose.test"


@pytest.fixture
def discord():
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def chat_app(make_app, database_url, tmp_path):
    return make_app(database_url, tmp_path, BASE_URL=BASE, WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
                    DELIVERY_TIMEOUT_SECONDS=5)


def ana_on_discord(url: str) -> dict:
    """Ana, paged by her Discord webhook at once by the policy of checkout-api."""
    return {"users": [{"email": "ana@example.com", "name": "Ana",
                       "contact_methods": [{"name": "chat", "type": "discord", "url": url}],
                       "notification_rules": [{"contact_method": "chat", "after_minutes": 0}]}],
            "escalation_policies": [{"name": "checkout", "levels": [
                {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
            "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]}


def ledger(setup):
    return setup.query("SELECT kind, channel, status, error, attempts FROM notifications ORDER BY id")


def page_once(app, setup, summary: str = "CPU high", token: str | None = None) -> float:
    """One alert for checkout-api, delivered; returns the moment it was sent at."""
    assert post(app.test_client(), token or setup.token(), firing("g1", summary)).status_code == 201
    start = time.time()
    run_jobs(app, start + 1)
    return start


def test_the_document_takes_a_discord_webhook_and_names_the_fault(chat_app, setup_for, discord):
    configure(chat_app, ana_on_discord(discord.url))
    runner = chat_app.test_cli_runner()
    exported = json.loads(runner.invoke(args=["export-config"]).stdout)
    assert exported["users"][0]["contact_methods"] == [{"name": "chat", "type": "discord", "url": discord.url}]
    for bad, path, words in (
            ({"url": "ftp://discord.com/api/webhooks/1/x"}, "url", "http:// or https://"),
            ({"url": "https://discord.com/channels/1/2"}, "url", "Discord webhook URL"),
            ({"url": "https://discord.com/api/webhooks/abc/x"}, "url", "Discord webhook URL"),
            ({}, "url", "required")):
        doc = ana_on_discord("")
        doc["users"][0]["contact_methods"][0] = {"name": "chat", "type": "discord", **bad}
        with pytest.raises(SpecError) as caught, chat_app.app_context():
            import_config(doc, clock.now())
        assert caught.value.path == f"users[0].contact_methods[0].{path}", bad
        assert words in str(caught.value.message)
    doc = ana_on_discord(discord.url)
    doc["users"][0]["contact_methods"][0]["format"] = "slack"  # a field of another channel
    with pytest.raises(SpecError) as caught, chat_app.app_context():
        import_config(doc, clock.now())
    assert (caught.value.path, caught.value.message) == ("users[0].contact_methods[0].format", "unknown field")
    # the versioned API path and a thread are Discord's too
    kept = channels.get("discord").check({"url": "https://discord.com/api/v10/webhooks/12/tok-EN_x?thread_id=5"})
    assert kept.address == "https://discord.com/api/v10/webhooks/12/tok-EN_x?thread_id=5"


def test_my_notifications_adds_verifies_and_tests_it(chat_app, setup_for, discord, add_user, sign_in, now):
    email, password = add_user(chat_app, "dee@example.com", admin=False)
    client = chat_app.test_client()
    sign_in(client, email, password)
    added = client.post("/notifications/me/methods", data={"name": "team", "type": "discord",
                                                           "address": discord.url})
    assert added.status_code == 302
    page = client.get("/notifications/me").get_data(as_text=True)
    method_id = int(re.findall(r'id="method-(\d+)"', page)[-1])
    assert f"/api/webhooks/{discord.webhook_id}/…" in page  # the URL's token is not shown
    assert discord.webhooks[discord.webhook_id] not in page
    assert client.post(f"/notifications/me/methods/{method_id}/code").status_code == 302
    run_jobs(chat_app, T0 + 1)
    (sent,) = discord.wait(1)
    assert sent["allowed_mentions"] == {"parse": []}
    code = re.search(r"\b(\d{6})\b", sent["embeds"][0]["description"]).group(1)
    client.post(f"/notifications/me/methods/{method_id}/confirm", data={"code": code})
    page = client.get("/notifications/me").get_data(as_text=True)
    assert re.search(rf'id="method-{method_id}".*?>verified<', page, re.S)
    now.set(120)  # one code or test a minute per method
    assert client.post(f"/notifications/me/methods/{method_id}/test").status_code == 302
    run_jobs(chat_app, T0 + 121)
    test = discord.wait(2)[1]
    assert test["embeds"][0]["title"].startswith("Test notification from Callgoose to team")
    assert "Callgoose can reach you here" in test["embeds"][0]["description"]
    assert [r[:3] for r in ledger(setup_for(chat_app))] == [("verify", "discord", "sent"), ("test", "discord", "sent")]
    assert discord.refused == []


def test_a_page_is_an_embed_with_the_facts_and_its_link_acknowledges(chat_app, setup_for, discord, add_user, sign_in):
    setup = setup_for(chat_app)
    configure(chat_app, ana_on_discord(discord.url))
    title = "Disk full on db-1 @everyone [ack here](https://evil.example) **now**"
    page_once(chat_app, setup, title)
    (sent,) = discord.wait(1)
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    (embed,) = sent["embeds"]
    assert embed["title"] == title  # plain text in a title: no link, no mention
    assert embed["url"] == f"{BASE}/incidents/{incident_id}"
    assert embed["color"] == 0xD93025  # high urgency: red
    (opened,) = setup.query("SELECT created_at FROM incidents")[0]
    opened = Moment(clock.from_db(to_datetime(opened)), "UTC")  # Ana's zone
    assert embed["fields"] == [{"name": "Service", "value": "checkout-api", "inline": True},
                               {"name": "Urgency", "value": "HIGH", "inline": True},
                               {"name": "Opened", "value": str(opened), "inline": True}]  # issue 17 item 5
    assert embed["description"].startswith("cpu at 99%\n")  # the description's first lines
    # where Markdown is read, the title's link and emphasis are escaped; nobody is mentioned
    assert sent["allowed_mentions"] == {"parse": []}
    assert "\\[ack here\\](https://evil.example) \\*\\*now\\*\\*" in sent["content"]
    assert "](https://evil.example)" not in sent["content"].replace("\\]", "")
    links = dict(re.findall(r"\[(Acknowledge|Resolve)\]\((\S+?)\)", embed["description"]))
    assert set(links) == {"Acknowledge", "Resolve"} and all(u.startswith(f"{BASE}/l/") for u in links.values())
    assert "ask before they act" in embed["description"]

    client = chat_app.test_client()
    path = links["Acknowledge"].removeprefix(BASE)
    asked = client.get(path)
    assert asked.status_code == 200 and b"Acknowledge this incident?" in asked.data
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]  # a GET never acts
    assert client.post(path).status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    assert setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'") == [
        ("ana@example.com (via Discord)",)]
    assert client.post(path).status_code == 410  # once
    email, password = add_user(chat_app)
    sign_in(client, email, password)
    assert "ana@example.com (via Discord)" in client.get(f"/incidents/{incident_id}").get_data(as_text=True)


def test_a_bundle_of_long_titles_stays_within_discord_s_limits(chat_app, setup_for, discord):
    setup = setup_for(chat_app)
    configure(chat_app, ana_on_discord(discord.url))
    client = chat_app.test_client()
    token = setup.token()
    start = page_once(chat_app, setup, "first", token)
    for i in range(14):  # Markdown characters double when escaped: 255 of them are 510
        assert post(client, token, firing(f"b{i}", f"{i:02d}" + "*_" * 130)).status_code == 201
    run_jobs(chat_app, start + 2)  # queued behind the first page: one message a minute per method
    run_jobs(chat_app, start + 62)
    first, bundle = discord.wait(2)
    assert discord.refused == []  # the fake refuses anything over Discord's limits
    (embed,) = bundle["embeds"]
    assert "14 updates" in bundle["content"] and len(bundle["content"]) <= 2000
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
    size = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    assert size <= 6000
    listed = [line for line in embed["description"].splitlines() if line.startswith("• ")]
    assert 1 <= len(listed) < 14
    assert embed["description"].endswith(f"... and {14 - len(listed)} more.")
    assert "every incident in this message" in embed["description"]
    # its Acknowledge link acknowledges all fourteen
    link = re.search(r"\[Acknowledge\]\((\S+?)\)", embed["description"]).group(1)
    assert client.post(link.removeprefix(BASE)).status_code == 200
    assert sorted(setup.query("SELECT status, count(*) FROM incidents GROUP BY status")) == [
        ("acknowledged", 14), ("triggered", 1)]


def test_a_base_url_discord_would_refuse_as_an_embed_url_still_pages(make_app, database_url, tmp_path, setup_for,
                                                                   discord):
    app = make_app(database_url, tmp_path, BASE_URL="http://localhost:8000", WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    setup = setup_for(app)
    configure(app, ana_on_discord(discord.url))
    page_once(app, setup)
    (sent,) = discord.wait(1)
    assert "url" not in sent["embeds"][0] and "http://localhost:8000/l/" in sent["embeds"][0]["description"]
    assert [r[2] for r in ledger(setup)] == ["sent"]


@pytest.mark.parametrize("status", [500, 429])
def test_a_5xx_or_429_is_retried_with_the_same_message(chat_app, setup_for, discord, status):
    setup = setup_for(chat_app)
    configure(chat_app, ana_on_discord(discord.url))
    discord.fail_next(1, status)
    start = page_once(chat_app, setup)
    (row,) = ledger(setup)
    assert row[:3] == ("page", "discord", "pending") and f"Discord answered HTTP {status}" in row[3]
    assert discord.messages == []
    run_jobs(chat_app, start + 62)  # due 30 s later, and a minute after the last send to this method
    (sent,) = discord.wait(1)
    assert sent["embeds"][0]["title"] == "CPU high"
    assert ledger(setup) == [("page", "discord", "sent", None, 2)]


def test_a_4xx_fails_for_good_in_the_ledger(chat_app, setup_for, discord, add_user, sign_in):
    setup = setup_for(chat_app)
    wrong = discord.url[:-4] + "XXXX"  # the webhook's token changed (regenerated in Discord)
    configure(chat_app, ana_on_discord(wrong))
    start = page_once(chat_app, setup)
    run_jobs(chat_app, start + 100)
    assert ledger(setup) == [("page", "discord", "failed", "Discord answered HTTP 401: Invalid Webhook Token", 1)]
    assert len(discord.requests) == 1 and discord.messages == []
    client = chat_app.test_client()
    sign_in(client, *add_user(chat_app))
    page = client.get("/notifications?status=failed").get_data(as_text=True)
    assert "Discord answered HTTP 401: Invalid Webhook Token" in page and "Send again" in page


def test_the_ssrf_guard_refuses_a_private_address_not_allowed(make_app, database_url, tmp_path, setup_for, discord):
    app = make_app(database_url, tmp_path, BASE_URL=BASE)
    setup = setup_for(app)
    configure(app, ana_on_discord(discord.url))
    page_once(app, setup)
    ((kind, channel, status, error, _attempts),) = ledger(setup)
    assert status == "failed" and "loopback, private or link-local" in error
    assert discord.requests == []
