"""Issue 17 item 5, end to end: a page says what a person needs at 3 a.m. An alert's labels,
its runbook link, the repeats so far and the opening time in the recipient's zone reach the
mail and a JSON webhook; an SMS page is one SMS; a split payload's page tells its element's
labels, not the group's. Real SMTP, webhook and Twilio-compatible servers on loopback."""

from __future__ import annotations

import json
import time

import pytest
from helpers import ALERTMANAGER, firing, post, run_jobs
from receivers import WebhookReceiver, html_of, text_of
from sqlalchemy import text

from callgoose import channels, clock
from callgoose.channels.base import Outgoing
from callgoose.channels.discord import message
from callgoose.channels.matrix import content
from callgoose.channels.pushover import fields_of
from callgoose.delivery import Settings
from callgoose.engine import sms
from callgoose.engine.messages import Item, chat_link, compose, webhook_body
from callgoose.engine.words import Moment
from callgoose.extensions import db
from callgoose.services.catalog import import_config
from callgoose.store.hotpath import to_datetime

BASE = "http://callgoose.test"
ZONE = "America/New_York"
RUNBOOK = "https://wiki.example.com/runbooks/high-cpu?x=1&y=2"
ALERT = {"status": "firing", "fingerprint": "fp-cpu",
         "labels": {"alertname": "HighCPU", "severity": "critical", "instance": "db1.example.com:9100", "job": "node",
                    "team": "db"},
         "annotations": {"summary": "CPU high", "description": "cpu at 99% on db1\nsince 03:02",
                         "runbook_url": RUNBOOK}}


def configure(app, methods: list[dict], service: dict | None = None, zone: str = ZONE) -> None:
    """Ana, on call for checkout-api with ``methods`` (each used at once), in ``zone``."""
    doc = {"users": [{"email": "ana@example.com", "name": "Ana", "contact_methods": methods,
                      "notification_rules": [{"contact_method": m["name"], "after_minutes": 0} for m in methods]}],
           "escalation_policies": [{"name": "p", "levels": [{"escalate_after_minutes": 5,
                                                              "targets": [{"user": "ana@example.com"}]}]}],
           "services": [{**(service or ALERTMANAGER), "escalation_policy": "p"}]}
    with app.app_context():
        import_config(doc, clock.now())
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE users SET time_zone = :zone"), {"zone": zone})


def opened(setup, zone: str = ZONE, incident: int | None = None) -> Moment:
    rows = setup.query("SELECT id, created_at FROM incidents ORDER BY id")
    created = next(r[1] for r in rows if incident is None or r[0] == incident)
    return Moment(clock.from_db(to_datetime(created)), zone)


