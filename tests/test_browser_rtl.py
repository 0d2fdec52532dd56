"""Issue 21, item 3: Arabic (and Hebrew) pages read right to left on a phone and on a desk:
``dir="rtl"`` from the locale, the layout mirrored through CSS logical properties, code,
tokens and payloads left to right inside it, and nothing scrolling sideways at 390 px.
With CALLGOOSE_SCREENSHOTS=docs/screenshots the pages are kept for the docs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import ALERTMANAGER, firing, post
from servers import running_servers

from callgoose import clock
from callgoose.engine.languages import OFFERED
from callgoose.extensions import db
from callgoose.services.catalog import import_config

TEAM = {
    "users": [{"email": "admin@example.com", "name": "أمل", "role": "admin",
               "contact_methods": [{"name": "mail", "type": "email", "address": "admin@example.com"}]},
              {"email": "bo@example.com", "name": "Bo",
               "contact_methods": [{"name": "mail", "type": "email", "address": "bo@example.com"}]}],
    "schedules": [{"name": "rota", "time_zone": "Asia/Riyadh", "layers": [
        {"name": "weekly", "users": ["admin@example.com", "bo@example.com"], "start": "2026-11-30T09:00",
         "shift": {"unit": "weeks", "count": 1}}]}],
    "escalation_policies": [{"name": "checkout", "levels": [
        {"escalate_after_minutes": 5, "targets": [{"user": "admin@example.com"}]},
        {"escalate_after_minutes": 5, "targets": [{"schedule": "rota"}]}]}],
}
PAGES = {"incidents": "/incidents", "incident": "/incidents/1", "service": "/services/1", "schedule": "/schedules/1",
         "policy": "/policies/1", "settings": "/settings"}


@pytest.mark.parametrize("language", ["ar", "he"])
def test_right_to_left_pages_on_a_phone_and_a_desk(make_app, browser, tmp_path, language):
    if language not in OFFERED:
        pytest.fail(f"{language} is in the language table but not offered")
    url = f"sqlite:///{tmp_path / 'rtl.sqlite'}"
    app = make_app(url, tmp_path)
    from conftest import Setup, _add_user
    _add_user(app)
    with app.app_context():
        import_config({**TEAM, "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]}, clock.now())
        db.session.execute(db.text("UPDATE users SET language = :language, time_zone = 'Asia/Riyadh'"),
                           {"language": language})
        db.session.commit()
    token = Setup(app).token()
    client = app.test_client()
    assert post(client, token, firing("g1", "القرص ممتلئ on db1")).status_code == 201
    assert post(client, token, firing("g2", "Disk full")).status_code == 201
    folder = os.environ.get("CALLGOOSE_SCREENSHOTS")
    with running_servers(url, tmp_path) as (port,):
        base = f"http://127.0.0.1:{port}"
        for width in (390, 1280):
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            page.goto(base + "/login")
            page.locator("input[name=email]").fill("admin@example.com")
            page.locator("input[name=password]").fill("correct horse")
            page.locator("form button[type=submit]").first.click()
            page.wait_for_url(lambda u: "/login" not in u)
            for name, path in PAGES.items():
                page.goto(base + path)
                facts = page.evaluate("""() => {
                    const root = document.documentElement;
                    const code = document.querySelector('pre, code');
                    const cell = document.querySelector('th');
                    return {dir: root.getAttribute('dir'), lang: root.getAttribute('lang'),
                            body: getComputedStyle(document.body).direction,
                            code: code ? getComputedStyle(code).direction : 'ltr',
                            cell: cell ? getComputedStyle(cell).textAlign : 'start',
                            wide: root.scrollWidth - root.clientWidth};
                }""")
                assert facts["dir"] == "rtl" and facts["lang"] == language and facts["body"] == "rtl", (path, facts)
                assert facts["code"] == "ltr", (path, facts)  # code and payloads read left to right
                assert facts["cell"] in ("start", "right"), (path, facts)  # table headings follow the text
                assert facts["wide"] <= 1, f"{path} scrolls sideways by {facts['wide']} px at {width} px"
                if folder:
                    Path(folder).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(Path(folder) / f"{language}-{name}-{width}.png"), full_page=True)
            context.close()
