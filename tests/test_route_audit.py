"""Issue 6 E: a route audit over the whole URL map.

Every route needs a login (or a token) except a listed few; every admin route refuses
responders; every state-changing dashboard route refuses a missing CSRF token, and a viewer
(issue 19) but the listed few; a viewer reads every page a responder reads.
"""

import re

import pytest
from helpers import ALERTMANAGER

from callgoose.extensions import db

# The web app manifest and the service worker are static code the browser fetches without
# cookies (a manifest) or must be able to fetch again after the session ended (a worker's update).
PUBLIC = {"static", "auth.login", "auth.setup", "openapi.document", "health.healthz", "webpush.manifest",
          "webpush.worker", "invitations.forgot",  # "Forgot password?" answers alike for any address
          # Issue 19, single sign-on: the provider's round trip and break glass are ways to sign in
          "sso.oidc_start", "sso.oidc_callback", "sso.local_login",
          # Issue 19: a passkey on its own signs in; without a valid answer to the session's
          # challenge it is refused (400) and no session starts (test_second_factors.py).
          "second_factor.passkey_options", "second_factor.passkey_login"}
TOKEN = {"ingest.", "api.", "opsgenie."}  # the token is the credential (S3; a GenieKey, issue 18)
# Issue 18: PagerDuty's Events API carries its credential in the body (``routing_key``); without
# a known one it is refused as PagerDuty refuses it: 400 "Invalid routing key", nothing stored.
BODY_KEY = {"pagerduty."}
# A mail's signed link, or Twilio's request signature, is the credential (issue 8); tests in
# test_paging_outside.py refuse a wrong link (410) and a wrong signature (403).
SIGNED = {"outside.", "schedules.feed"}  # a calendar feed's secret URL is its credential
# Issue 19: an invitation's or a password reset's mailed link is its own credential (signed,
# single use); a made-up one is refused with 410 and sets nothing.
SIGN_IN_LINKS = {"invitations.accept_invitation", "invitations.reset_password"}
TWILIO = {"outside.voice", "outside.keypress", "outside.sms", "outside.status"}
# A signed action's token is its own credential (issue 17: a push app's button POSTs it with no
# session), and a channel's module verifies its provider's callbacks: a made-up one acts on nothing.
NO_COOKIE = {"outside.link_act": 410, "outside.channel_callback": 403, "outside.slack_actions": 403,
             "outside.telegram_webhook": 403}
ADMIN_ONLY = {
    "dashboard.create_token_view", "dashboard.rotate_token_view", "dashboard.revoke_token_view",
    "users.users", "users.add", "users.set_password", "users.toggle_active", "users.set_role",
    "services.create", "services.import_", "services.settings", "services.maintenance", "services.rule_action",
    "services.rename", "services.delete",
    "paging.save_policy", "paging.delete_policy", "paging.service_policy", "paging.add_webhook",
    "paging.delete_webhook", "schedules.save", "schedules.save_json", "schedules.delete",
    "integrations.welcome", "integrations.create", "services.add_heartbeat", "services.heartbeat_action",
    "apilog.replay_calls", "services.export", "shadow.switch", "imports.form", "imports.plan", "imports.apply",
    "users.invite", "users.invite_again", "users.invite_all", "users.reset_factors",
    "reports.set_rate",  # issue 20: hourly rates for hours on call
    "priorities.save",  # issue 20
}
SAFE = {"GET", "HEAD", "OPTIONS"}


def concrete(rule) -> str:
    """A URL for a rule: ids 1, names 'checkout-api', the first choice of an any() converter."""
    def fill(match):
        converter, name = match.group(1), match.group(2)
        if converter and converter.startswith("any"):
            return re.findall(r"\w+", converter[4:])[0]
        if converter == "int" or name.endswith("_id"):
            return "1"
        if name == "kind":
            return "trigger"
        if name == "filename":
            return "app.css"
        return "checkout-api"
    return re.sub(r"<(?:([^:>]+):)?(\w+)>", fill, rule.rule)


