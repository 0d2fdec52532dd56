"""Issue 19, item 3: a trusted proxy's user header (honoured only from TRUSTED_PROXIES), the ID
token's checks one by one, role mapping, and the single sign-on settings."""

from __future__ import annotations

import time

import pytest
from helpers import give_totp, next_code
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from callgoose import create_app
from callgoose.engine.sso import RoleMap, networks, trusted_peer
from callgoose.extensions import db
from callgoose.services import oidc

PROXY = {"TRUSTED_HEADER_USER": "X-Remote-User", "TRUSTED_HEADER_GROUPS": "X-Remote-Groups",
         "TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8", "OIDC_ADMIN_VALUES": "ops", "OIDC_VIEWER_VALUES": "audit"}


def _rows(app, sql):
    with app.app_context():
        return [tuple(row) for row in db.session.execute(db.text(sql)).all()]


def _from(app, address):
    """A client whose requests come from the socket peer ``address`` (as waitress sets REMOTE_ADDR)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_the_user_header_signs_in_only_from_a_trusted_proxy(make_app, database_url, tmp_path, add_user):
    app = make_app(database_url, tmp_path, OIDC_CREATE_USERS=True, **PROXY)
    add_user(app)
    ops = {"X-Remote-User": "Ana@Example.com", "X-Remote-Groups": "staff, ops"}
    for address in ("192.168.1.5", "127.0.0.1", "11.0.0.1", "fe80::1"):
        outside = _from(app, address)
        assert outside.get("/incidents", headers={**ops, "X-Forwarded-For": "10.1.2.3"}).status_code == 302
        assert outside.get("/incidents").status_code == 302  # nothing stuck either
    assert _rows(app, "SELECT email FROM users") == [("admin@example.com",)]
    odd = _from(app, "10.1.2.3").get("/incidents", headers={"X-Remote-User": "a b@example.com"})
    assert odd.status_code == 403 and b"gave no email address" in odd.data

    proxied = _from(app, "10.1.2.3")
    assert proxied.get("/incidents", headers=ops).status_code == 200
    assert proxied.get("/incidents").status_code == 200  # the session it began holds
    assert _rows(app, "SELECT email, role, password_hash FROM users WHERE id = 2") == [("ana@example.com", "admin", "")]
    # The proxy names another user: the browser is that user now.
    viewer = {"X-Remote-User": "val@example.com", "X-Remote-Groups": "audit"}
    assert proxied.get("/incidents", headers=viewer).status_code == 200
    assert proxied.post("/services", headers=viewer, data={"name": "x"}).status_code == 403
    assert _rows(app, "SELECT email, role FROM users WHERE id = 3") == [("val@example.com", "viewer")]
    ipv6 = _from(app, "fd00::7")
    assert ipv6.get("/incidents", headers={"X-Remote-User": "ben@example.com"}).status_code == 200
    assert _rows(app, "SELECT role FROM users WHERE email = 'ben@example.com'") == [("responder",)]


def test_an_unknown_proxy_user_is_refused_without_oidc_create_users(make_app, database_url, tmp_path, add_user):
    app = make_app(database_url, tmp_path, **PROXY)
    add_user(app)
    add_user(app, "gone@example.com", role="responder")
    client = _from(app, "10.0.0.9")
    refused = client.get("/incidents", headers={"X-Remote-User": "nobody@example.com"})
    assert refused.status_code == 403 and b"no user here has the address nobody@example.com" in refused.data
    with app.app_context():
        db.session.execute(db.text("UPDATE users SET active = false WHERE email = 'gone@example.com'"))
        db.session.commit()
    refused = client.get("/incidents", headers={"X-Remote-User": "gone@example.com"})
    assert refused.status_code == 403 and b"deactivated" in refused.data
    # A known user: the role the groups give (none of ops or audit: a responder); the admin stays
    # the last admin whatever the proxy says.
    assert client.get("/incidents", headers={"X-Remote-User": "admin@example.com"}).status_code == 200
    assert _rows(app, "SELECT email, role FROM users ORDER BY id") == [("admin@example.com", "admin"),
                                                                      ("gone@example.com", "responder")]


def test_break_glass_is_for_active_admins_with_a_password_and_a_second_factor(
        make_app, database_url, tmp_path, add_user):
    app = make_app(database_url, tmp_path, **PROXY)
    add_user(app)
    add_user(app, "responder@example.com", role="responder")
    give_totp(app, "responder@example.com")
    assert app.test_client().post("/login/local", data={"email": "responder@example.com",
                                                        "password": "correct horse"}).status_code == 422
    assert app.test_client().post("/login", data={"email": "responder@example.com",
                                                  "password": "correct horse"}).status_code == 302
    # An admin without a second factor: a leaked password alone never breaks the glass.
    refused = app.test_client().post("/login/local", data={"email": "admin@example.com", "password": "correct horse"})
    assert refused.status_code == 422 and b"second factor" in refused.data
    secret = give_totp(app, "admin@example.com")
    client = app.test_client()
    first = client.post("/login/local", data={"email": "admin@example.com", "password": "correct horse"})
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/second-factor")
    assert client.get("/incidents").status_code == 302  # no session before the second step
    assert client.post("/login/second-factor", data={"code": next_code(secret)}).status_code == 302
    assert client.get("/incidents").status_code == 200
    assert app.test_client().get("/login/oidc").status_code == 404  # no provider configured


def test_without_single_sign_on_login_local_leads_to_login(make_app, database_url, tmp_path, add_user):
    app = make_app(database_url, tmp_path)
    add_user(app)
    answer = app.test_client().post("/login/local", data={"email": "admin@example.com", "password": "correct horse"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert "local" not in answer.headers["Location"]


KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k1"})
JWKS = "http://127.0.0.1:1/jwks"  # never reached: the keys are in the cache, as after a fetch
CLIENT = oidc.Client("https://id.example.com", "callgoose", "secret", "openid email", "https://cg/cb")


def _token(key=KEY, alg="RS256", **changes):
    now = int(time.time())
    claims = {"iss": CLIENT.issuer, "aud": "callgoose", "sub": "u1", "iat": now, "exp": now + 300, "nonce": "n1",
              "email": "u1@example.com", **changes}
    return jwt.encode({"alg": alg, "kid": "k1"}, {k: v for k, v in claims.items() if v is not None}, key)


@pytest.fixture
def keys():
    oidc.forget()
    oidc._cache["keys " + JWKS] = (time.monotonic(), time.monotonic() + 60, KeySet([KEY]))
    yield
    oidc.forget()


@pytest.mark.parametrize("token, reason", [
    (lambda: _token(aud="someone-else"), "invalid_claim"),
    (lambda: _token(iss="https://evil.example.com"), "invalid_claim"),
    (lambda: _token(nonce="n2"), "invalid_claim"),
    (lambda: _token(nonce=None), "missing_claim"),
    (lambda: _token(exp=int(time.time()) - 120), "expired_token"),
    (lambda: _token(aud=["callgoose", "another"], azp="another"), "azp"),
    (lambda: _token(key=OTHER), "did not answer"),  # a key the provider does not have: asked again, down
    (lambda: _token(key=KEY, alg="RS256")[:-4] + "AAAA", "did not answer"),
    (lambda: "e30.e30.", "did not answer"),  # alg none: no key signs it
])
def test_an_id_token_is_refused_unless_every_check_holds(keys, token, reason):
    assert oidc.check_id_token(_token(), JWKS, CLIENT, "n1", time.time())["sub"] == "u1"
    with pytest.raises(oidc.ProviderError) as refused:
        oidc.check_id_token(token(), JWKS, CLIENT, "n1", time.time())
    assert reason in str(refused.value.message)


def test_roles_and_trusted_peers_are_decided_purely():
    roles = RoleMap.of({"OIDC_ADMIN_VALUES": "ops, leads", "OIDC_VIEWER_VALUES": "audit"})
    assert [roles.role(claim) for claim in (["staff", "leads"], ["audit", "ops"], "audit", ["audit"], [],
                                            None, {"ops": 1}, ["x"], [True, 7])] == [
        "admin", "admin", "viewer", "viewer", "responder", "responder", "responder", "responder", "responder"]
    allowed = networks("10.0.0.0/8, 192.168.1.1, ::1")
    assert [trusted_peer(peer, allowed) for peer in ("10.9.9.9", "::ffff:10.0.0.1", "192.168.1.1", "192.168.1.2",
                                                     "::1", "", None, "not an address", "11.0.0.0")] == [
        True, True, True, False, True, False, False, False, False]
    with pytest.raises(ValueError, match="'10.0.0.300/8' is not an address"):
        networks("10.0.0.300/8")


def test_single_sign_on_settings_keep_the_issues_names_and_are_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("CALLGOOSE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("OIDC_ISSUER", "https://id.example.com")
    monkeypatch.setenv("OIDC_CLIENT_ID", "12345")  # digits stay text
    monkeypatch.setenv("OIDC_CLIENT_SECRET", "s")
    monkeypatch.setenv("PASSWORD_SIGN_IN", "false")
    monkeypatch.setenv("OIDC_CREATE_USERS", "true")
    monkeypatch.setenv("CALLGOOSE_OIDC_SCOPES", "openid email")
    monkeypatch.setenv("OIDC_SCOPES", "ignored: the prefixed name wins")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", "SECRET_KEY": "test"})
    assert (app.config["OIDC_ISSUER"], app.config["OIDC_CLIENT_ID"], app.config["PASSWORD_SIGN_IN"],
            app.config["OIDC_CREATE_USERS"], app.config["OIDC_SCOPES"]) == (
        "https://id.example.com", "12345", False, True, "openid email")
    for wrong, message in (({"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES"),
                           ({"OIDC_CLIENT_SECRET": ""}, "needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"),
                           ({"PASSWORD_SIGN_IN": "maybe"}, "PASSWORD_SIGN_IN must be true or false"),
                           ({"TRUSTED_HEADER_USER": "X-User"}, "needs TRUSTED_PROXIES")):
        with pytest.raises(ValueError, match=message):
            create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", "SECRET_KEY": "test", **wrong})


def test_a_proxy_signed_session_is_not_sent_to_enrol_a_local_second_factor(make_app, database_url, tmp_path,
                                                                           add_user):
    """REQUIRE_SECOND_FACTOR is for local accounts: single sign-on's provider (or proxy) does its own."""
    app = make_app(database_url, tmp_path, REQUIRE_SECOND_FACTOR="all", **PROXY)
    add_user(app)
    add_user(app, "local@example.com", role="responder")
    assert _from(app, "10.0.0.9").get("/incidents", headers={"X-Remote-User": "admin@example.com"}).status_code == 200
    local = app.test_client()
    assert local.post("/login", data={"email": "local@example.com", "password": "correct horse"}).status_code == 302
    assert local.get("/incidents").headers.get("Location") == "/settings/second-factor"


def test_with_password_sign_in_off_a_passkey_alone_signs_nobody_in(make_app, database_url, tmp_path, add_user):
    app = make_app(database_url, tmp_path, PASSWORD_SIGN_IN=False, BASE_URL="http://localhost:8000", **PROXY)
    add_user(app)
    client = app.test_client()
    assert client.post("/login/passkey/options").status_code == 403
    assert client.post("/login/passkey", json={"id": "x"}).status_code == 403
    assert "Sign in with a passkey" not in client.get("/login").get_data(as_text=True)