def test_an_alertmanager_page_mails_its_labels_runbook_repeats_and_open_time_in_the_recipients_zone(
        paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    with WebhookReceiver() as hook:
        configure(paging_app, [{"name": "mail", "type": "email", "address": "ana@example.com"},
                               {"name": "hook", "type": "webhook", "url": hook.url, "format": "json"}])
        client, token = paging_app.test_client(), setup.token()
        assert post(client, token, firing("g1", "CPU high", alerts=[ALERT])).status_code == 201
        # the group again with one more alert: not a replay (another payload), a repeat (S26)
        again = firing("g1", "CPU high", alerts=[ALERT, {**ALERT, "fingerprint": "fp-2"}])
        assert post(client, token, again).status_code == 208
        assert setup.query("SELECT duplicate_count FROM incidents") == [(1,)]
        run_jobs(paging_app, time.time() + 1)
        (mail,) = smtp.mailbox.wait(1)
        (sent,) = hook.wait(1)

    when = opened(setup)
    assert when.zone == ZONE and str(when).endswith(("EST", "EDT"))
    assert mail["Subject"] == "[Callgoose] P2 HIGH checkout-api: CPU high"  # as before
    body = text_of(mail).replace("\r\n", "\n")
    head = body.split("  Open: ")[0]
    assert head.splitlines() == [
        "P2 HIGH checkout-api: CPU high",
        "  cpu at 99%",  # the description (commonAnnotations.description here)
        "  Labels: alertname=HighCPU, severity=critical, instance=db1.example.com:9100, job=node, team=db",
        f"  Runbook: {RUNBOOK}",
        "  Repeats so far: 1",
        f"  Opened {when}"]
    page = html_of(mail)
    assert f'Runbook: <a href="{RUNBOOK.replace("&", "&amp;")}" rel="noopener noreferrer">' in page
    assert "<code>alertname=HighCPU, severity=critical" in page and f"Opened {when}" in page

    item = sent["json"]["items"][0]
    assert item["labels"] == {"alertname": "HighCPU", "severity": "critical", "instance": "db1.example.com:9100",
                              "job": "node", "team": "db"}
    assert item["runbook_url"] == RUNBOOK and item["repeats"] == 1 and item["description"] == "cpu at 99%"
    assert item["opened_at"] == clock.iso(clock.to_db(when.epoch))
    assert f"Opened {when}" in sent["json"]["text"]


def test_the_payload_is_the_description_when_the_rule_names_none(paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    configure(paging_app, [{"name": "mail", "type": "email", "address": "ana@example.com"}],
              service={**ALERTMANAGER, "trigger": [{k: v for k, v in ALERTMANAGER["trigger"][0].items()
                                                  if k != "description_from"}]},
              zone="Asia/Tokyo")
    doc = firing("g1", "CPU high", padding="x" * 900_000)  # a big payload: only its start is read
    assert post(paging_app.test_client(), setup.token(), doc).status_code == 201
    assert setup.query("SELECT description IS NULL FROM incidents") == [(True,)]
    run_jobs(paging_app, time.time() + 1)
    (mail,) = smtp.mailbox.wait(1)
    lines = text_of(mail).splitlines()
    assert lines[1].startswith('  {"status": "firing", "groupKey": "g1"') and lines[1].endswith("…")
    assert len(lines[1]) == 2 + 300  # the first lines, cut
    assert f"  Opened {opened(setup, 'Asia/Tokyo')}" in lines and "JST" in str(opened(setup, "Asia/Tokyo"))
    assert not any(line.startswith("  Labels:") for line in lines)  # a payload without labels: none guessed


@pytest.mark.parametrize("title, encoding", [("CPU high on db1", "gsm7"), ("🔥 CPU high", "ucs2"),
                                             ("数据库连接池耗尽", "ucs2")])
def test_an_sms_page_is_one_sms(paging_app, setup_for, twilio, title, encoding):
    setup = setup_for(paging_app)
    configure(paging_app, [{"name": "sms", "type": "sms", "address": "+14155550101"}])
    assert post(paging_app.test_client(), setup.token(), firing("g1", title, alerts=[ALERT])).status_code == 201
    run_jobs(paging_app, time.time() + 1)
    (message,) = twilio.messages  # sent before run_jobs returns
    body = message["Body"]
    assert sms.encoding(body) == encoding and sms.segments(body) == 1
    assert sms.units(body) <= (160 if encoding == "gsm7" else 70)
    assert f"P2 HIGH checkout-api: {title}" in body and "Reply 1" in body
    if encoding == "gsm7":  # room for the facts that matter most
        assert body.startswith(f"Callgoose: P2 HIGH checkout-api: {title}\ncpu at 99%\nLabels: alertname=HighCPU")


SPLIT = {"name": "prometheus", "split_on": "alerts",
         "trigger": [{"conditions": [{"json_key": "status", "contains": ["firing"]}],
                      "title_from": "labels.alertname", "description_from": "annotations.description",
                      "map_incident_with": "fingerprint"}],
         "resolve": [{"conditions": [{"json_key": "status", "contains": ["resolved"]}],
                      "incident_mapped_with": "fingerprint"}]}


def test_a_split_payloads_page_tells_its_elements_labels_not_the_groups(paging_app, setup_for, smtp):
    setup = setup_for(paging_app)
    configure(paging_app, [{"name": "mail", "type": "email", "address": "ana@example.com"}], service=SPLIT)
    disk = {"status": "firing", "fingerprint": "fp-disk",
            "labels": {"alertname": "DiskFull", "severity": "warning", "instance": "db2.example.com:9100"},
            "annotations": {"description": "disk at 97%", "runbook": "https://wiki.example.com/runbooks/disk"}}
    group = {"status": "firing", "groupKey": "{}:{}", "commonLabels": {"job": "node", "env": "prod"},
             "commonAnnotations": {"runbook_url": "https://wiki.example.com/runbooks/group"}, "alerts": [ALERT, disk]}
    assert post(paging_app.test_client(), setup.token(), group).status_code == 201
    facts = {title: json.loads(f) if isinstance(f, str) else f
             for title, f in setup.query("SELECT title, facts FROM incidents ORDER BY id")}
    assert facts["DiskFull"] == {"labels": [["alertname", "DiskFull"], ["severity", "warning"],
                                            ["instance", "db2.example.com:9100"]],
                                 "runbook": "https://wiki.example.com/runbooks/disk"}
    run_jobs(paging_app, time.time() + 1)
    (mail,) = smtp.mailbox.wait(1)  # both pages, bundled for Ana
    body = text_of(mail).replace("\r\n", "\n")
    cpu, disk_part = body.split("P2 HIGH prometheus: DiskFull")
    assert "  Labels: alertname=HighCPU, severity=critical, instance=db1.example.com:9100, job=node, team=db" in cpu
    assert f"  Runbook: {RUNBOOK}" in cpu
    assert "  Labels: alertname=DiskFull, severity=warning, instance=db2.example.com:9100\n" in disk_part
    assert "  Runbook: https://wiki.example.com/runbooks/disk" in disk_part and "  disk at 97%" in disk_part
    assert "env=prod" not in body and "runbooks/group" not in body  # the group's, not the element's


# -- each channel keeps its own structure and only adds the facts, escaped as it escapes ---------

HOSTILE = dict(description="disk at 97% @channel <!here> [click](https://evil.example) <b>x</b>",
               labels=(("alertname", "Disk*Full*"), ("instance", "<@U123> @everyone [a](https://evil.example)")),
               runbook="https://wiki.example.com/runbooks/disk", repeats=3, opened=1_700_000_000.0, zone="Asia/Tokyo")
WHEN = "Opened Wed 15 Nov 07:13 JST"


def outgoing(channel: str, items, size: int = 1, **settings):
    return Outgoing(settings=Settings(base_url="https://cg.test", **settings), target="x", format=None,
                    options={}, items=items, message=compose(items, size), words=str, delivery_id="d",
                    notification_id=9, row_ids=(1,), kind="page", size=size, now=time.time(),
                    sign=lambda nid, action: f"https://cg.test/l/A{nid}.{action}.sig")


def one_page(**facts):
    return Item(kind="page", incident_id=1, title="Disk full", service="db", url="https://cg.test/incidents/1",
                **facts)


def test_pushover_tells_the_facts_within_1024_and_keeps_its_acknowledgement_note():
    fields = fields_of(outgoing("pushover", [one_page(**HOSTILE)]))
    lines = fields["message"].splitlines()
    assert lines[0] == "HIGH db: Disk full" and lines[1] == HOSTILE["description"]
    assert "Runbook: https://wiki.example.com/runbooks/disk" in lines and "Repeats so far: 3" in lines
    assert WHEN in lines and lines[-1] == "Acknowledge it in Pushover to acknowledge it in Callgoose."
    long = fields_of(outgoing("pushover", [one_page(**{**HOSTILE, "description": "\n".join(["y" * 299] * 3),
                                                      "labels": (("k", "v" * 100),) * 5})]))
    assert len(long["message"]) <= 1024 and long["message"].startswith("HIGH db: Disk full\n")
    assert long["message"].endswith("\nAcknowledge it in Pushover to acknowledge it in Callgoose.")
    assert WHEN not in long["message"]  # the least important went first


def test_discord_adds_fields_and_escapes_them():
    (embed,) = message(outgoing("discord", [one_page(**HOSTILE)]))["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Labels"] == ("alertname: Disk\\*Full\\*\n"
                                "instance: \\<@U123\\> @everyone \\[a\\](https://evil.example)")
    assert fields["Runbook"] == "[Open the runbook](https://wiki.example.com/runbooks/disk)"
    assert fields["Repeats"] == "3" and fields["Opened"] == WHEN.removeprefix("Opened ")
    assert embed["description"].startswith("disk at 97% @channel \\<!here\\> \\[click\\](https://evil.example)")


def test_matrix_tells_the_facts_in_text_and_escaped_html():
    doc = content(outgoing("matrix", [one_page(**HOSTILE)]))
    assert f"\n{HOSTILE['description']}\n" in doc["body"] and f"\n{WHEN}\n" in doc["body"]
    assert "<b>x</b>" not in doc["formatted_body"] and "&lt;b&gt;x&lt;/b&gt;" in doc["formatted_body"]
    assert '<a href="https://wiki.example.com/runbooks/disk" rel="noopener noreferrer">' in doc["formatted_body"]
    assert doc["m.mentions"] == {}


def test_mattermost_adds_fields_and_defuses_mentions():
    (attachment,) = channels.get("mattermost").post(outgoing("mattermost", [one_page(**HOSTILE)]))["attachments"]
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert "@channel" not in attachment["text"] and "@\u200bchannel" in attachment["text"]
    assert "\\[click\\](https://evil.example)" in attachment["text"]
    assert "@everyone" not in fields["Labels"] and "\\[a\\](https://evil.example)" in fields["Labels"]
    assert fields["Runbook"] == "[Open the runbook](https://wiki.example.com/runbooks/disk)"
    assert fields["Repeats"] == "3" and fields["Opened"] == WHEN.removeprefix("Opened ")


@pytest.mark.parametrize("fmt", ["slack", "teams"])
def test_slack_and_teams_add_the_facts_short_and_escaped(fmt):
    items = [one_page(**{**HOSTILE, "description": "first line " + "z" * 300 + "\nsecond line"})]
    doc = webhook_body(fmt, compose(items), items, "d", "t")
    said = doc["text"]
    assert "second line" not in said and "z" * 180 in said and "z" * 200 not in said  # the first line, short
    assert WHEN not in said and "Repeats so far: 3" in said
    if fmt == "slack":
        assert "<!here>" not in said and "<@U123>" not in said and "&lt;@U123&gt;" in said
        assert "Runbook: <https://wiki.example.com/runbooks/disk|https://wiki.example.com/runbooks/disk>" in said
    else:
        assert "\\[a\\](https://evil.example)" in said
        assert "[https://wiki.example.com/runbooks/disk](https://wiki.example.com/runbooks/disk)" in said
    bundle = [one_page(**HOSTILE), one_page(**HOSTILE)]
    assert "Repeats so far" not in webhook_body(fmt, compose(bundle), bundle, "d", "t")["text"]  # a bundle: short


def test_a_runbook_url_that_would_break_a_chat_link_is_shown_as_text():
    assert chat_link("https://w.example/a>b|c", "x", "slack") == "https://w.example/a&gt;b|c"
    assert chat_link("https://w.example/a)(b", "x", "markdown") == "https://w.example/a)(b"
    assert chat_link("https://w.example/a?b=1&c=2", "runbook", "slack") == \
        "<https://w.example/a?b=1&amp;c=2|runbook>"


def test_telegram_tells_a_lone_pages_facts_after_its_line_and_link():
    from callgoose.channels.base import facts
    from callgoose.channels.telegram import LIMIT, text_of

    out = outgoing("telegram", [one_page(**HOSTILE)])
    text = text_of(out.items, 1, str, facts(out))
    assert text.startswith("HIGH db: Disk full\nhttps://cg.test/incidents/1\n" + HOSTILE["description"])
    assert "Labels: alertname=Disk*Full*, instance=<@U123> @everyone [a](https://evil.example)" in text
    assert "Runbook: https://wiki.example.com/runbooks/disk" in text and text.endswith(WHEN)
    bundle = outgoing("telegram", [one_page(**HOSTILE), one_page(**HOSTILE)], size=2)
    assert facts(bundle) == []  # a bundle lists its incidents, no one's facts
    huge = outgoing("telegram", [one_page(**{**HOSTILE, "description": "z" * 5000})])
    assert len(text_of(huge.items, 1, str, facts(huge)).encode("utf-16-le")) // 2 <= LIMIT


def test_web_push_tells_a_lone_pages_facts_in_its_body_within_one_push():
    from callgoose.channels.webpush import CHANNEL, MAX_PLAINTEXT

    doc = json.loads(CHANNEL.payload(outgoing("webpush", [one_page(**HOSTILE)])))
    assert doc["body"].splitlines()[:2] == ["db: Disk full", HOSTILE["description"]]
    assert "Runbook: https://wiki.example.com/runbooks/disk" in doc["body"] and WHEN in doc["body"]
    big = CHANNEL.payload(outgoing("webpush", [one_page(**{**HOSTILE, "description": "é" * 5000})]))
    assert len(big) <= MAX_PLAINTEXT
