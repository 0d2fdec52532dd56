"""Issue 19's access changes in the audit log: second factors (set up, removed, reset by an
admin), a token's scope, single sign-on's users and roles (acting as "single sign-on"), and each
break-glass sign-in, once both of its steps are passed."""

from __future__ import annotations

import json

import pyotp
from helpers import give_totp, next_code
from test_sso import PROXY, _from


def _entries(app, where: str = "1 = 1") -> list[tuple]:
    with app.app_context():
        from callgoose.extensions import db

        rows = db.session.execute(db.text(
            "SELECT actor_kind, actor_name, address, subject_kind, subject_name, action, changes "
            f"FROM audit_entries WHERE {where} ORDER BY id")).all()
    return [(*row[:6], row[6] if not isinstance(row[6], str) else json.loads(row[6])) for row in rows]


def test_second_factors_set_up_removed_and_reset_are_audited(dbapp, add_user, sign_in, now):
    """On ``dbapp``: two clients in one test must not share pytest-flask's request context."""
    import re

    app = dbapp
    add_user(app, "ana@example.com", admin=False)
    add_user(app, "boss@example.com")
    client = app.test_client()
    sign_in(client, "ana@example.com", "correct horse")
    assert client.post("/settings/second-factor/totp/start").status_code == 302
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>',
                       client.get("/settings/second-factor").get_data(as_text=True)).group(1)
    assert client.post("/settings/second-factor/totp/confirm",
                       data={"code": pyotp.TOTP(secret).at(int(now.value))}).status_code == 200
    (entry,) = _entries(app, "subject_kind = 'user' AND action = 'changed'")
    assert entry[:2] == ("user", "ana@example.com") and entry[3:6] == ("user", "ana@example.com", "changed")
    assert entry[6] == [{"path": ["second_factors", "authenticator_app"], "old": False, "new": True}]
    assert secret not in json.dumps(_entries(app))  # the app's key never reaches the log

    boss = app.test_client()
    sign_in(boss, "boss@example.com", "correct horse")
    ana_id = 1
    assert boss.post(f"/users/{ana_id}/second-factors/reset").status_code in (200, 302)
    last = _entries(app, "subject_kind = 'user'")[-1]
    assert last[1] == "boss@example.com" and last[6] == [
        {"path": ["second_factors", "authenticator_app"], "old": True, "new": False}]


def test_a_tokens_scope_is_in_its_entry(app, admin, setup):
    assert admin.post("/tokens", data={"name": "grafana", "service": "", "kind": "read"}).status_code == 303
    (entry,) = _entries(app, "subject_kind = 'token'")
    assert entry[5] == "added" and entry[6][0]["new"]["scope"] == "read"


def test_single_sign_on_users_and_roles_act_as_single_sign_on(make_app, database_url, tmp_path, add_user):
    app = make_app(database_url, tmp_path, OIDC_CREATE_USERS=True, **PROXY)
    add_user(app)
    client = _from(app, "10.0.0.9")
    assert client.get("/incidents", headers={"X-Remote-User": "new@example.com",
                                             "X-Remote-Groups": "ops"}).status_code == 200
    made = _entries(app, "subject_name = 'new@example.com'")
    assert [(e[0], e[2], e[5]) for e in made] == [("sso", "10.0.0.9", "added")]
    assert _from(app, "10.0.0.9").get("/incidents", headers={"X-Remote-User": "new@example.com",
                                                             "X-Remote-Groups": "audit"}).status_code == 200
    changed = _entries(app, "subject_name = 'new@example.com'")[-1]
    assert changed[0] == "sso" and changed[5] == "changed"
    assert changed[6] == [{"path": ["role"], "old": "admin", "new": "viewer"}]
    before = len(_entries(app))
    assert _from(app, "10.0.0.9").get("/incidents", headers={"X-Remote-User": "new@example.com",
                                                             "X-Remote-Groups": "audit"}).status_code == 200
    assert len(_entries(app)) == before  # a sign-in that changes nothing records nothing


def test_a_break_glass_sign_in_is_audited_once_both_steps_pass(make_app, database_url, tmp_path, add_user):
    app = make_app(database_url, tmp_path, **PROXY)
    add_user(app)
    add_user(app, "other@example.com")
    secret = give_totp(app, "admin@example.com")
    client = _from(app, "192.0.2.7")
    assert client.post("/login/local", data={"email": "admin@example.com", "password": "correct horse"}
                       ).status_code == 302
    assert _entries(app, "action = 'break glass'") == []
    assert client.post("/login/second-factor", data={"code": next_code(secret)}).status_code == 302
    (entry,) = _entries(app, "action = 'break glass'")
    assert entry[:6] == ("user", "admin@example.com", "192.0.2.7", "user", "admin@example.com", "break glass")
    page = _from(app, "192.0.2.7")
    assert page.post("/login/local", data={"email": "other@example.com", "password": "correct horse"}
                     ).status_code == 422  # no second factor: refused, nothing audited
    assert len(_entries(app, "action = 'break glass'")) == 1


def test_calendar_feeds_and_handoff_notices_are_audited_without_the_feeds_secret(app, admin, setup):
    created = admin.post("/calendar-feeds", data={})
    assert created.status_code == 302
    feed_id = setup.query("SELECT id FROM calendar_feeds")[0][0]
    assert admin.post(f"/calendar-feeds/{feed_id}/revoke").status_code == 302
    assert admin.post("/notifications/me/handoffs", data={"on": "0"}).status_code == 302
    changes = [e[6] for e in _entries(app, "subject_kind = 'user' AND action = 'changed'")]
    assert changes == [[{"path": ["calendar_feeds"], "old": [], "new": ["own shifts"]}],
                       [{"path": ["calendar_feeds"], "old": ["own shifts"], "new": []}],
                       [{"path": ["handoff_notices"], "old": True, "new": False}]]
    (prefix,) = setup.query("SELECT prefix FROM calendar_feeds")[0]
    assert prefix not in json.dumps(_entries(app))
