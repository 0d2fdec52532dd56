"""Issue 20, item 5: an incident's review, through real parts (a mail page through the worker to a
local SMTP server, its acknowledge link, the dashboard, the JSON API), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import time

from helpers import ALERTMANAGER, firing, post
from receivers import links_in, text_of

from callgoose import clock
from callgoose.extensions import db
from callgoose.jobs import deliver, escalate
from callgoose.services.catalog import find_service, import_config, start_maintenance
from callgoose.store.transactions import write

BASE = "http://callgoose.test"
HOSTILE = "[x](https://evil) <script>alert(1)</script>"
OTHER = {**ALERTMANAGER, "name": "other-api",  # its rule never holds for these calls
         "trigger": [{**ALERTMANAGER["trigger"][0], "conditions": [{"json_key": "status", "contains": ["never"]}]}]}


def configure(app):
    doc = {"users": [{"email": "ana@example.com", "name": "Ana", "contact_methods": [
                         {"name": "mail", "type": "email", "address": "ana@example.com"}]}],
           "escalation_policies": [{"name": "checkout", "levels": [
               {"escalate_after_minutes": 5, "targets": [{"user": "ana@example.com"}]}]}],
           "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}, OTHER]}
    with app.app_context():
        import_config(doc, clock.now())
        # Maintenance for staging only: in force when the incident opens, but not for its call.
        write(lambda: start_maintenance(find_service("checkout-api"), [["staging"]], None, clock.now()))


def run_jobs(app, now: float) -> None:
    with app.app_context():
        escalate.run(db.engine, app.config, now)
        deliver.run(db.engine, app.config, now)


def paged_incident(app, setup, smtp, add_user, sign_in):
    """Opened by a call, repeated, paged by mail, acknowledged from the mail's link, commented and
    resolved on the dashboard: (incident id, the admin's client, the global token)."""
    configure(app)
    token = setup.token()
    caller = app.test_client()
    assert post(caller, token, firing("g1", HOSTILE)).status_code == 201
    assert post(caller, token, firing("g1", HOSTILE)).status_code == 208  # a replay (S27)
    assert post(caller, token, firing("g1", "CPU higher")).status_code == 208  # a duplicate (S26)
    run_jobs(app, time.time())  # after the answer: the page is due
    mail = smtp.mailbox.wait(1)[0]
    body = text_of(mail)
    ack = next(link for link in links_in(body) if "/l/" in link and "Acknowledge" in body.split(link)[0][-20:])
    assert caller.post(ack.removeprefix(BASE)).status_code == 200
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    admin = app.test_client()
    sign_in(admin, *add_user(app))
    assert admin.post(f"/incidents/{incident_id}/comment", data={"text": "Rolled back [the deploy](https://x)"}
                      ).status_code == 302
    assert admin.post(f"/incidents/{incident_id}/resolve").status_code == 302
    return incident_id, admin, token


def facts_of(doc: dict, kind: str) -> list[dict]:
    return [f for f in doc["facts"] if f["kind"] == kind]


def test_the_written_section_lists_the_call_rule_repeats_pages_times_and_comments(paging_app, setup_for, smtp,
                                                                                 add_user, sign_in):
    setup = setup_for(paging_app)
    incident_id, admin, token = paged_incident(paging_app, setup, smtp, add_user, sign_in)
    doc = admin.get(f"/incidents/{incident_id}/review.json").get_json()
    (call,) = facts_of(doc, "call")
    opened_by = setup.query("SELECT created_by_call FROM incidents")[0][0]
    assert call["call"] == opened_by and call["token"] == "test"
    (rule,) = facts_of(doc, "rule")
    assert rule["rule"] == 1 and rule["mapping_value"] == "g1"
    assert "Trigger rule 1 held with mapping value “g1” and opened it." == rule["words"]
    (duplicates,) = facts_of(doc, "duplicates")
    assert duplicates["count"] == 1
    (replays,) = facts_of(doc, "replays")
    assert replays["count"] == 1 and len(replays["times"]) == 1
    (maintenance,) = facts_of(doc, "maintenance")
    assert maintenance["tags"] == [["staging"]] and "did not cover this call" in maintenance["words"]
    (page,) = facts_of(doc, "page")
    sent = setup.query("SELECT sent_at FROM notifications WHERE kind = 'page'")[0][0]
    assert page["person"] == "Ana" and page["channel"] == "email" and page["status"] == "sent"
    assert page["sent_at"] is not None and page["sent_at"].startswith(str(sent)[:19].replace(" ", "T"))
    assert page["delivered"] is None and "no delivery report" in page["words"]
    assert page["acted"]["action"] == "acknowledged" and page["acted"]["by"] == "ana@example.com (mail link)"
    times = {f["measure"]: f for f in facts_of(doc, "time")}
    assert set(times) == {"first_page", "acknowledge", "resolve"}
    assert 0 <= times["first_page"]["seconds"] <= times["acknowledge"]["seconds"] <= times["resolve"]["seconds"]
    assert times["first_page"].get("target_seconds") is None  # no target for the first page
    assert [times[m]["within_target"] for m in ("acknowledge", "resolve")] == [True, True]  # P2's 30 and 480 min
    (comment,) = facts_of(doc, "comment")
    assert comment["text"] == "Rolled back [the deploy](https://x)" and comment["by"] == "admin@example.com"
    page_html = admin.get(f"/incidents/{incident_id}/review").get_data(as_text=True)
    assert "Ana by email (level 1)" in page_html and "<script>alert" not in page_html
    assert f'href="/incidents/{incident_id}/review"' in admin.get(f"/incidents/{incident_id}").get_data(as_text=True)


def test_markdown_has_every_page_and_escapes_what_senders_and_people_wrote(paging_app, setup_for, smtp, add_user,
                                                                           sign_in):
    setup = setup_for(paging_app)
    incident_id, admin, _ = paged_incident(paging_app, setup, smtp, add_user, sign_in)
    answer = admin.get(f"/incidents/{incident_id}/review.md")
    assert answer.status_code == 200 and answer.mimetype == "text/markdown"
    assert f'filename="incident-{incident_id}-review.md"' in answer.headers["Content-Disposition"]
    text = answer.get_data(as_text=True)
    assert text.count("Ana by email (level 1)") == 1  # the one page
    assert "mail link" in text and "acknowledged at" in text
    for hostile in ("[x](https://evil)", "<script>", "https://evil", "[the deploy]", "https://x"):
        assert hostile not in text, hostile
    assert not re.search(r"(?<!\\)[\[\]]", text.split("## Follow-ups")[1].replace("- [ ]", ""))  # only escaped
    assert r"\[x\](https\://evil) &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "Trigger rule 1 held" in text and "1 duplicate suppressed" in text


def test_json_export_matches_the_api_and_a_service_token_reaches_only_its_service(paging_app, setup_for, smtp,
                                                                                  add_user, sign_in):
    setup = setup_for(paging_app)
    incident_id, admin, token = paged_incident(paging_app, setup, smtp, add_user, sign_in)
    exported = admin.get(f"/incidents/{incident_id}/review.json")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    client = paging_app.test_client()
    api = client.get(f"/v1/incidents/{incident_id}/review", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.get_json() == json.loads(exported.get_data(as_text=True))
    own = setup.token("own", service="checkout-api")
    assert client.get(f"/v1/incidents/{incident_id}/review",
                      headers={"Authorization": f"Bearer {own}"}).status_code == 200
    other = setup.token("other", service="other-api")
    refused = client.get(f"/v1/incidents/{incident_id}/review", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 404 and refused.get_json()["error"] == "not_found"
    assert client.get(f"/v1/incidents/{incident_id}/review").status_code == 401
    # Measured against the incident's priority (a high-urgency rule's P2: 30 and 480 minutes).
    times = {f["measure"]: f for f in facts_of(api.get_json(), "time") if "measure" in f}
    assert (times["acknowledge"]["target_seconds"], times["acknowledge"]["within_target"]) == (1800, True)
    assert (times["resolve"]["target_seconds"], times["resolve"]["within_target"]) == (28800, True)
    assert "within the target of 30 min" in admin.get(f"/incidents/{incident_id}/review").get_data(as_text=True)


def test_follow_ups_with_owner_and_link_are_saved_audited_and_a_bad_link_is_refused(app, admin, setup, add_user):
    setup.services(ALERTMANAGER)
    token = setup.token()
    assert post(app.test_client(), token, firing("g1")).status_code == 201
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    add_user(app, "bo@example.com", admin=False)
    bo = setup.query("SELECT id FROM users WHERE email = 'bo@example.com'")[0][0]
    form = {"summary": "Disk full", "root_cause": "Logs not rotated", "rows": "2",
            "text-0": "Rotate logs", "owner-0": str(bo), "link-0": "https://tickets.example/42", "done-0": "on",
            "text-1": "", "owner-1": "", "link-1": ""}
    saved = admin.post(f"/incidents/{incident_id}/review", data=form)
    assert saved.status_code == 303
    doc = json.loads(admin.get(f"/incidents/{incident_id}/review.json").get_data(as_text=True))
    assert doc["summary"] == "Disk full" and doc["root_cause"] == "Logs not rotated"
    assert doc["follow_ups"] == [{"text": "Rotate logs", "owner_id": bo, "owner": "bo@example.com",
                                  "link": "https://tickets.example/42", "done": True}]
    assert doc["updated_by"] == "admin@example.com" and doc["updated_at"] is not None
    page = admin.get(f"/incidents/{incident_id}/review").get_data(as_text=True)
    assert "Last changed by admin@example.com" in page

    bad = admin.post(f"/incidents/{incident_id}/review", data={**form, "link-0": "javascript:alert(1)"})
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert "follow-up 1: a link must be an http:// or https:// address" in body
    assert "javascript:alert(1)" in body  # what was typed comes back
    assert admin.post(f"/incidents/{incident_id}/review", data={**form, "owner-0": "99999"}).status_code == 422
    db.session.expire_all()
    assert setup.query("SELECT summary FROM incident_reviews")[0][0] == "Disk full"

    admin.post(f"/incidents/{incident_id}/review", data={**form, "done-0": ""})
    entries = setup.query("SELECT action, actor_name, changes FROM audit_entries "
                          "WHERE subject_kind = 'incident review' ORDER BY id")
    assert [(a, n) for a, n, _ in entries] == [("added", "admin@example.com"), ("changed", "admin@example.com")]
    last = entries[1][2] if isinstance(entries[1][2], list) else json.loads(entries[1][2])
    assert last == [{"path": ["follow_ups", 0, "done"], "old": True, "new": False}]
    assert admin.post("/incidents/99999/review", data=form).status_code == 404


def test_a_viewer_reads_the_review_but_cannot_save_it(app, client, setup, add_user, sign_in):
    setup.services(ALERTMANAGER)
    assert post(app.test_client(), setup.token(), firing("g1")).status_code == 201
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    sign_in(client, *add_user(app, "vi@example.com", admin=False, role="viewer"))
    page = client.get(f"/incidents/{incident_id}/review")
    assert page.status_code == 200 and b"What Callgoose knows" in page.data and b"<textarea" not in page.data
    assert client.get(f"/incidents/{incident_id}/review.md").status_code == 200
    assert client.post(f"/incidents/{incident_id}/review", data={"summary": "x", "rows": "0"}).status_code == 403
    assert setup.query("SELECT count(*) FROM incident_reviews")[0][0] == 0
