"""Issue 19, item 2: passkeys in a real browser. Debian's Chromium (driven by Playwright) with a
virtual authenticator from the DevTools protocol's WebAuthn domain (CTAP2, internal, resident keys,
user verification): not a mock. It talks to a real waitress server at http://localhost:PORT (a
secure context, so WebAuthn works) whose CALLGOOSE_BASE_URL says the same.

Skips, saying why, only where Chromium or Playwright is missing.
"""

import pytest
from helpers import virtual_authenticator
from servers import free_port, start_server

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the machine; the browser fixture skips
    expect = None


@pytest.fixture
def server(make_app, add_user, setup_for, database_url, tmp_path):
    """A server on localhost whose base URL is its own address; an admin exists. (base, setup)"""
    app = make_app(database_url, tmp_path)
    add_user(app, "ana@example.com")
    port = free_port()
    proc = start_server(database_url, tmp_path, port, 4, CALLGOOSE_BASE_URL=f"http://localhost:{port}")
    try:
        yield f"http://localhost:{port}", setup_for(app)
    finally:
        proc.terminate()
        proc.wait(15)


def _sign_in_with_password(page, base):
    page.goto(base + "/login")
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_label("Password", exact=True).fill("correct horse")
    page.get_by_role("button", name="Sign in", exact=True).click()


def _sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()


def test_register_a_passkey_then_sign_in_with_it_alone_and_as_a_second_factor(browser, server):
    base, setup = server
    page = browser.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    cdp, authenticator = virtual_authenticator(page)

    _sign_in_with_password(page, base)
    expect(page.get_by_role("link", name="Incidents")).to_be_visible()
    page.goto(base + "/settings")
    page.get_by_role("link", name="Authenticator app, recovery codes and passkeys").click()
    page.get_by_label("Name of the new passkey (e.g. laptop)").fill("laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Passkey added.")).to_be_visible()
    expect(page.get_by_role("cell", name="laptop")).to_be_visible()
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"] and stored[0]["rpId"] == "localhost"
    assert setup.query("SELECT name, sign_count FROM passkeys") == [("laptop", stored[0]["signCount"])]
    registered = stored[0]["signCount"]

    _sign_out(page)  # a passkey alone, from the keyboard: no email, no password
    page.get_by_role("button", name="Sign in with a passkey").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Incidents")).to_be_visible()
    assert page.url.endswith("/incidents")
    assert setup.query(f"SELECT sign_count > {registered}, last_used_at IS NOT NULL FROM passkeys") == [(True, True)]

    _sign_out(page)  # the password, then the passkey as the second step
    _sign_in_with_password(page, base)
    expect(page.get_by_role("heading", name="Second step")).to_be_visible()
    page.goto(base + "/incidents")  # no other URL skips the step
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    _sign_in_with_password(page, base)
    page.get_by_role("button", name="Use your passkey").click()
    expect(page.get_by_role("link", name="Incidents")).to_be_visible()
    assert page.url.endswith("/incidents")
    assert setup.query("SELECT count(*) FROM user_sessions") == [(1,)]  # signing out ended the others
    assert problems == []


def test_a_passkey_of_another_site_or_none_signs_nobody_in(browser, server):
    base, setup = server
    page = browser.new_page()
    cdp, authenticator = virtual_authenticator(page)
    page.goto(base + "/login")
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": authenticator, "enabled": True})
    page.get_by_role("button", name="Sign in with a passkey").click()  # the authenticator holds none
    expect(page.locator("[data-passkey-error]")).to_be_visible(timeout=15000)
    assert page.url.endswith("/login")
    assert setup.query("SELECT count(*) FROM user_sessions") == [(0,)]
