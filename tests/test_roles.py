"""Roles (issue 19, item 4): admin, responder and viewer, in the document, the CLI, the Users
page and the dashboard. A viewer reads what a responder reads and changes nothing but their own
settings; the route audit (test_route_audit.py) sweeps the whole URL map."""

import json

import pytest
from helpers import ALERTMANAGER, firing, post
from werkzeug.security import check_password_hash

from callgoose.services import users
from callgoose.services.users import UserError

VIEWER = ("viewer@example.com", "viewer password")


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_the_document_round_trips_a_viewer_and_refuses_an_unknown_role(runner, setup, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"users": [{"email": "v@example.com", "name": "Vi", "role": "viewer"},
                                          {"email": "r@example.com", "name": "Re"}], "services": []}))
    result = runner.invoke(args=["import-config", str(path)])
    assert result.exit_code == 0, result.output
    exported = json.loads(runner.invoke(args=["export-config"]).stdout)
    assert {u["email"]: u["role"] for u in exported["users"]} == {"v@example.com": "viewer",
                                                                  "r@example.com": "responder"}
    path.write_text(json.dumps(exported))  # the export imports again unchanged
    assert runner.invoke(args=["import-config", str(path)]).exit_code == 0
    assert json.loads(runner.invoke(args=["export-config"]).stdout) == exported
    path.write_text(json.dumps({"users": [{"email": "o@example.com", "role": "observer"}], "services": []}))
    result = runner.invoke(args=["import-config", str(path)])
    assert result.exit_code == 1 and "users[0].role: must be admin, responder or viewer" in result.output


@pytest.mark.parametrize("flags, role", [
    ([], "responder"), (["--admin"], "admin"), (["--viewer"], "viewer"), (["--role", "viewer"], "viewer"),
])
def test_the_cli_creates_each_role(runner, setup, flags, role):
    result = runner.invoke(args=["create-user", "p@example.com", "--password", "long enough", *flags])
    assert result.exit_code == 0 and f"Created {role} p@example.com" in result.output, result.output
    assert setup.query("SELECT role FROM users") == [(role,)]


def test_the_cli_refuses_an_unknown_role(runner, setup):
    result = runner.invoke(args=["create-user", "p@example.com", "--password", "long enough", "--role", "owner"])
    assert result.exit_code != 0 and setup.query("SELECT count(*) FROM users") == [(0,)]


def test_an_admin_adds_a_viewer_and_changes_roles_on_the_users_page(admin, app, add_user, setup):
    assert admin.post("/users", data={"email": "v@example.com", "role": "viewer",
                                      "password": "long enough"}).status_code == 302
    page = admin.get("/users").get_data(as_text=True)
    assert 'action="/users/2/role"' in page and 'action="/users/1/role"' not in page  # not one's own
    assert admin.post("/users/2/role", data={"role": "responder"}).status_code == 302
    assert admin.post("/users/2/role", data={"role": "admin"}).status_code == 302
    assert setup.query("SELECT role FROM users ORDER BY id") == [("admin",), ("admin",)]
    admin.post("/users/2/role", data={"role": "owner"})  # not a role: nothing changes
    admin.post("/users/1/role", data={"role": "viewer"})  # one's own: refused
    assert setup.query("SELECT role FROM users ORDER BY id") == [("admin",), ("admin",)]
    assert "You cannot change your own role." in admin.get("/users").get_data(as_text=True)


def test_the_last_active_admin_keeps_the_role(app, add_user, setup):
    add_user(app)
    add_user(app, "r@example.com", admin=False)
    with app.app_context():
        with pytest.raises(UserError, match="last active admin"):
            users.set_role(1, "viewer", by_user_id=2)
        users.set_role(2, "admin", by_user_id=1)
        users.set_role(1, "viewer", by_user_id=2)  # another admin remains
    assert setup.query("SELECT role FROM users ORDER BY id") == [("viewer",), ("admin",)]


def _incident(app, setup, client):
    setup.services(ALERTMANAGER)
    post(client, setup.token(), firing(summary="Disk full on db1"))


