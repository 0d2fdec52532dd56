"""The audit log (issue 19, item 5): the acceptance path through the dashboard, revert, the hash
chain and verify-audit, GET /v1/audit, who acts, and concurrent writers on PostgreSQL."""

from __future__ import annotations

import html
import json
import threading

import pytest
from sqlalchemy import text

from callgoose import clock
from callgoose.extensions import db
from callgoose.services import audit


def _policy(client, setup, name="checkout", minutes=(5, 5), policy_id=None):
    admin = setup.query("SELECT id FROM users WHERE email = 'admin@example.com'")[0][0]
    data = {"name": name, "repeat": "0"}
    for i, m in enumerate(minutes):
        data[f"level{i}_users"], data[f"level{i}_after"] = [admin], str(m)
    response = client.post(f"/policies/{policy_id or 'new'}", data=data)
    assert response.status_code in (200, 302), response.get_data(as_text=True)
    return setup.query("SELECT id FROM escalation_policies WHERE name = :n", n=name)[0][0]


def _verify(app):
    result = app.test_cli_runner().invoke(args=["verify-audit"])
    return result.exit_code, result.output


def _page(client) -> str:
    return html.unescape(client.get("/audit").get_data(as_text=True))


def test_acceptance_policy_change_in_words_revert_and_verify(app, admin, setup):
    policy_id = _policy(admin, setup)
    _policy(admin, setup, minutes=(5, 10), policy_id=policy_id)
    page = _page(admin)
    assert "level 2 of policy checkout: escalate after 10 min, was 5" in page
    changed = setup.query("SELECT id, actor_kind, actor_name, address FROM audit_entries "
                          "WHERE subject_kind = 'policy' AND action = 'changed'")
    assert [tuple(r[1:]) for r in changed] == [("user", "admin@example.com", "127.0.0.1")]
    entry_id = changed[0][0]

    assert "Revert this change" in admin.get(f"/audit/{entry_id}/revert").get_data(as_text=True)
    assert admin.post(f"/audit/{entry_id}/revert").status_code == 302
    levels = setup.query("SELECT levels FROM escalation_policies WHERE id = :i", i=policy_id)[0][0]
    levels = levels if isinstance(levels, list) else json.loads(levels)
    assert [lv["escalate_after_minutes"] for lv in levels] == [5, 5]
    reverted = setup.query("SELECT reverts, action, actor_kind FROM audit_entries ORDER BY id DESC LIMIT 1")
    assert tuple(reverted[0]) == (entry_id, "reverted", "user")
    assert "level 2 of policy checkout: escalate after 5 min, was 10" in _page(admin)
    # reverting it again is refused clearly: the path holds 5 now, not the 10 it left
    admin.post(f"/audit/{entry_id}/revert")
    assert "changed again since: levels[1].escalate_after_minutes" in html.unescape(
        admin.get(f"/audit/{entry_id}/revert").get_data(as_text=True))

    count = setup.query("SELECT COUNT(*) FROM audit_entries")[0][0]  # the admin's own, the policy's three
    code, output = _verify(app)
    assert count == 4 and code == 0 and f"audit log intact: {count} entries" in output, output
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_entries SET actor_name = 'mallory@example.com' WHERE id = :i"),
                         {"i": entry_id})
    code, output = _verify(app)
    assert code != 0 and f"entry {entry_id}: edited" in output, output


def test_a_deleted_entry_is_a_gap(app, admin, setup):
    policy_id = _policy(admin, setup)
    for minutes in (6, 7, 8):
        _policy(admin, setup, minutes=(5, minutes), policy_id=policy_id)
    ids = [r[0] for r in setup.query("SELECT id FROM audit_entries ORDER BY id")]
    assert ids == [1, 2, 3, 4, 5] and _verify(app)[0] == 0
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_entries WHERE id = 3"))
    code, output = _verify(app)
    assert code != 0 and "entry 4: gap" in output, output
    with app.app_context():  # the newest one deleted too: the head remembers it was written
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_entries WHERE id = 5"))
    assert "entry 5: gap" in _verify(app)[1]


def test_pruning_keeps_the_chain_verifiable(app, admin, setup, monkeypatch):
    policy_id = _policy(admin, setup)
    start = clock.now()
    for i, minutes in enumerate((6, 7, 8)):
        monkeypatch.setattr(clock, "now", lambda i=i: start + (i + 1) * 400 * 86400)
        _policy(admin, setup, minutes=(5, minutes), policy_id=policy_id)
    with app.app_context():
        # the admin's entry, the policy's, and the changes 400 and 800 days in are older than 365 days
        assert audit.prune(db.engine, start + 4 * 400 * 86400 - 10, 365, batch=1) == 4
    code, output = _verify(app)
    assert code == 0 and "audit log intact: 1 entries" in output, output
    with app.app_context():  # the oldest kept entry is deleted by hand: not a prune, so a gap
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_entries WHERE id = 5"))
    assert _verify(app)[0] != 0


