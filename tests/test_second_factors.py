"""Issue 19, item 2: second factors. An authenticator app (TOTP, codes computed here with pyotp),
recovery codes, the sign-in's second step, REQUIRE_SECOND_FACTOR, an admin's reset, and the
passkey routes' refusals (passkeys themselves: tests/test_browser_passkeys.py, in Chromium)."""

from __future__ import annotations

import re

import pyotp
import pytest
from helpers import T0, run_jobs
from receivers import links_in, text_of

from callgoose import create_app
from callgoose.extensions import db
from callgoose.services.users import MAX_FAILURES

EMAIL, PASSWORD = "ana@example.com", "correct horse"


def _rows(app, sql):
    with app.app_context():
        return db.session.execute(db.text(sql)).all()


def _code(secret: str, at: float) -> str:
    return pyotp.TOTP(secret).at(int(at))


def _enrol(client, at: float = T0) -> tuple[str, list[str]]:
    """Turn on an authenticator app from /settings; its secret and recovery codes."""
    assert client.post("/settings/second-factor/totp/start").status_code == 302
    page = client.get("/settings/second-factor").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    done = client.post("/settings/second-factor/totp/confirm", data={"code": _code(secret, at)})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = re.search(r'<pre id="recovery-codes">([^<]+)</pre>', done.get_data(as_text=True)).group(1).split()
    return secret, codes


@pytest.fixture
def ana(dbapp, add_user, sign_in, now):
    """A responder signed in, with an authenticator app; (client, secret, recovery codes). On
    ``dbapp``: several clients in one test must not share pytest-flask's request context."""
    add_user(dbapp, EMAIL, admin=False)
    client = dbapp.test_client()
    sign_in(client, EMAIL, PASSWORD)
    secret, codes = _enrol(client)
    client.post("/logout")
    return client, secret, codes


def _password(client, email=EMAIL):
    return client.post("/login", data={"email": email, "password": PASSWORD})


def test_enrolment_shows_an_inline_svg_qr_code_and_the_key_and_needs_a_valid_code(app, client, add_user, sign_in,
                                                                                    now):
    add_user(app, EMAIL, admin=False)
    sign_in(client, EMAIL, PASSWORD)
    client.post("/settings/second-factor/totp/start")
    page = client.get("/settings/second-factor")
    html = page.get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', html).group(1)
    assert "<svg" in html and "<img" not in html and " style=" not in html.split("<svg", 1)[1].split("</svg>")[0]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    wrong = client.post("/settings/second-factor/totp/confirm", data={"code": _code(secret, T0 + 300)})
    assert wrong.status_code == 422 and _rows(app, "SELECT totp_secret FROM users") == [(None,)]
    done = client.post("/settings/second-factor/totp/confirm", data={"code": _code(secret, T0)})
    codes = re.search(r'<pre id="recovery-codes">([^<]+)</pre>', done.get_data(as_text=True)).group(1).split()
    assert len(set(codes)) == 10
    assert _rows(app, "SELECT totp_secret FROM users") == [(secret,)]
    stored = [digest for (digest,) in _rows(app, "SELECT digest FROM recovery_codes")]
    assert len(stored) == 10 and not set(stored) & {c.replace("-", "") for c in codes}  # only digests
    assert 'id="recovery-codes"' not in client.get("/settings/second-factor").get_data(as_text=True)  # shown once


def test_the_password_alone_starts_no_session_and_no_url_skips_the_second_step(ana, now):
    client, secret, _ = ana
    first = _password(client)
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/second-factor")
    for path in ("/incidents", "/settings", "/settings/second-factor", "/users"):
        assert "/login" in client.get(path).headers.get("Location", ""), path
    assert client.post("/settings/second-factor/totp/remove", data={"proof": PASSWORD}).status_code == 302
    assert client.get("/login/second-factor").status_code == 200
    done = client.post("/login/second-factor", data={"code": _code(secret, T0 + 30)})
    assert done.status_code == 302 and done.headers["Location"] == "/incidents"
    assert client.get("/incidents").status_code == 200


def test_a_code_is_good_for_its_step_and_one_either_side_and_never_twice(ana, now, dbapp):
    client, secret, _ = ana
    now.set(600)
    _password(client)
    assert client.post("/login/second-factor", data={"code": _code(secret, T0 + 600 + 60)}).status_code == 422
    assert client.post("/login/second-factor", data={"code": _code(secret, T0 + 600 - 30)}).status_code == 302
    client.post("/logout")
    _password(client)  # the same code again, and the step before it: replays
    assert client.post("/login/second-factor", data={"code": _code(secret, T0 + 600 - 30)}).status_code == 422
    assert client.post("/login/second-factor", data={"code": _code(secret, T0 + 600 - 60)}).status_code == 422
    assert client.post("/login/second-factor", data={"code": _code(secret, T0 + 600)}).status_code == 302
    client.post("/logout")
    _password(client)  # within the same 30 s: the current step's code was used
    assert client.post("/login/second-factor", data={"code": _code(secret, T0 + 600)}).status_code == 422


