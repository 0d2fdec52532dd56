"""A real browser (Debian's Chromium driven by Playwright) against a real waitress server.

Skips, saying why, only where Chromium or Playwright is missing; .ci/run installs both.
Set CALLGOOSE_SCREENSHOTS=docs to refresh the README's screenshots.
"""

import os
from pathlib import Path

import pytest
from servers import post, running_servers

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the machine; the browser fixture skips
    expect = None


def add_user_form(page):
    """The Users page's "Add a user" form (the invitation form beside it has an Email field too)."""
    return page.locator("form").filter(has=page.get_by_role("button", name="Add user"))


def create_first_admin(page, email: str, shot_name: str | None = None) -> None:
    """Fill in the first run's form (the page shows it) and submit it."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("correct horse")
    page.get_by_label("Password again").fill("correct horse")
    if shot_name:
        shot(page, shot_name)
    page.get_by_role("button", name="Create admin and sign in").click()


def shot(page, name):
    folder = os.environ.get("CALLGOOSE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_first_admin_token_live_incident_acknowledge_resolve(make_app, browser, tmp_path):
    url = f"sqlite:///{tmp_path / 'browser.sqlite'}"
    make_app(url, tmp_path, POLL_INTERVAL_SECONDS=1)  # an empty database
    with running_servers(url, tmp_path) as (port,):
        base = f"http://127.0.0.1:{port}"
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("dialog", lambda d: (problems.append("dialog: " + d.message), d.dismiss()))

        page.goto(base + "/")
        expect(page.get_by_role("heading", name="Create the first admin")).to_be_visible()
        create_first_admin(page, "ops@example.com", shot_name="1-first-admin.png")

        expect(page.get_by_role("heading", name="Which tool sends your alerts?")).to_be_visible()
        page.get_by_role("link", name="Skip for now").click()
        expect(page.get_by_role("heading", name="API Token")).to_be_visible()
        page.get_by_role("link", name="Services").click()
        page.get_by_role("link", name="example", exact=True).click()  # the starter service: delete it (asks first)
        page.get_by_role("link", name="Delete this service…").click()
        expect(page.get_by_text("This cannot be undone")).to_be_visible()
        page.get_by_role("button", name="Delete example").click()
        expect(page.get_by_text("No services yet")).to_be_visible()
        page.get_by_label("Name").fill("checkout-api")
        page.get_by_role("button", name="Create service").click()
        page.get_by_role("link", name="Add a trigger rule").click()
        page.locator("#cond-0-key").fill("status")
        page.locator("#cond-0-items").fill("firing")
        page.locator("#title_from").fill("commonAnnotations.summary")
        page.locator("#description_from").fill("commonAnnotations.description")
        page.locator("#map_incident_with").fill("groupKey")
        page.get_by_role("button", name="Save rule").click()
        expect(page.get_by_text("Trigger rule saved.")).to_be_visible()
        shot(page, "5-service-rules.png")

        page.get_by_role("link", name="API Token").click()
        expect(page.get_by_role("heading", name="New token")).to_be_visible()  # the boosted swap is done
        page.get_by_label("Name", exact=True).fill("alertmanager")
        page.get_by_role("button", name="Create token").click()
        token = page.locator("#new-token").inner_text().strip()
        assert token.startswith("cg_")
        expect(page.locator("#endpoint")).to_have_text(base + "/v1/process")
        shot(page, "2-api-token.png")

        page.get_by_role("link", name="Incidents").click()
        expect(page.get_by_text("Nothing open")).to_be_visible()
        status, _ = post(port, token, {
            "status": "firing", "groupKey": "db1",
            "commonAnnotations": {"summary": "<script>alert(1)</script> CPU high on db1",
                                  "description": "load 12"},
            "runbook": "javascript:alert(2)", "generatorURL": "https://prometheus.example/graph"})
        assert status == 201
        row = page.get_by_role("link", name="<script>alert(1)</script> CPU high on db1")
        expect(row).to_be_visible(timeout=3000)  # no reload: the list polls itself
        assert page.title().startswith("(1) Incidents")
        shot(page, "3-live-incidents.png")

        box = page.get_by_label("Tick incident 1")
        box.check()  # while something is ticked, a new incident waits: ticks are never cleared
        assert post(port, token, {"status": "firing", "groupKey": "db2",
                                  "commonAnnotations": {"summary": "Disk full"}})[0] == 201
        page.wait_for_timeout(2500)
        expect(page.get_by_role("link", name="Disk full")).to_have_count(0)
        expect(box).to_be_checked()
        box.uncheck()
        expect(page.get_by_role("link", name="Disk full")).to_be_visible(timeout=3000)

        row.click()
        expect(page.get_by_role("heading", name="<script>alert(1)</script> CPU high on db1")).to_be_visible()
        assert page.locator('a[href^="javascript:"]').count() == 0
        expect(page.locator('a[href="https://prometheus.example/graph"]')).to_be_visible()
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.locator(".facts .badge.acknowledged")).to_be_visible()
        page.get_by_role("button", name="Resolve").click()
        expect(page.locator(".facts .badge.resolved")).to_be_visible()
        expect(page.locator(".timeline li")).to_have_count(3)
        shot(page, "4-incident-detail.png")
        assert problems == []

        # Issue 6 D17: no page scrolls sideways on a 390 px phone, with long values in it.
        long_key = "k" * 64
        assert post(port, token, {"status": "firing", "groupKey": long_key, "commonAnnotations": {
            "summary": "x" * 120, "description": "https://example.com/" + "y" * 150},
            "generatorURL": "https://prometheus.example/" + "z" * 150})[0] == 201
        phone = browser.new_page(viewport={"width": 390, "height": 800})
        phone.context.add_cookies(page.context.cookies())
        incident_id = 3
        wide = {}
        for path in ["/incidents", "/incidents?status=all", f"/incidents/{incident_id}",
                     f"/incidents/{incident_id}/review", "/tokens", "/services", "/services/2",
                     "/services/2/rules/new/trigger", "/test", "/calls", "/users", "/settings",
                     "/notifications/me", "/policies", "/policies/new", "/notifications", "/schedules", "/drills"]:
            phone.goto(base + path)
            width = phone.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                wide[path] = width
        phone.goto(base + "/calls")
        phone.locator("table a").first.click()
        phone.wait_for_load_state()
        width = phone.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide["/calls/<id>"] = width
        assert wide == {}

        # Issue 6 D19: rotating a token (confirmed) shows the new one once, with no CSP error.
        rotating = browser.new_page(viewport={"width": 1100, "height": 800})
        rotating.context.add_cookies(page.context.cookies())
        console = []
        rotating.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        rotating.on("dialog", lambda d: d.accept())
        rotating.goto(base + "/tokens")
        rotating.get_by_role("button", name="Rotate").first.click()
        expect(rotating.locator("#new-token")).to_be_visible()
        assert rotating.locator("#new-token").inner_text().strip() != token
        rotating.reload()
        expect(rotating.locator("#new-token")).to_have_count(0)  # shown once; a reload makes no new one
        assert console == []


def test_a_new_user_is_paged_by_mail_within_seconds_and_the_mail_acknowledges(make_app, browser, tmp_path):
    """Issue 8's "done when", in a browser: verify the email, add a phone, a two-level policy on a
    service, a test alert from the API Token tab; the mail arrives; its link acknowledges."""
    import re

    from receivers import SmtpServer, text_of

    url = f"sqlite:///{tmp_path / 'paging.sqlite'}"
    make_app(url, tmp_path)
    with SmtpServer() as smtp, running_servers(url, tmp_path, CALLGOOSE_SMTP_HOST="127.0.0.1",
                                               CALLGOOSE_SMTP_PORT=str(smtp.port)) as (port,):
        base = f"http://127.0.0.1:{port}"
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("dialog", lambda d: d.accept())
        page.goto(base + "/")
        create_first_admin(page, "ops@example.com")
        expect(page.get_by_role("heading", name="Which tool sends your alerts?")).to_be_visible()
        page.get_by_role("link", name="Skip for now").click()
        expect(page.get_by_role("heading", name="API Token")).to_be_visible()

        page.get_by_role("link", name="My notifications").click()
        expect(page.get_by_text("No verified contact method")).to_be_visible()
        page.get_by_role("button", name="Send a verification code").click()
        expect(page.get_by_text("Code queued")).to_be_visible()
        code = re.search(r"\b(\d{6})\b", text_of(smtp.mailbox.wait(1)[0])).group(1)
        page.get_by_label("Code for Email").fill(code)
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_text("Verified: pages can now go there.")).to_be_visible()
        expect(page.get_by_role("heading", name="Add a contact method")).to_be_visible()
        sms = page.locator("details", has=page.locator("summary", has_text="SMS"))
        sms.locator("summary").click()  # one small form per channel, its fields from the registry
        sms.get_by_label("Name", exact=True).fill("phone")
        sms.get_by_label("Phone number").fill("+14155550100")
        sms.get_by_role("button", name="Add", exact=True).click()
        expect(page.get_by_text("Added phone.")).to_be_visible()

        page.get_by_role("link", name="Users").click()
        adding = add_user_form(page)  # the page also has the invitation form's Email
        adding.get_by_label("Email").fill("bo@example.com")
        adding.get_by_label("Password", exact=True).fill("correct horse")
        adding.get_by_role("button", name="Add user").click()
        expect(page.get_by_role("cell", name="bo@example.com Notifications")).to_be_visible()
        page.get_by_role("link", name="Policies").click()
        page.get_by_role("link", name="New policy").click()
        page.get_by_label("Name").fill("checkout on-call")
        page.locator("#l0-users").select_option(label="ops@example.com")
        page.locator("#l0-after").fill("5")
        page.locator("#l1-users").select_option(label="bo@example.com")
        page.locator("#l1-after").fill("5")
        page.get_by_role("button", name="Save policy").click()
        expect(page.get_by_text("at 0 min: ops@example.com by email; after 5 min: bo@example.com")).to_be_visible()

        page.get_by_role("link", name="Services").click()
        page.get_by_role("link", name="example", exact=True).click()
        page.get_by_label("Escalation policy").select_option(label="checkout on-call")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_text("Escalation policy saved.")).to_be_visible()

        page.get_by_role("link", name="API Token").click()
        page.get_by_label("Name", exact=True).fill("alertmanager")
        page.get_by_role("button", name="Create token").click()
        asked = []  # the test call opens a real incident: it says whom that pages, and asks first
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.get_by_role("button", name="Send a test call").click()
        mails = smtp.mailbox.wait(2, timeout=30)  # a bound, not a measurement (bench/paging.py measures)
        assert len(mails) == 2 and mails[1]["To"] == "ops@example.com", [m["Subject"] for m in mails]
        assert len(asked) == 1 and "pages ops@example.com" in asked[0], asked
        assert mails[1]["Subject"].startswith("[Callgoose] P2 HIGH example: ")
        ack = re.search(r"Acknowledge: (\S+)", text_of(mails[1])).group(1)
        assert ack.startswith(base + "/l/")
        visitor = browser.new_page()  # the link needs no sign-in
        visitor.goto(ack)
        expect(visitor.get_by_role("heading", name="Acknowledge this incident?")).to_be_visible()
        visitor.get_by_role("button", name="Acknowledge").click()
        expect(visitor.get_by_role("heading", name="Acknowledged")).to_be_visible()

        page.get_by_role("link", name="Incidents").click()
        page.get_by_role("link", name=re.compile("")).filter(has_text=mails[1]["Subject"].split(": ", 1)[1]).first.click()
        expect(page.locator(".facts .badge.acknowledged")).to_be_visible()
        expect(page.get_by_text("Escalation stopped: the incident was acknowledged.")).to_be_visible()
        assert problems == []


def test_a_team_builds_its_rota_with_the_form_and_takes_a_span_by_dragging_on_the_timeline(make_app, browser,
                                                                                            tmp_path):
    """Issue 9 in a browser: a weekly rotation of three with a weekday-daytime layer over it,
    built with the form; a span dragged on the timeline becomes an override."""
    import re

    url = f"sqlite:///{tmp_path / 'rota.sqlite'}"
    make_app(url, tmp_path)
    with running_servers(url, tmp_path) as (port,):
        base = f"http://127.0.0.1:{port}"
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("dialog", lambda d: d.accept())
        page.goto(base + "/")
        create_first_admin(page, "ana@example.com")
        expect(page.get_by_role("heading", name="Which tool sends your alerts?")).to_be_visible()
        page.get_by_role("link", name="Skip for now").click()
        expect(page.get_by_role("heading", name="API Token")).to_be_visible()
        page.get_by_role("link", name="Users").click()
        for email in ("bo@example.com", "cy@example.com"):
            # Adding a user answers with the Users page again; clicking "Users" there would race
            # the reload with the next fill (CI once saw the mail typed into the page being left).
            expect(page.get_by_role("heading", name="Add a user")).to_be_visible()
            adding = add_user_form(page)  # the page also has the invitation form's Email
            adding.get_by_label("Email").fill(email)
            adding.get_by_label("Password", exact=True).fill("correct horse")
            adding.get_by_role("button", name="Add user").click()
            expect(page.get_by_role("cell", name=f"{email} Notifications")).to_be_visible()

        page.get_by_role("link", name="Schedules", exact=True).click()
        page.get_by_role("link", name="New schedule").click()
        page.get_by_label("Name", exact=True).fill("checkout")
        page.get_by_label("Time zone (IANA name)").fill("Europe/Berlin")
        page.locator("#l0-users").fill("ana@example.com\nbo@example.com\ncy@example.com")
        page.locator("#l0-start").fill("2026-10-05T09:00")
        page.get_by_role("button", name="Add a layer").click()
        page.locator("#l1-name").fill("daytime")
        page.locator("#l1-users").fill("cy@example.com")
        page.locator("#l1-start").fill("2026-10-05T09:00")
        page.locator("#l1-count").fill("1")
        page.locator("select[name='layers-1-unit']").select_option("days")
        page.locator("#l1-restrictions").fill("mon-fri 09:00-17:00")
        shot(page, "9-schedule-form.png")
        page.get_by_role("button", name="Save schedule").click()
        expect(page.get_by_text("Schedule saved.")).to_be_visible()
        expect(page.get_by_role("heading", name="checkout")).to_be_visible()

        # The two weeks across the autumn change, in the schedule's zone: handoffs keep their local
        # times on either side of it (UTC offsets +2 then +1).
        page.goto(page.url.split("?")[0] + "?from=2026-10-19&tz=Europe/Berlin")
        handoffs = page.locator("ul.timeline")
        expect(handoffs).to_contain_text("Mon 19 Oct 2026 09:00 CEST bo@example.com → cy@example.com "
                                         "(Mon 19 Oct 2026 07:00 UTC)")
        expect(handoffs).to_contain_text("Tue 27 Oct 2026 09:00 CET ana@example.com → cy@example.com "
                                         "(Tue 27 Oct 2026 08:00 UTC)")
        chart = page.locator(".timeline-chart svg")
        box = chart.bounding_box()
        # The chart is 1530 units wide from x = -120; the two weeks are x 0..1400. Drag from the
        # middle of day 3 to the middle of day 4 (Wed 21 12:00 to Thu 22 12:00 local).
        def at(fraction):
            return box["x"] + (120 + 1400 * fraction) / 1530 * box["width"]
        y = box["y"] + box["height"] * 0.9
        page.mouse.move(at(2.5 / 14), y)
        page.mouse.down()
        page.mouse.move(at(3.0 / 14), y, steps=5)
        page.mouse.move(at(3.5 / 14), y, steps=5)
        page.mouse.up()
        expect(page.locator("#o-start")).to_have_value("2026-10-21T12:00")
        expect(page.locator("#o-end")).to_have_value("2026-10-22T12:00")
        assert "take_start" not in page.url  # the drag did not follow the shift's link
        page.locator("#o-user").select_option(label="bo@example.com")
        shot(page, "9-timeline-selection.png")
        page.get_by_role("button", name="Add override").click()
        expect(page.get_by_text("Override added.")).to_be_visible()
        expect(page.get_by_text(re.compile(r"bo@example\.com: Wed 21 Oct 2026 12:00"))).to_be_visible()
        assert problems == []


def test_a_new_user_picks_alertmanager_and_sees_the_sample_s_incident_in_the_live_list(make_app, browser, tmp_path):
    """Issue 10's guided first run: pick a tool, see the guide with the token in its snippet,
    send the sample, find the incident in the live list: three fields and four clicks after
    opening the server, none of which needs the README."""
    import re

    url = f"sqlite:///{tmp_path / 'first.sqlite'}"
    make_app(url, tmp_path, POLL_INTERVAL_SECONDS=1)
    with running_servers(url, tmp_path) as (port,):
        base = f"http://127.0.0.1:{port}"
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(base + "/")
        create_first_admin(page, "ops@example.com")
        page.get_by_role("button", name="Prometheus Alertmanager").click()
        expect(page.get_by_role("heading", name="Connect Prometheus Alertmanager")).to_be_visible()
        token = page.locator("#new-token").inner_text().strip()
        assert re.fullmatch(r"cg_[A-Za-z0-9_-]{43}", token)
        snippet = page.locator("pre code.language-yaml").inner_text()
        assert f'url: "{base}/v1/process"' in snippet and f'credentials: "{token}"' in snippet
        shot(page, "10-guide.png")
        page.get_by_role("button", name="Send the sample").click()
        expect(page.get_by_text("Sent: the answer was")).to_be_visible()
        page.get_by_role("link", name="See it in the live incident list").click()
        expect(page.get_by_role("link", name=re.compile("HighErrorRate"))).to_be_visible()
        assert problems == []


def test_the_dashboard_installs_its_service_worker_and_a_pushed_page_s_button_acknowledges(make_app, browser,
                                                                                          tmp_path):
    """Issue 17's Web Push in a real browser, as far as headless Chromium goes.

    Covered: the manifest is linked and valid JSON; /sw.js registers and becomes active for the
    whole dashboard; "Get pages on this device" is offered and, with notifications allowed,
    asks the browser to subscribe, and says so when the browser cannot. A subscription (made by
    the loopback push service, as a browser's would be) POSTed from the page becomes a device,
    its code arrives as a push and verifies it; a page the server pushes is shown by the
    service worker's own code with its title, body and Acknowledge / Resolve buttons, and the
    Acknowledge button's POST acknowledges the incident as the person paged.
    Not covered: headless Chromium has no push service, so its own subscribe() fails and no
    push event reaches the worker; the test hands the worker the page the push service
    decrypted, and calls its handlers (``self.callgoose``) instead of clicking a system
    notification. tests/test_channel_webpush.py covers the server side in full."""
    import json
    import re
    import time

    from conftest import Setup
    from helpers import ALERTMANAGER
    from providers.webpush import FakePushService

    from callgoose.services import notification_rules
    from callgoose.services.catalog import import_config

    url = f"sqlite:///{tmp_path / 'push.sqlite'}"
    app = make_app(url, tmp_path, INSTANCE_PATH=str(tmp_path))
    setup = Setup(app)
    with FakePushService() as push, running_servers(url, tmp_path,
                                                    CALLGOOSE_WEBHOOK_ALLOWED_HOSTS="127.0.0.1") as (port,):
        base = f"http://127.0.0.1:{port}"
        context = browser.new_context(viewport={"width": 390, "height": 844})
        context.grant_permissions(["notifications"], origin=base)
        page = context.new_page()
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(base + "/")
        create_first_admin(page, "ops@example.com")
        page.get_by_role("link", name="Skip for now").click()
        page.get_by_role("link", name="My notifications").click()

        href = page.locator('link[rel="manifest"]').get_attribute("href")
        manifest = json.loads(page.request.get(base + href).text())
        assert manifest["name"] == "Callgoose" and manifest["icons"] and manifest["start_url"] == "/incidents"
        active = page.evaluate("""() => navigator.serviceWorker.ready.then(r => new Promise(done => {
            const w = r.active;
            if (w.state === "activated") return done([w.state, w.scriptURL, r.scope]);
            w.addEventListener("statechange", () => w.state === "activated" && done([w.state, w.scriptURL, r.scope]));
        }))""")
        assert active == ["activated", base + "/sw.js", base + "/"]

        button = page.get_by_role("button", name="Get pages on this device")
        expect(button).to_be_visible()
        button.click()  # headless Chromium has no push service: the page says why it failed
        expect(page.get_by_text("This browser could not subscribe:")).to_be_visible(timeout=15000)

        # What the page does after a browser's subscribe(): POST the subscription.
        box = page.locator("#webpush")
        subscription = push.subscribe(box.get_attribute("data-key"))
        status = page.evaluate("""([url, csrf, subscription]) => fetch(url, {method: "POST", headers: {
            "Content-Type": "application/json", "X-CSRFToken": csrf}, body: JSON.stringify({subscription})})
            .then(r => r.status)""", [box.get_attribute("data-url"), box.get_attribute("data-csrf"), subscription])
        assert status == 200
        page.reload()
        expect(page.get_by_text("Added Chrome on Linux.")).to_be_visible()
        code = re.search(r"\b(\d{6})\b", push.wait(1, timeout=30)[0]["json"]["title"]).group(1)
        [(user_id, method_id)] = setup.query("SELECT user_id, id FROM contact_methods WHERE channel = 'webpush'")
        page.get_by_label("Code for Chrome on Linux").fill(code)
        page.locator(f"#method-{method_id}").get_by_role("button", name="Verify").click()
        expect(page.get_by_text("Verified: pages can now go there.")).to_be_visible()

        with app.app_context():
            notification_rules.add_rule(user_id, method_id, 0, ["high", "low"])
            import_config({"escalation_policies": [{"name": "p", "levels": [
                {"escalate_after_minutes": 5, "targets": [{"user": "ops@example.com"}]}]}],
                "services": [{**ALERTMANAGER, "escalation_policy": "p"}]}, time.time())
        status, _ = post(port, setup.token(service="checkout-api"), {"status": "firing", "groupKey": "db1",
                                               "commonAnnotations": {"summary": "CPU high on db1"}})
        assert status == 201
        pushed = push.wait(2, timeout=30)[1]["json"]
        assert pushed["title"] == "P2 HIGH checkout-api: CPU high on db1"

        worker = context.service_workers[0]
        shown = worker.evaluate("""page => self.callgoose.show(page).then(() => self.registration.getNotifications())
            .then(all => all.map(n => ({title: n.title, body: n.body, tag: n.tag, sticky: n.requireInteraction,
                                        actions: n.actions.map(a => a.action + ":" + a.title)})))""", pushed)
        assert pushed["body"].splitlines()[0] == "checkout-api: CPU high on db1"  # then the page's facts
        assert shown == [{"title": "P2 HIGH checkout-api: CPU high on db1", "body": pushed["body"],
                          "tag": pushed["tag"], "sticky": True,
                          "actions": ["acknowledge:Acknowledge", "resolve:Resolve"]}]
        after = worker.evaluate("""() => self.registration.getNotifications()
            .then(all => self.callgoose.act(all[0].data, "acknowledge", all[0].tag))
            .then(() => self.registration.getNotifications()).then(all => all.map(n => n.title))""")
        assert after == ["Acknowledged: P2 HIGH checkout-api: CPU high on db1"]
        assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
        assert setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'") == [
            ("ops@example.com (via Web Push)",)]
        # Chromium's own word on the subscribe() that had to fail (a Playwright context is incognito)
        assert [p for p in problems if not p.startswith("Chrome currently does not support the Push API in "
                                                        "incognito mode")] == []
