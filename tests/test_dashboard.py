"""The dashboard through the Flask client: one identity per test (pytest-flask shares ``g``)."""

import re

from helpers import ALERTMANAGER, firing, post

from callgoose import clock


def test_first_run_shows_only_create_the_first_admin(client, setup):
    assert client.get("/").headers["Location"].startswith("/setup")
    assert client.get("/login").headers["Location"] == "/setup"
    page = client.get("/setup")
    assert page.status_code == 200 and "Create the first admin" in page.get_data(as_text=True)
    response = client.post("/setup", data={"email": "Ops@Example.com", "password": "long enough",
                                           "confirm": "long enough"})
    assert response.status_code == 302 and response.headers["Location"] == "/welcome"  # pick your tool
    assert setup.query("SELECT email, role FROM users") == [("ops@example.com", "admin")]
    assert client.get("/setup").headers["Location"] == "/login"  # only while no user exists


def test_setup_errors_are_shown_next_to_the_field_with_422(client):
    response = client.post("/setup", data={"email": "a@b.c", "password": "short", "confirm": "other"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "at least 8 characters" in text and "The passwords differ." in text


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(add_user, app, client):
    add_user(app)
    for email, password in (("admin@example.com", "wrong password"), ("nobody@example.com", "correct horse")):
        response = client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 422 and "Wrong email or password." in response.get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_login(add_user, app, client):
    add_user(app)
    for path in ("/incidents", "/incidents/1", "/tokens"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_expired_session_during_polling_redirects_the_page_not_the_table(add_user, app, client):
    add_user(app)
    response = client.get("/incidents/rows", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"
    assert response.get_data() == b""


def test_every_page_is_a_full_page_and_rows_are_a_fragment(admin):
    for path in ("/incidents", "/tokens"):
        text = admin.get(path).get_data(as_text=True)
        assert text.startswith("<!doctype html>") and "htmx-2.0.11.min.js" in text
    rows = admin.get("/incidents/rows")
    assert rows.status_code == 200 and "<html" not in rows.get_data(as_text=True)
    assert 'id="incident-rows"' in rows.get_data(as_text=True)


def test_live_rows_answer_204_until_an_incident_changes(app, admin, setup):
    setup.services(ALERTMANAGER)
    token = setup.token()
    page = admin.get("/incidents").get_data(as_text=True)
    assert "Nothing open" in page
    poll = re.search(r'hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert admin.get(poll).status_code == 204
    post(admin, token, firing(summary="Disk full on db1"))
    fresh = admin.get(poll)
    assert fresh.status_code == 200
    text = fresh.get_data(as_text=True)
    assert "Disk full on db1" in text and "<title>(1) Incidents" in text
    next_poll = re.search(r'hx-get="([^"]+)"', text).group(1).replace("&amp;", "&")
    assert admin.get(next_poll).status_code == 204


def test_live_rows_see_a_repeat_and_a_persons_action(admin, setup):
    """The poll compares the change counter: a repeat and an acknowledge each change it; a replay does not."""
    setup.services(ALERTMANAGER)
    token = setup.token()
    post(admin, token, firing(summary="first"))

    def poll_of(response):
        return re.search(r'hx-get="([^"]+)"', response.get_data(as_text=True)).group(1).replace("&amp;", "&")
    poll = poll_of(admin.get("/incidents"))
    post(admin, token, firing(summary="first"))  # a replay: nothing changed
    assert admin.get(poll).status_code == 204
    post(admin, token, firing(summary="second"))  # a repeat of the open incident
    fresh = admin.get(poll)
    assert fresh.status_code == 200
    poll = poll_of(fresh)
    admin.post("/incidents/1/acknowledge")
    assert admin.get(poll).status_code == 200


def test_repeats_are_one_timeline_line_with_their_count_and_times(admin, setup, monkeypatch):
    setup.services(ALERTMANAGER)
    token = setup.token()
    start = clock.now()
    for i, offset in enumerate((0, 60, 120, 180)):
        monkeypatch.setattr(clock, "now", lambda offset=offset: start + offset)
        post(admin, token, firing(summary=f"variant {i}"))
    assert setup.query("SELECT kind FROM incident_events") == [("created",)]
    page = admin.get("/incidents/1").get_data(as_text=True)
    first, last = (clock.to_db(start + t).strftime("%Y-%m-%d %H:%M:%S") for t in (60, 180))
    assert f"3 repeats between {first} and {last} UTC" in page
    live = re.search(r'hx-get="(/incidents/1/live[^"]+)"', page).group(1).replace("&amp;", "&")
    assert admin.get(live).status_code == 204
    monkeypatch.setattr(clock, "now", lambda: start + 240)
    post(admin, token, firing(summary="variant 4"))
    assert admin.get(live).headers.get("HX-Refresh") == "true"  # the incident's version moved


def test_an_incident_page_after_retention_took_its_calls(app, admin, setup, monkeypatch):
    setup.services(ALERTMANAGER)
    token = setup.token()
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start - 40 * 86400)
    post(admin, token, firing())
    admin.post("/incidents/1/comment", data={"text": "kept: a person wrote it"})
    post(admin, token, {"status": "resolved", "groupKey": "g1"})
    monkeypatch.setattr(clock, "now", lambda: start)
    assert app.test_cli_runner().invoke(args=["prune"]).exit_code == 0
    assert setup.query("SELECT kind FROM incident_events") == [("comment",)]
    page = admin.get("/incidents/1").get_data(as_text=True)
    assert page.count("its entry went with the call, by retention") == 2  # created and resolved
    assert "kept: a person wrote it" in page and "The API call was deleted by retention" in page


def test_list_filters_and_search(admin, setup):
    setup.services(ALERTMANAGER)
    token = setup.token()
    post(admin, token, firing("a", summary="CPU high"))
    post(admin, token, firing("b", summary="Disk full"))
    post(admin, token, {"status": "resolved", "groupKey": "b"})
    assert "Disk full" not in admin.get("/incidents").get_data(as_text=True)  # default: open only
    assert "Disk full" in admin.get("/incidents?status=resolved").get_data(as_text=True)
    found = admin.get("/incidents?status=all&q=cpu").get_data(as_text=True)
    assert "CPU high" in found and "Disk full" not in found
    assert "No incidents match" in admin.get("/incidents?status=all&q=nothing-like-this").get_data(as_text=True)


def test_incident_detail_escapes_the_payload_and_links_only_http(admin, setup):
    setup.services({"name": "web", "trigger": [{"title_from": "title", "map_incident_with": "id"}]})
    token = setup.token()
    post(admin, token, {"id": "x", "title": "<script>alert(1)</script>",
                        "runbook": "javascript:alert(2)", "generatorURL": "https://prom.example/graph?g0=1"})
    text = admin.get("/incidents/1").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'href="javascript:' not in text
    assert 'href="https://prom.example/graph?g0=1"' in text


def test_acknowledge_resolve_and_comment_from_the_detail_page(admin, setup):
    setup.services(ALERTMANAGER)
    post(admin, setup.token(), firing())
    response = admin.post("/incidents/1/acknowledge")
    assert response.status_code == 302 and response.headers["HX-Trigger"] == "incidents-changed"
    admin.post("/incidents/1/unacknowledge")
    admin.post("/incidents/1/comment", data={"text": "looking at it"})
    admin.post("/incidents/1/resolve")
    assert setup.query("SELECT kind, actor, note FROM incident_events ORDER BY id") == [
        ("created", None, None), ("acknowledged", "admin@example.com", None),
        ("unacknowledged", "admin@example.com", None), ("comment", "admin@example.com", "looking at it"),
        ("resolved", "admin@example.com", None)]
    page = admin.get("/incidents/1").get_data(as_text=True)
    assert "looking at it" in page and "Acknowledge</button>" not in page
    assert admin.get("/incidents/99").status_code == 404


def test_bulk_acknowledge(admin, setup):
    setup.services(ALERTMANAGER)
    token = setup.token()
    for key in ("a", "b", "c"):
        post(admin, token, firing(key))
    admin.post("/incidents/bulk", data={"action": "acknowledge", "ids": ["1", "3"]})
    assert [r[0] for r in setup.query("SELECT status FROM incidents ORDER BY id")] == [
        "acknowledged", "triggered", "acknowledged"]


def test_token_is_shown_once_works_and_can_be_revoked(admin, setup):
    setup.services(ALERTMANAGER)
    page = admin.get("/tokens").get_data(as_text=True)
    assert "http://localhost/v1/process" in page and "No tokens yet" in page
    created = admin.post("/tokens", data={"name": "prom", "service": ""}, follow_redirects=True)
    assert created.headers["Cache-Control"] == "no-store"
    token = re.search(r'<code id="new-token">(cg_[^<]+)</code>', created.get_data(as_text=True)).group(1)
    assert "Authorization: Bearer " + token in created.get_data(as_text=True)
    assert 'value="prom"' not in created.get_data(as_text=True)  # the form is empty again
    assert token not in admin.get("/tokens").get_data(as_text=True)  # never shown again
    assert post(admin, token, firing()).status_code == 201
    admin.post("/tokens/1/revoke")
    assert post(admin, token, firing("other")).status_code == 401
    assert "revoked" in admin.get("/tokens").get_data(as_text=True)


def test_token_form_errors_come_back_with_422(admin):
    response = admin.post("/tokens", data={"name": "", "service": "999"})
    assert response.status_code == 422


def test_responders_cannot_manage_tokens(add_user, sign_in, app, client):
    sign_in(client, *add_user(app, "responder@example.com", admin=False))
    assert "New token" not in client.get("/tokens").get_data(as_text=True)
    assert client.post("/tokens", data={"name": "x", "service": ""}).status_code == 403


def test_security_headers(admin):
    response = admin.get("/incidents")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_csrf_protects_dashboard_posts_but_not_the_api(add_user, make_app, setup_for, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", tmp_path, WTF_CSRF_ENABLED=True)
    setup = setup_for(app)
    setup.services(ALERTMANAGER)
    token = setup.token()
    add_user(app)
    with app.test_client() as client:
        login_page = client.get("/login").get_data(as_text=True)
        assert client.post("/login", data={"email": "admin@example.com",
                                           "password": "correct horse"}).status_code == 400
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
        assert client.post("/login", data={"email": "admin@example.com", "password": "correct horse",
                                           "csrf_token": csrf}).status_code == 302
        post(client, token, firing())  # the API needs no CSRF token
        page = client.get("/incidents").get_data(as_text=True)
        header = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        assert client.post("/incidents/1/acknowledge").status_code == 400
        assert client.post("/incidents/1/acknowledge", headers={"X-CSRFToken": header}).status_code == 302


def test_rotate_replaces_the_token_and_the_test_call_button_sends_with_it(admin, setup):
    setup.services(ALERTMANAGER)
    first = re.search(r'id="new-token">(cg_[^<]+)<', admin.post("/tokens", data={"name": "prom", "service": "1"}, follow_redirects=True)
                      .get_data(as_text=True)).group(1)
    rotated = admin.post("/tokens/1/rotate", follow_redirects=True).get_data(as_text=True)
    second = re.search(r'id="new-token">(cg_[^<]+)<', rotated).group(1)
    assert second != first and "The old prom token" in rotated
    assert post(admin, first, firing()).status_code == 401
    assert post(admin, second, firing()).status_code == 201
    assert setup.query("SELECT name, service_id FROM api_tokens WHERE revoked_at IS NULL") == [("prom", 1)]
    button = re.search(r'<input type="hidden" name="token" value="(\d+)">', rotated).group(1)
    sent = admin.post("/test", data={"token": button, "content_type": "application/json",
                                     "source": "callgoose-test", "body": '{"status": "firing", "groupKey": "t"}',
                                     "send": "1"})
    assert "Sent: the answer was" in sent.get_data(as_text=True)


def test_five_wrong_passwords_lock_the_account_for_a_while(add_user, app, client, setup, monkeypatch):
    email, password = add_user(app)
    for _ in range(5):
        assert client.post("/login", data={"email": email, "password": "wrong"}).status_code == 422
    locked = client.post("/login", data={"email": email, "password": password})  # right, but locked
    unknown = client.post("/login", data={"email": "nobody@example.com", "password": "x"})
    # Issue 6 D19: the right password on a locked account says so, and until when.
    assert locked.status_code == 422 and "This account is locked" in locked.get_data(as_text=True)
    assert "until" in locked.get_data(as_text=True)
    assert "Wrong email or password." in unknown.get_data(as_text=True)
    later = clock.now() + 15 * 60 + 1
    monkeypatch.setattr(clock, "now", lambda: later)
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    assert setup.query("SELECT failed_logins, locked_until FROM users") == [(0, None)]