def test_wrong_codes_count_toward_the_lockout(ana, now, dbapp):
    client, secret, _ = ana
    _password(client)
    for _ in range(MAX_FAILURES - 1):
        assert client.post("/login/second-factor", data={"code": "000000"}).status_code == 422
    locked = client.post("/login/second-factor", data={"code": "000000"})
    assert locked.status_code == 302 and locked.headers["Location"] == "/login"
    assert _rows(dbapp, "SELECT locked_until IS NOT NULL FROM users") == [(True,)]
    assert _password(client).status_code == 422  # the password is refused while locked, too
    assert client.post("/login/second-factor", data={"code": _code(secret, T0 + 30)}).status_code == 302
    assert client.get("/incidents").status_code == 302  # ... and so is the step: no pending sign-in


def test_recovery_codes_are_single_use_and_can_be_renewed(ana, now, dbapp):
    client, secret, codes = ana
    _password(client)
    assert client.post("/login/second-factor", data={"code": codes[0].upper()}).status_code == 302
    assert client.get("/settings/second-factor").get_data(as_text=True).count("Recovery codes left: 9") == 1
    client.post("/logout")
    _password(client)
    assert client.post("/login/second-factor", data={"code": codes[0]}).status_code == 422
    assert client.post("/login/second-factor", data={"code": codes[1]}).status_code == 302
    assert client.post("/settings/second-factor/recovery-codes", data={"proof": "wrong"}).status_code == 422
    renewed = client.post("/settings/second-factor/recovery-codes", data={"proof": PASSWORD})
    fresh = re.search(r'<pre id="recovery-codes">([^<]+)</pre>', renewed.get_data(as_text=True)).group(1).split()
    assert len(fresh) == 10 and _rows(dbapp, "SELECT count(*) FROM recovery_codes") == [(10,)]
    client.post("/logout")
    _password(client)
    assert client.post("/login/second-factor", data={"code": codes[2]}).status_code == 422  # the old ones are void
    assert client.post("/login/second-factor", data={"code": fresh[0]}).status_code == 302


def test_the_second_step_waits_five_minutes(ana, now):
    client, secret, _ = ana
    _password(client)
    now.set(301)
    late = client.post("/login/second-factor", data={"code": _code(secret, T0 + 301)})
    assert late.status_code == 302 and late.headers["Location"] == "/login"
    assert client.get("/incidents").status_code == 302


def test_removing_the_app_needs_a_proof_and_ends_the_other_sessions(ana, now, dbapp):
    client, secret, _ = ana
    other = dbapp.test_client()
    for browser, at in ((client, 30), (other, 60)):
        now.set(at)
        _password(browser)
        assert browser.post("/login/second-factor", data={"code": _code(secret, T0 + at)}).status_code == 302
    assert client.post("/settings/second-factor/totp/remove", data={"proof": "000000"}).status_code == 422
    assert other.get("/incidents").status_code == 200
    assert client.post("/settings/second-factor/totp/remove", data={"proof": PASSWORD}).status_code == 302
    assert _rows(dbapp, "SELECT totp_secret, (SELECT count(*) FROM recovery_codes) FROM users") == [(None, 0)]
    assert other.get("/incidents").status_code == 302 and client.get("/incidents").status_code == 200
    client.post("/logout")
    assert _password(client).headers["Location"] == "/incidents"  # the password alone again


def test_an_admin_resets_a_users_factors_from_the_users_page(ana, now, dbapp, add_user, sign_in):
    client, secret, _ = ana
    _password(client)
    assert client.post("/login/second-factor", data={"code": _code(secret, T0 + 30)}).status_code == 302
    boss = dbapp.test_client()
    sign_in(boss, *add_user(dbapp, "boss@example.com"))
    page = boss.get("/users").get_data(as_text=True)
    assert "Second factor" in page and "Remove every second factor of ana@example.com?" in page
    assert boss.post("/users/1/second-factors/reset").status_code == 302
    assert _rows(dbapp, "SELECT totp_secret FROM users WHERE id = 1") == [(None,)]
    assert client.get("/incidents").status_code == 302  # their sessions ended
    assert _password(client).headers["Location"] == "/incidents"


@pytest.mark.parametrize("requirement, role, enrols", [("all", "responder", True), ("admins", "admin", True),
                                                       ("admins", "responder", False)])