@pytest.fixture
def audited(add_user, make_app, setup_for, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'audit.sqlite'}", tmp_path)
    setup = setup_for(app)
    setup.services(ALERTMANAGER)
    add_user(app)  # an admin exists, so pages lead to the login, not the first-run setup
    yield app
    with app.app_context():
        db.engine.dispose()


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_needs_a_login_or_a_token_but_the_listed_few(audited):
    client = audited.test_client()
    open_routes = []
    for rule, method in routes(audited):
        if rule.endpoint in PUBLIC or rule.endpoint.startswith(tuple(TOKEN) + tuple(SIGNED) + tuple(BODY_KEY)):
            continue
        if rule.endpoint in SIGN_IN_LINKS:
            refused = client.open(concrete(rule), method=method, data={"password": "a long secret",
                                                                       "confirm": "a long secret"})
            assert refused.status_code == 410, (rule.rule, method, refused.status_code)
            continue
        response = client.open(concrete(rule), method=method)
        location = response.headers.get("Location", "")
        if not (response.status_code in (302, 401) and ("/login" in location or response.status_code == 401)):
            open_routes.append((rule.rule, method, response.status_code))
    assert open_routes == []


def test_token_routes_refuse_without_a_token(audited):
    client = audited.test_client()
    for rule, method in routes(audited):
        if rule.endpoint.startswith(tuple(TOKEN)):
            assert client.open(concrete(rule), method=method).status_code == 401, rule.rule


def test_body_key_routes_refuse_without_a_known_routing_key(audited):
    client = audited.test_client()
    seen = 0
    for rule, method in routes(audited):
        if rule.endpoint.startswith(tuple(BODY_KEY)):
            seen += 1
            missing = client.open(concrete(rule), method=method, json={"payload": {"summary": "s"}})
            assert missing.status_code == 400 and "'routing_key' is missing or blank" in missing.get_json()["errors"]
            unknown = client.open(concrete(rule), method=method, json={"routing_key": "a" * 32})
            assert (unknown.status_code, unknown.get_json()["errors"]) == (400, ["Invalid routing key"]), rule.rule
    assert seen == 2
    with audited.app_context():
        assert db.session.execute(db.text("SELECT count(*) FROM api_calls")).scalar() == 0


def test_every_admin_route_refuses_responders(add_user, sign_in, audited):
    client = audited.test_client()
    sign_in(client, *add_user(audited, "responder@example.com", admin=False))
    seen = set()
    for rule, method in routes(audited):
        if rule.endpoint in ADMIN_ONLY:
            seen.add(rule.endpoint)
            response = client.open(concrete(rule), method=method)
            assert response.status_code == 403, (rule.rule, method, response.status_code)
    assert seen == ADMIN_ONLY  # the list names real endpoints
    admin_looking = {r.endpoint for r, m in routes(audited) if m not in SAFE and r.endpoint.startswith(
        ("users.", "services.")) and not r.endpoint.startswith("services.rule")}
    assert admin_looking <= ADMIN_ONLY, admin_looking - ADMIN_ONLY


