"""Issue 19's "done when", its first sentence, end to end: a new teammate gets an invitation mail
(the `invite` command; the mail leaves through a real `serve` process's own worker to a real SMTP
server on loopback), sets a password in Chromium, adds a passkey on a virtual authenticator (the
DevTools protocol's WebAuthn domain, not a mock), signs out and signs in with the passkey alone.

Skips, saying why, only where Chromium or Playwright is missing."""

import pytest
from helpers import virtual_authenticator
from receivers import SmtpServer, links_in, text_of
from servers import free_port, start_server

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the machine; the browser fixture skips
    expect = None


@pytest.fixture
def mail_server():
    with SmtpServer() as server:
        yield server


def test_an_invited_teammate_sets_a_password_and_a_passkey_then_signs_in_with_the_passkey(
        browser, mail_server, make_app, add_user, setup_for, database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    add_user(app, "lead@example.com")
    port = free_port()
    base = f"http://localhost:{port}"
    proc = start_server(database_url, tmp_path, port, 4, CALLGOOSE_BASE_URL=base,
                        CALLGOOSE_SMTP_HOST="127.0.0.1", CALLGOOSE_SMTP_PORT=str(mail_server.port))
    try:
        invited = app.test_cli_runner().invoke(args=["invite", "kim@example.com"])
        assert invited.exit_code == 0, invited.output
        (mail,) = mail_server.mailbox.wait(1, timeout=30)
        assert mail["To"] == "kim@example.com"
        link = next(found for found in links_in(text_of(mail)) if "/invite/" in found)
        path = link[link.index("/invite/"):]

        page = browser.new_page()
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        cdp, authenticator = virtual_authenticator(page)

        page.goto(base + path)
        expect(page.get_by_role("heading", name="Welcome to Callgoose")).to_be_visible()
        page.get_by_label("New password", exact=True).fill("kim's long secret")
        page.get_by_label("New password again").fill("kim's long secret")
        page.get_by_label("Time zone").fill("Europe/Berlin")
        page.get_by_role("button", name="Save and sign in").click()
        expect(page.get_by_role("link", name="Incidents")).to_be_visible()

        page.goto(base + "/settings/second-factor")
        page.get_by_label("Name of the new passkey (e.g. laptop)").fill("phone")
        page.get_by_role("button", name="Add a passkey").click()
        expect(page.get_by_text("Passkey added.")).to_be_visible()
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        assert len(stored) == 1 and stored[0]["isResidentCredential"]

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.get_by_role("link", name="Incidents")).to_be_visible()
        setup = setup_for(app)
        assert setup.query("SELECT u.email, u.time_zone FROM user_sessions s JOIN users u ON u.id = s.user_id") == [
            ("kim@example.com", "Europe/Berlin")]
        assert problems == []
    finally:
        proc.terminate()
        proc.wait(15)
    log = (tmp_path / f"server-{port}.log").read_text()
    assert " ERROR " not in log and "Traceback" not in log, log