def test_require_second_factor_sends_a_covered_user_to_enrol_first(make_app, database_url, tmp_path, add_user,
                                                                   now, requirement, role, enrols):
    app = make_app(database_url, tmp_path, REQUIRE_SECOND_FACTOR=requirement)
    add_user(app, EMAIL, role=role)
    client = app.test_client()
    assert _password(client).status_code == 302
    if not enrols:
        assert client.get("/incidents").status_code == 200
        return
    for path in ("/incidents", "/settings", "/users", "/schedules"):
        assert client.get(path).headers.get("Location") == "/settings/second-factor", path
    assert client.get("/incidents", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/settings/second-factor"
    assert "this server requires one" in client.get("/settings/second-factor").get_data(as_text=True)
    _enrol(client)
    assert client.get("/incidents").status_code == 200


def test_require_second_factor_is_checked_at_start_and_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLGOOSE_INSTANCE_PATH", str(tmp_path))
    base = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", "SECRET_KEY": "test"}
    with pytest.raises(ValueError, match="REQUIRE_SECOND_FACTOR must be admins or all"):
        create_app({**base, "REQUIRE_SECOND_FACTOR": "everyone"})
    monkeypatch.setenv("REQUIRE_SECOND_FACTOR", "admins")
    assert create_app(base).config["REQUIRE_SECOND_FACTOR"] == "admins"
    assert create_app({**base, "REQUIRE_SECOND_FACTOR": ""}).config["REQUIRE_SECOND_FACTOR"] is None


def test_passkey_routes_refuse_what_is_not_a_passkey_answer(app, client, add_user, sign_in, now):
    assert client.post("/login/passkey/options").status_code == 400  # no CALLGOOSE_BASE_URL: a clear refusal
    assert "CALLGOOSE_BASE_URL" in client.post("/login/passkey/options").get_json()["error"]
    app.config["BASE_URL"] = "http://localhost:8000"
    options = client.post("/login/passkey/options").get_json()
    assert options["rpId"] == "localhost" and options["userVerification"] == "required"
    for body in (b"", b"[]", b'{"id": "nope"}', b'{"id": 5, "response": 7}', b"\xff" * 100):
        client.post("/login/passkey/options")
        refused = client.post("/login/passkey", data=body, content_type="application/json")
        assert refused.status_code == 400 and refused.get_json()["error"], body
    assert client.post("/login/passkey", json={"id": "x"}).status_code == 400  # the challenge was used
    with app.app_context():  # a known credential id, answered with junk of every shape
        db.session.execute(db.text("INSERT INTO users (email, password_hash, role, active, created_at, time_zone, "
                                   "handoff_notices, failed_logins) VALUES ('k@example.com', '', 'responder', "
                                   "true, '2027-01-15 08:00:00', 'UTC', true, 0)"))
        db.session.execute(db.text("INSERT INTO passkeys (user_id, credential_id, public_key, sign_count, name, "
                                   "created_at) VALUES (1, 'AAAA', :key, 0, 'k', '2027-01-15 08:00:00')"),
                           {"key": b"\xa1\x01\x02"})
        db.session.commit()
    for response in (7, [], {}, {"clientDataJSON": 7}, {"clientDataJSON": "eyJ9", "authenticatorData": "AAAA",
                                                        "signature": "AAAA", "userHandle": 5},
                     {"clientDataJSON": "e30", "authenticatorData": "A" * 60, "signature": "AAAA"}):
        client.post("/login/passkey/options")
        refused = client.post("/login/passkey", json={"id": "AAAA", "rawId": "AAAA", "type": "public-key",
                                                       "response": response})
        assert refused.status_code == 400 and refused.get_json()["error"], response
    assert client.get("/incidents").status_code == 302
    sign_in(client, *add_user(app, EMAIL, admin=False))
    assert client.post("/settings/second-factor/passkeys", json={"credential": {}}).status_code == 400
    for junk in ({"id": "AAAA", "response": {"clientDataJSON": "e30", "attestationObject": "oA"}}, [1], "x" * 70000):
        client.post("/settings/second-factor/passkeys/options")
        assert client.post("/settings/second-factor/passkeys", json={"credential": junk}).status_code == 400
    client.post("/settings/second-factor/passkeys/options")
    assert client.post("/settings/second-factor/passkeys", json={"credential": "garbage"}).status_code == 400
    assert _rows(app, "SELECT count(*) FROM passkeys") == [(1,)]  # the one inserted above
    app.config["BASE_URL"] = "http://192.168.1.5:8000"  # browsers refuse an IP address as a relying party
    assert "CALLGOOSE_BASE_URL" in client.get("/settings/second-factor").get_data(as_text=True)


def test_a_password_reset_keeps_the_second_factor(paging_app, smtp, now, add_user, sign_in):
    add_user(paging_app, EMAIL, admin=False)
    client = paging_app.test_client()
    sign_in(client, EMAIL, PASSWORD)
    secret, _ = _enrol(client)
    client.post("/logout")
    client.post("/forgot", data={"email": EMAIL})
    run_jobs(paging_app, T0 + 1)
    path = [link for link in links_in(text_of(smtp.mailbox.wait(1)[0])) if "/reset/" in link][0]
    done = client.post(path.removeprefix("http://callgoose.test"),
                       data={"password": "a new secret", "confirm": "a new secret"})
    assert done.status_code == 302 and done.headers["Location"] == "/login/second-factor"
    assert client.get("/incidents").status_code == 302
    assert client.post("/login/second-factor", data={"code": _code(secret, T0 + 30)}).status_code == 302
    assert client.get("/incidents").status_code == 200
