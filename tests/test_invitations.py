"""Issue 19, item 1: invitations and "Forgot password?" by a signed, single-use mailed link,
through the outbox and the worker to a real SMTP server on loopback."""

from __future__ import annotations

import re

from helpers import T0, run_jobs
from receivers import links_in, text_of

from callgoose import clock
from callgoose.extensions import db
from callgoose.services.catalog import import_config
from callgoose.services.users import create_user

BASE = "http://callgoose.test"


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def _link(mail, kind: str) -> str:
    found = [link for link in links_in(text_of(mail)) if f"/{kind}/" in link]
    assert len(found) == 1, text_of(mail)
    return found[0].removeprefix(BASE)


def _rows(app, sql):
    with app.app_context():
        return db.session.execute(db.text(sql)).all()


def _user(app, email, password="correct horse", admin=True):
    with app.app_context():
        create_user(email, password, role="admin" if admin else "responder", now=clock.now())
        db.session.commit()


def test_cli_invite_mails_a_link_that_sets_the_password_once_and_signs_in(paging_app, smtp, now):
    result = _cli(paging_app, "invite", "New@Example.com")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        "Invited new@example.com (new responder); the mail goes out with the worker."]
    assert smtp.mailbox.messages == []  # queued in the outbox, sent by the worker
    run_jobs(paging_app, T0 + 1)
    mail = smtp.mailbox.wait(1)[0]
    assert mail["To"] == "new@example.com" and mail["Subject"] == "[Callgoose] You are invited to Callgoose"
    path = _link(mail, "invite")
    # The link's text is not kept once it went.
    assert _rows(paging_app, "SELECT kind, status, body FROM notifications") == [("access", "sent", None)]

    client = paging_app.test_client()
    page = client.get(path)
    assert page.status_code == 200 and b"new@example.com" in page.data
    done = client.post(path, data={"password": "a long secret", "confirm": "a long secret",
                                   "time_zone": "Europe/Berlin", "language": "de",
                                   "method_channel": "sms", "method_address": "+15551234567"})
    assert done.status_code == 302, done.get_data(as_text=True)
    assert client.get("/incidents").status_code == 200  # signed in
    assert _rows(paging_app, "SELECT time_zone, language, password_hash != '' FROM users") == [
        ("Europe/Berlin", "de", True)]
    assert sorted(_rows(paging_app, "SELECT channel, address FROM contact_methods")) == [
        ("email", "new@example.com"), ("sms", "+15551234567")]
    again = paging_app.test_client()
    assert again.get(path).status_code == 410  # once
    used = again.post(path, data={"password": "another secret", "confirm": "another secret"})
    assert used.status_code == 410 and b"used already" in used.data and b'href="/login"' in used.data
    assert again.post("/login", data={"email": "new@example.com", "password": "a long secret"}).status_code == 302


def test_an_invitation_expires_after_72_hours_and_a_tampered_one_fails(paging_app, smtp, now):
    assert _cli(paging_app, "invite", "late@example.com", "--admin").exit_code == 0
    run_jobs(paging_app, T0 + 1)
    path = _link(smtp.mailbox.wait(1)[0], "invite")
    client = paging_app.test_client()
    body, _, mac = path.removeprefix("/invite/").partition(".")
    tampered = f"/invite/{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}"
    assert client.get(tampered).status_code == 410
    assert client.get(path.replace("/invite/", "/reset/")).status_code == 410  # another purpose
    now.set(72 * 3600 - 60)
    assert client.get(path).status_code == 200
    now.set(72 * 3600 + 60)
    expired = client.post(path, data={"password": "a long secret", "confirm": "a long secret"})
    assert expired.status_code == 410 and b"expired" in expired.data
    assert _rows(paging_app, "SELECT password_hash, role = 'admin' FROM users") == [("", True)]


def test_the_cli_refuses_a_user_who_has_a_password(paging_app, now):
    _user(paging_app, "ana@example.com")
    result = _cli(paging_app, "invite", "ana@example.com")
    assert result.exit_code != 0 and "ana@example.com has a password already" in result.output
    assert _cli(paging_app, "invite", "not an address").exit_code != 0
    assert _rows(paging_app, "SELECT count(*) FROM notifications") == [(0,)]
    viewer = _cli(paging_app, "invite", "val@example.com", "--viewer")  # issue 19's roles: a viewer too
    assert viewer.exit_code == 0 and "(new viewer)" in viewer.output, viewer.output
    assert _rows(paging_app, "SELECT role FROM users WHERE email = 'val@example.com'") == [("viewer",)]


def same_page(a: bytes, b: bytes) -> bool:
    """Two answers alike but for their CSRF tokens (signed with the second they were made in)."""
    def masked(page: bytes) -> bytes:
        page = re.sub(rb'("X-CSRFToken": ")[^"]+', rb"\1CSRF", page)
        return re.sub(rb'(name="csrf_token"[^>]*value=")[^"]+', rb"\1CSRF", page)
    return masked(a) == masked(b)


