"""Issue 19, item 3: single sign-on through a real OpenID provider (``oidc-provider`` under
Node.js, tests/oidc): discovery, PKCE, the code flow, the ID token's checks, roles from a
groups claim, OIDC_CREATE_USERS, and break glass while the provider is down."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import ALERTMANAGER, firing, give_totp, next_code, post, run_jobs
from oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from receivers import text_of

from callgoose import clock
from callgoose.engine.signing import make_link
from callgoose.extensions import db
from callgoose.services import oidc
from callgoose.services.users import create_user

pytestmark = pytest.mark.slow
BASE = "http://callgoose.test"
ACCOUNTS = {
    "ana": {"email": "ana@example.com", "email_verified": True, "groups": ["staff", "callgoose-admins"]},
    "ben": {"email": "Ben@Example.com", "email_verified": True, "groups": ["staff"]},
    "val": {"email": "val@example.com", "email_verified": True, "groups": ["auditors"]},
    "eve": {"email": "eve@example.com", "email_verified": False, "groups": ["callgoose-admins"]},
    "carl": {"email": "carl.new@example.com", "email_verified": True, "groups": []},
}


@pytest.fixture
def provider(tmp_path):
    started = Provider(BASE + "/login/oidc/callback", ACCOUNTS, tmp_path / "oidc.log")
    yield started
    started.stop()
    oidc.forget()


@pytest.fixture
def sso_app(make_app, database_url, tmp_path, smtp, provider):
    """``sso_app(**config)``: an app signing in through ``provider``, mailing through ``smtp``."""
    def make(**config):
        settings = {"BASE_URL": BASE, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port,
                    "MAIL_FROM": "pager@callgoose.test",
                    "OIDC_ISSUER": provider.issuer, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                    "OIDC_ROLES_CLAIM": "groups", "OIDC_ADMIN_VALUES": "callgoose-admins, ops-leads",
                    "OIDC_VIEWER_VALUES": "auditors", **config}
        return make_app(database_url, tmp_path, **settings)
    return make


def _user(app, email, role="admin", password="correct horse"):
    with app.app_context():
        create_user(email, password, role=role, now=clock.now())
        db.session.commit()


def _rows(app, sql):
    with app.app_context():
        return [tuple(row) for row in db.session.execute(db.text(sql)).all()]


def _through_provider(app, provider, login):
    """Click "Sign in with ...", sign in at the provider, come back: the callback's answer."""
    client = app.test_client()
    start = client.get("/login/oidc")
    assert start.status_code == 302, start.get_data(as_text=True)
    back = provider.sign_in(start.headers["Location"], login)
    return client, client.get(back.removeprefix(BASE))


def test_the_code_flow_with_pkce_signs_in_and_makes_users_with_roles_from_the_groups_claim(sso_app, provider):
    app = sso_app(OIDC_CREATE_USERS=True, OIDC_PROVIDER_NAME="Example SSO")
    _user(app, "admin@example.com")
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "Sign in with Example SSO" in page and 'name="password"' in page

    client = app.test_client()
    start = client.get("/login/oidc?next=/schedules")
    location = start.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(provider.issuer + "/auth?")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["client_id"] == [CLIENT_ID] and query["scope"] == ["openid email profile"]
    assert query["redirect_uri"] == [BASE + "/login/oidc/callback"] and query["state"][0] and query["nonce"][0]
    back = provider.sign_in(location, "ana")
    done = client.get(back.removeprefix(BASE))
    assert (done.status_code, done.headers["Location"]) == (302, "/schedules")
    assert client.get("/incidents").status_code == 200
    stray = app.test_client()
    assert stray.get("/login/oidc").status_code == 302
    odd = stray.get("/login/oidc/callback?state=%C3%A9%00&code=x")  # a sign-in under way, an odd answer
    assert odd.status_code == 502 and "not started here" in odd.get_data(as_text=True)
    # The same answer again is refused: its state was used (no replay).
    again = client.get(back.removeprefix(BASE))
    assert again.status_code == 502 and "not started here" in again.get_data(as_text=True)

    for login in ("ben", "val"):
        signed_in, answer = _through_provider(app, provider, login)
        assert answer.status_code == 302 and signed_in.get("/incidents").status_code == 200
    assert sorted(_rows(app, "SELECT email, role, password_hash, sso_subject FROM users")) == [
        ("admin@example.com", "admin", _rows(app, "SELECT password_hash FROM users WHERE id = 1")[0][0], None),
        ("ana@example.com", "admin", "", f"{provider.issuer} ana"),
        ("ben@example.com", "responder", "", f"{provider.issuer} ben"),
        ("val@example.com", "viewer", "", f"{provider.issuer} val")]
    # Users made by single sign-on are reached by mail like any other.
    assert ("ana@example.com",) in _rows(app, "SELECT address FROM contact_methods")


def test_roles_follow_the_claim_at_every_sign_in_but_the_last_admin_stays_one(sso_app, provider):
    app = sso_app()
    _user(app, "ben@example.com", role="admin")  # the only admin; the provider says: staff
    _user(app, "ana@example.com", role="responder")  # the provider says: callgoose-admins
    client, answer = _through_provider(app, provider, "ben")
    assert answer.status_code == 302
    assert _rows(app, "SELECT role FROM users WHERE email = 'ben@example.com'") == [("admin",)]
    _through_provider(app, provider, "ana")
    assert _rows(app, "SELECT role FROM users WHERE email = 'ana@example.com'") == [("admin",)]
    _through_provider(app, provider, "ben")  # now another admin exists: demoted as the IdP says
    assert _rows(app, "SELECT role FROM users WHERE email = 'ben@example.com'") == [("responder",)]