def test_a_viewer_sees_incidents_but_changes_none_and_sees_no_buttons(app, client, add_user, sign_in, setup):
    _incident(app, setup, client)
    add_user(app)
    sign_in(client, *add_user(app, *VIEWER[:1], password=VIEWER[1], role="viewer"))
    listing = client.get("/incidents")
    assert listing.status_code == 200 and "Disk full on db1" in listing.get_data(as_text=True)
    text = listing.get_data(as_text=True)
    assert "Acknowledge ticked" not in text and 'name="ids"' not in text
    page = client.get("/incidents/1").get_data(as_text=True)
    assert "Disk full on db1" in page and "/incidents/1/acknowledge" not in page and "/incidents/1/comment" not in page
    for path, data in (("/incidents/1/acknowledge", {}), ("/incidents/1/resolve", {}),
                       ("/incidents/1/comment", {"text": "mine"}), ("/incidents/bulk", {"action": "resolve", "ids": "1"})):
        assert client.post(path, data=data).status_code == 403, path
    assert setup.query("SELECT status FROM incidents") == [("triggered",)]
    assert setup.query("SELECT count(*) FROM incident_events WHERE kind = 'comment'") == [(0,)]
    assert "(viewer)" in client.get("/settings").get_data(as_text=True)


def test_a_responder_sees_the_buttons_a_viewer_does_not(app, client, add_user, sign_in, setup):
    _incident(app, setup, client)
    add_user(app)
    sign_in(client, *add_user(app, "r@example.com", admin=False))
    assert "Acknowledge ticked" in client.get("/incidents").get_data(as_text=True)
    page = client.get("/incidents/1").get_data(as_text=True)
    assert "/incidents/1/acknowledge" in page and "/incidents/1/comment" in page
    assert client.post("/incidents/1/acknowledge").status_code == 302
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]


def test_a_viewer_manages_their_own_settings(app, client, add_user, sign_in, setup):
    add_user(app)
    sign_in(client, *add_user(app, *VIEWER[:1], password=VIEWER[1], role="viewer"))
    assert client.post("/notifications/me/handoffs", data={}).status_code != 403
    assert client.post("/settings/password", data={"current": VIEWER[1], "password": "a new password",
                                                   "confirm": "a new password"}).status_code != 403
    assert check_password_hash(setup.query("SELECT password_hash FROM users WHERE id = 2")[0][0], "a new password")
    assert client.post("/schedules/1/overrides", data={}).status_code == 403
    assert client.post("/users/1/role", data={"role": "viewer"}).status_code == 403


def test_a_role_change_holds_from_the_next_request(dbapp, add_user, sign_in, setup_for):
    # not pytest-flask's ``app``: its shared ``g`` would keep the user of the first request
    app, client, setup = dbapp, dbapp.test_client(), setup_for(dbapp)
    _incident(app, setup, client)
    add_user(app)
    sign_in(client, *add_user(app, *VIEWER[:1], password=VIEWER[1], role="viewer"))
    assert client.post("/incidents/1/acknowledge").status_code == 403
    with app.app_context():
        users.set_role(2, "responder", by_user_id=1)
    assert client.post("/incidents/1/acknowledge").status_code == 302
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]


def test_a_viewer_named_in_a_policy_is_paged_and_acknowledges_from_the_mail_link(paging_app, setup_for, smtp):
    """A viewer changes nothing in the dashboard, but a policy that names them pages them, and
    their mail's signed link acts as them: the link is the credential, not the session's role."""
    import time

    from helpers import configure, run_jobs
    from receivers import links_in, text_of

    setup = setup_for(paging_app)
    configure(paging_app, {
        "users": [{"email": "vi@example.com", "name": "Vi", "role": "viewer",
                   "contact_methods": [{"name": "mail", "type": "email", "address": "vi@example.com"}],
                   "notification_rules": [{"contact_method": "mail", "after_minutes": 0}]}],
        "escalation_policies": [{"name": "checkout", "levels": [
            {"escalate_after_minutes": 5, "targets": [{"user": "vi@example.com"}]}]}],
        "services": [{**ALERTMANAGER, "escalation_policy": "checkout"}]})
    client = paging_app.test_client()
    assert post(client, setup.token(), firing("g1", "CPU high")).status_code == 201
    run_jobs(paging_app, time.time() + 1)
    (mail,) = smtp.mailbox.wait(1)
    assert mail["To"] == "vi@example.com"
    body = text_of(mail)
    ack = next(link for link in links_in(body) if "/l/" in link and "Acknowledge" in body.split(link)[0][-20:])
    path = ack[ack.index("/l/"):]
    assert client.post(path).status_code == 200
    assert setup.query("SELECT status FROM incidents") == [("acknowledged",)]
    actor = setup.query("SELECT actor FROM incident_events WHERE kind = 'acknowledged'")[0][0]
    assert actor.startswith("vi@example.com")