def test_every_state_changing_dashboard_route_refuses_a_missing_csrf_token(add_user, make_app, setup_for, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", tmp_path, WTF_CSRF_ENABLED=True)
    setup_for(app).services(ALERTMANAGER)
    add_user(app)
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    assert client.post("/login", data={"email": "admin@example.com", "password": "correct horse",
                                       "csrf_token": csrf}).status_code == 302
    unprotected = []
    for rule, method in routes(app):
        if method in SAFE or rule.endpoint.startswith(tuple(TOKEN) + tuple(BODY_KEY)) or rule.endpoint == "static":
            continue
        if rule.endpoint in TWILIO:  # Twilio signs its callbacks; no cookie is involved
            assert client.open(concrete(rule), method=method, data={}).status_code == 403
            continue
        if rule.endpoint in NO_COOKIE:
            assert client.open(concrete(rule), method=method, data={}).status_code == NO_COOKIE[rule.endpoint]
            continue
        response = client.open(concrete(rule), method=method, data={})
        if response.status_code != 400:
            unprotected.append((rule.rule, method, response.status_code))
    assert unprotected == []
    with app.app_context():
        db.engine.dispose()


# Issue 19: what a viewer may still change, each with its reason; every other state-changing
# dashboard route refuses a viewer (403), so a new route is closed to viewers until listed.
VIEWER_MAY = {
    "auth.login": "signing in again", "sso.local_login": "signing in again (break glass)",
    "auth.setup": "first run only (redirects once users exist)",
    "auth.logout": "signing out", "auth.change_password": "their own password",
    "auth.profile": "their own name, time zone and language",
    "auth.sign_out_everywhere": "their own sessions",
    "paging.add_method": "their own contact methods", "paging.method_action": "their own contact methods",
    "paging.add_rule": "their own notification rules", "paging.delete_rule": "their own notification rules",
    "paging.slack_link_confirm": "their own Slack identity", "paging.slack_unlink": "their own Slack identity",
    "schedules.handoff_notices": "their own handoff notices", "webpush.subscribe": "their own browser's pages",
    "schedules.create_feed": "a calendar feed only reads schedules",
    "schedules.revoke_feed": "their own calendar feed",
    "testpayload.form": "a dry run changes nothing; sending is admin-only in the view",
    "second_factor.step": "signing in again (the second step)",
    "second_factor.step_passkey_options": "signing in again (the second step)",
    "second_factor.step_passkey": "signing in again (the second step)",
    "second_factor.passkey_options": "signing in again (a passkey)",
    "second_factor.passkey_login": "signing in again (a passkey)",
    "factors.totp_start": "their own second factors", "factors.totp_confirm": "their own second factors",
    "factors.totp_remove": "their own second factors", "factors.recovery_codes": "their own second factors",
    "factors.passkey_options": "their own second factors", "factors.passkey_register": "their own second factors",
    "factors.passkey_delete": "their own second factors",
}
# Pages a viewer reads as a responder does, but for these (none today; a reason each).
VIEWER_MAY_NOT_READ: dict[str, str] = {}


def _session_routes(app):
    for rule, method in routes(app):
        if rule.endpoint in PUBLIC or rule.endpoint.startswith(tuple(TOKEN) + tuple(SIGNED) + tuple(BODY_KEY)):
            continue
        yield rule, method


def test_every_state_changing_dashboard_route_refuses_a_viewer(add_user, sign_in, audited):
    from callgoose.web import access

    assert set(VIEWER_MAY) == access.VIEWER_MAY  # the code's list is this reasoned one
    client = audited.test_client()
    sign_in(client, *add_user(audited, "viewer@example.com", role="viewer"))
    allowed, seen = [], 0
    for rule, method in _session_routes(audited):
        if method in SAFE or rule.endpoint in VIEWER_MAY:
            continue
        seen += 1
        response = client.open(concrete(rule), method=method, data={})
        if response.status_code != 403:
            allowed.append((rule.rule, method, response.status_code))
    assert allowed == [] and seen > 40, seen
    with audited.app_context():
        assert db.session.execute(db.text("SELECT count(*) FROM incidents")).scalar() == 0
        assert db.session.execute(db.text("SELECT role FROM users WHERE id = 2")).scalar() == "viewer"


def test_every_page_a_responder_reads_a_viewer_reads(add_user, sign_in, audited):
    responder, viewer = audited.test_client(), audited.test_client()
    sign_in(responder, *add_user(audited, "responder@example.com", admin=False))
    sign_in(viewer, *add_user(audited, "viewer@example.com", role="viewer"))
    differ, read = [], 0
    for rule, method in _session_routes(audited):
        if method not in SAFE or rule.endpoint in VIEWER_MAY_NOT_READ:
            continue
        path = concrete(rule)
        as_responder, as_viewer = responder.get(path).status_code, viewer.get(path).status_code
        read += as_responder == 200
        if as_viewer != as_responder:
            differ.append((rule.rule, as_responder, as_viewer))
    assert differ == [] and read > 20, read