def test_unknown_and_unverified_addresses_are_refused_and_nothing_is_made(sso_app, provider):
    app = sso_app()  # OIDC_CREATE_USERS is false by default
    _user(app, "admin@example.com")
    _user(app, "eve@example.com", role="responder")
    client, answer = _through_provider(app, provider, "ben")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 403 and "no user here has the address ben@example.com" in page
    assert client.get("/incidents").status_code == 302  # not signed in
    client, answer = _through_provider(app, provider, "eve")
    assert answer.status_code == 403 and "has not verified eve@example.com" in answer.get_data(as_text=True)
    assert client.get("/incidents").status_code == 302
    assert _rows(app, "SELECT email, role, sso_subject FROM users ORDER BY id") == [
        ("admin@example.com", "admin", None), ("eve@example.com", "responder", None)]


def test_the_subject_finds_a_user_whose_address_changed_at_the_provider(sso_app, provider):
    app = sso_app()
    _user(app, "carl@example.com", role="responder")
    with app.app_context():
        db.session.execute(db.text("UPDATE users SET sso_subject = :s"), {"s": f"{provider.issuer} carl"})
        db.session.commit()
    client, answer = _through_provider(app, provider, "carl")
    assert answer.status_code == 302 and client.get("/incidents").status_code == 200
    assert _rows(app, "SELECT email FROM users") == [("carl@example.com",)]


def test_a_provider_that_names_another_issuer_is_refused(sso_app, provider):
    app = sso_app(OIDC_ISSUER=provider.issuer.replace("127.0.0.1", "localhost"))
    _user(app, "admin@example.com")
    refused = app.test_client().get("/login/oidc")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 503 and f"calls itself &#39;{provider.issuer}&#39;" in page


def test_with_the_provider_down_sessions_stay_break_glass_lets_admins_in_and_tells_the_others(
        sso_app, provider, smtp, setup_for, monkeypatch):
    app = sso_app(PASSWORD_SIGN_IN=False)
    _user(app, "admin@example.com")
    _user(app, "other@example.com")
    _user(app, "responder@example.com", role="responder")
    _user(app, "ana@example.com", role="responder")  # an admin by the groups claim once signed in
    open_session, answer = _through_provider(app, provider, "ana")
    assert answer.status_code == 302
    page = app.test_client().get("/login").get_data(as_text=True)
    assert 'name="password"' not in page and "/login/local" in page
    assert app.test_client().post("/login", data={"email": "admin@example.com",
                                                  "password": "correct horse"}).status_code == 403

    provider.stop()
    monkeypatch.setattr(oidc, "RECHECK_SECONDS", 0)  # as half a minute later: a click asks again
    assert open_session.get("/incidents").status_code == 200  # a session already open is not cut
    begun = time.monotonic()
    down = app.test_client().get("/login/oidc")
    assert down.status_code == 503 and time.monotonic() - begun < 5
    assert "identity provider did not answer" in down.get_data(as_text=True)
    assert "/login/local" in down.get_data(as_text=True)

    refused = app.test_client().post("/login/local", data={"email": "responder@example.com",
                                                           "password": "correct horse"})
    assert refused.status_code == 422 and b"not an admin" in refused.data
    wrong = app.test_client().post("/login/local", data={"email": "admin@example.com", "password": "wrong"})
    assert wrong.status_code == 422
    secret = give_totp(app, "admin@example.com")  # break glass asks for a second factor too
    glass = app.test_client()
    assert glass.post("/login/local", data={"email": "admin@example.com",
                                            "password": "correct horse"}).status_code == 302
    assert _rows(app, "SELECT count(*) FROM notifications WHERE kind = 'access'") == [(0,)]  # a password alone
    assert glass.post("/login/second-factor", data={"code": next_code(secret)}).status_code == 302
    assert _rows(app, "SELECT count(*) FROM notifications WHERE kind = 'access'") == [(2,)]
    assert glass.get("/incidents").status_code == 200
    run_jobs(app, time.time())
    mails = smtp.mailbox.wait(2)
    # The other admins are told (ana by the groups claim, "other" a local one), not the one who signed in.
    assert sorted(mail["To"] for mail in mails) == ["ana@example.com", "other@example.com"]
    assert mails[0]["Subject"] == "[Callgoose] Break-glass sign-in to Callgoose"
    assert "admin@example.com signed in with a password at /login/local" in text_of(mails[0])

    # A mailed link acts without any sign-in, passwords hidden and the provider down.
    setup = setup_for(app)
    setup.services(ALERTMANAGER)
    assert post(app.test_client(), setup.token(), firing("g1")).status_code == 201
    incident_id = _rows(app, "SELECT id FROM incidents")[0][0]
    acted = app.test_client().post(f"/l/{make_link('test', incident_id, 'acknowledge', None, time.time())}")
    assert acted.status_code == 200
    assert _rows(app, "SELECT status FROM incidents") == [("acknowledged",)]