def test_forgot_password_answers_alike_and_mails_only_a_known_address(paging_app, smtp, now):
    _user(paging_app, "ana@example.com")
    client = paging_app.test_client()
    known = client.post("/forgot", data={"email": "ana@example.com"})
    unknown = client.post("/forgot", data={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert same_page(known.data, unknown.data) and b"If an account uses this address" in known.data
    run_jobs(paging_app, T0 + 1)
    mails = smtp.mailbox.wait(1)
    assert [m["To"] for m in mails] == ["ana@example.com"]
    assert _rows(paging_app, "SELECT target FROM notifications") == [("ana@example.com",)]
    # Three an hour per address, known or not: the fourth asks mail nothing, and says the same.
    for _ in range(3):
        assert same_page(client.post("/forgot", data={"email": "ana@example.com"}).data, known.data)
    assert _rows(paging_app, "SELECT count(*) FROM notifications") == [(3,)]


def test_a_reset_ends_every_session_and_its_link_works_once_for_an_hour(paging_app, smtp, now):
    _user(paging_app, "ana@example.com")
    other = paging_app.test_client()
    assert other.post("/login", data={"email": "ana@example.com", "password": "correct horse"}).status_code == 302
    assert other.get("/incidents").status_code == 200
    client = paging_app.test_client()
    client.post("/forgot", data={"email": "ana@example.com"})
    run_jobs(paging_app, T0 + 1)
    path = _link(smtp.mailbox.wait(1)[0], "reset")
    assert client.get(path).status_code == 200
    done = client.post(path, data={"password": "a new secret", "confirm": "a new secret"})
    assert done.status_code == 302 and client.get("/incidents").status_code == 200
    assert other.get("/incidents").status_code == 302 and "/login" in other.get("/incidents").headers["Location"]
    assert client.post(path, data={"password": "third secret", "confirm": "third secret"}).status_code == 410
    assert other.post("/login", data={"email": "ana@example.com", "password": "a new secret"}).status_code == 302

    client.post("/forgot", data={"email": "ana@example.com"})
    run_jobs(paging_app, T0 + 2)
    late = _link(smtp.mailbox.wait(2)[1], "reset")
    now.set(3600 + 60)
    assert b"expired" in client.get(late).data and client.get(late).status_code == 410


def test_a_reset_link_dies_when_the_password_is_set_another_way(paging_app, smtp, admin, now):
    _user(paging_app, "bo@example.com", admin=False)
    paging_app.test_client().post("/forgot", data={"email": "bo@example.com"})
    run_jobs(paging_app, T0 + 1)
    path = _link(smtp.mailbox.wait(1)[0], "reset")
    user_id = _rows(paging_app, "SELECT id FROM users WHERE email = 'bo@example.com'")[0][0]
    assert admin.post(f"/users/{user_id}/password", data={"password": "admin chose"}).status_code == 302
    assert paging_app.test_client().get(path).status_code == 410


def test_the_users_page_invites_and_sends_invitations_to_imported_users(paging_app, smtp, make_app, now):
    _user(paging_app, "admin@example.com")
    client = paging_app.test_client()
    client.post("/login", data={"email": "admin@example.com", "password": "correct horse"})
    page = client.get("/users")
    assert b"Invite someone" in page.data and b"Send invitations" not in page.data
    invited = client.post("/users/invite", data={"invite-email": "cy@example.com", "invite-role": "admin"})
    assert invited.status_code == 302
    assert _rows(paging_app, "SELECT role = 'admin', invited_at IS NOT NULL FROM users WHERE email = 'cy@example.com'") \
        == [(True, True)]
    refused = client.post("/users/invite", data={"invite-email": "admin@example.com", "invite-role": "responder"})
    assert refused.status_code == 422 and b"has a password already" in refused.data
    # Users made by an import have no password: one button invites them all.
    with paging_app.app_context():
        import_config({"services": [], "users": [{"email": "dee@example.com"},
                                                 {"email": "eve@example.com", "role": "admin"}]}, clock.now())
    page = client.get("/users")
    assert b"Send invitations" in page.data and b"Send invitation again" in page.data
    assert client.post("/users/invite-all").status_code == 302
    run_jobs(paging_app, T0 + 1)
    mails = smtp.mailbox.wait(4)
    assert sorted(m["To"] for m in mails) == ["cy@example.com", "cy@example.com", "dee@example.com",
                                              "eve@example.com"]
    cy = _rows(paging_app, "SELECT id FROM users WHERE email = 'cy@example.com'")[0][0]
    assert client.post(f"/users/{cy}/invite").status_code == 302
    assert _rows(paging_app, "SELECT count(*) FROM notifications WHERE target = 'cy@example.com'") \
        == [(3,)]