def test_get_v1_audit_global_token_only(app, admin, setup):
    _policy(admin, setup)
    token = setup.token("audit-reader")
    answer = admin.get("/v1/audit?subject=policy", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["total"] == 1 and body["page"] == 1
    everything = admin.get("/v1/audit", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert everything["total"] > 1 and everything["entries"][0]["id"] > everything["entries"][-1]["id"]
    first = body["entries"][0]
    assert (first["actor_kind"], first["subject_kind"], first["action"]) == ("user", "policy", "added")
    assert first["words"][0].startswith("policy checkout added")
    assert admin.get("/v1/audit?actor=token", headers={"Authorization": f"Bearer {token}"}).get_json()["total"] == 0
    assert admin.get("/v1/audit?since=yesterday",
                     headers={"Authorization": f"Bearer {token}"}).status_code == 400
    setup.services({"name": "svc"})
    scoped = setup.token("scoped", service="svc")
    assert admin.get("/v1/audit", headers={"Authorization": f"Bearer {scoped}"}).status_code == 403
    assert admin.get("/v1/audit").status_code == 401


def test_audit_page_is_for_admins(app, client, setup, add_user, sign_in):
    sign_in(client, *add_user(app, "viewer@example.com", role="viewer"))
    assert client.get("/audit").status_code == 403
    assert client.post("/audit/1/revert").status_code == 403


@pytest.mark.postgres
def test_two_writers_keep_the_chain_linear(pg_url, make_app, tmp_path, caplog):
    app = make_app(pg_url, tmp_path)
    from callgoose.store.transactions import write

    with app.app_context():  # the head row, as the migration makes it (create_all does not)
        write(lambda: audit.record("policy", 0, "first", "added"))
    caplog.set_level("WARNING", logger="callgoose.store.transactions")
    errors = []

    def writer(n):
        try:
            with app.app_context():
                for i in range(15):
                    db.session.rollback()
                    write(lambda: audit.record("policy", n, f"p{n}", "changed", [{"path": ["i"], "new": i}]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=writer, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with app.app_context():
        count, faults = audit.verify(db.engine)
    assert (count, faults) == (31, [])
    # the head's lock made the second writer wait, not collide on an id and retry
    assert [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()] == []



def test_a_service_settings_change_reverts_and_a_secret_change_refuses(app, admin, setup):
    admin.post("/services", data={"name": "checkout"})
    service_id = setup.query("SELECT id FROM services WHERE name = 'checkout'")[0][0]
    admin.post(f"/services/{service_id}/settings", data={"enabled": "", "window": "300"})
    entry_id = setup.query("SELECT MAX(id) FROM audit_entries WHERE subject_kind = 'service'")[0][0]
    assert setup.query("SELECT enabled FROM services WHERE id = :i", i=service_id)[0][0] in (False, 0)
    assert admin.post(f"/audit/{entry_id}/revert").status_code == 302
    assert setup.query("SELECT enabled FROM services WHERE id = :i", i=service_id)[0][0] in (True, 1)
    assert setup.query("SELECT reverts FROM audit_entries ORDER BY id DESC LIMIT 1")[0][0] == entry_id
    admin.post(f"/services/{service_id}/webhooks", data={"url": "https://hooks.example.com/x",
                                                          "secret": "s3cret-value-0123456789",
                                                          "events": ["incident.triggered"]})
    hook = setup.query("SELECT MAX(id) FROM audit_entries")[0][0]
    page = html.unescape(admin.get(f"/audit/{hook}/revert").get_data(as_text=True))
    assert "cannot be reverted" in page  # a service's paging part is recorded, not reverted
    assert admin.post(f"/audit/{hook}/revert").status_code == 302
    assert setup.query("SELECT COUNT(*) FROM service_webhooks")[0][0] == 1


def test_an_override_reverts_through_the_schedules_own_save(app, admin, setup):
    from callgoose.services import schedules

    doc = {"name": "rota", "time_zone": "UTC", "layers": [
        {"name": "weekly", "users": ["admin@example.com"], "start": "2026-10-05T09:00",
         "shift": {"unit": "weeks", "count": 1}}], "overrides": []}
    with app.app_context():
        schedule_id = schedules.save_document(None, json.dumps(doc), clock.now())
        schedules.add_override(schedule_id, 1, "2027-01-01 09:00", "2027-01-02 09:00", lambda zone: zone, clock.now())
    entry = setup.query("SELECT MAX(id) FROM audit_entries WHERE subject_kind = 'schedule'")[0][0]
    assert setup.query("SELECT action FROM audit_entries WHERE id = :i", i=entry)[0][0] == "changed"
    assert 'schedule rota: <code>overrides</code> <code>[{"end": "2027-01-02T09:00:00.000000Z"' in _page(admin)  # data in code
    assert setup.query("SELECT COUNT(*) FROM schedule_overrides")[0][0] == 1
    assert admin.post(f"/audit/{entry}/revert").status_code == 302
    assert setup.query("SELECT COUNT(*) FROM schedule_overrides")[0][0] == 0
    assert setup.query("SELECT reverts FROM audit_entries ORDER BY id DESC LIMIT 1")[0][0] == entry
