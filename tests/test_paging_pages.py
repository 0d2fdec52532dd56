"""Issue 8, item 10: the paging pages, as a person uses them (dashboard client tests)."""

from __future__ import annotations

import re

from helpers import ALERTMANAGER, firing, post


def user_id(setup, email):
    return setup.query("SELECT id FROM users WHERE email = :e", e=email)[0][0]


def test_a_service_without_a_policy_says_nobody_is_paged_until_one_is_chosen(app, setup, client, add_user, sign_in):
    setup.services(ALERTMANAGER)
    sign_in(client, *add_user(app))
    service_id = setup.query("SELECT id FROM services")[0][0]
    assert "nobody is paged for this service" in client.get("/services").get_data(as_text=True)
    page = client.get(f"/services/{service_id}").get_data(as_text=True)
    assert "Nobody is paged for this service" in page and 'id="nobody-paged"' in page
    admin = user_id(setup, "admin@example.com")
    # A refused level says why and saves nothing.
    refused = client.post("/policies/new", data={"name": "checkout", "level0_users": [admin], "level0_after": "0"},
                          follow_redirects=True).get_data(as_text=True)
    assert "level 1, minutes to the next level: must be a whole number of minutes from 1" in refused
    assert setup.query("SELECT count(*) FROM escalation_policies") == [(0,)]
    saved = client.post("/policies/new", data={"name": "checkout", "level0_users": [admin], "level0_after": "5",
                                               "repeat": "2"})
    assert saved.status_code == 302
    policy_id = setup.query("SELECT id FROM escalation_policies")[0][0]
    page = client.get("/policies").get_data(as_text=True)
    assert "at 0 min: admin@example.com; repeats twice" in page
    assert "Without a verified contact method: admin@example.com" in page  # the default email is unverified
    assert client.post(f"/services/{service_id}/policy", data={"policy_id": policy_id}).status_code == 302
    page = client.get(f"/services/{service_id}").get_data(as_text=True)
    assert 'id="nobody-paged"' not in page and "Escalation policy" in page and "checkout</a>" in page
    assert "nobody is paged for this service" not in client.get("/services").get_data(as_text=True)


def test_the_incident_page_shows_who_was_paged_and_who_is_next(app, setup, client, add_user, sign_in):
    setup.services(ALERTMANAGER)
    email, password = add_user(app)
    sign_in(client, email, password)
    admin = user_id(setup, email)
    method_id = setup.query("SELECT id FROM contact_methods WHERE user_id = :u", u=admin)[0][0]
    client.post(f"/notifications/me/methods/{method_id}/verify")  # an admin's word
    add_user(app, "bo@example.com", admin=False)
    bo = user_id(setup, "bo@example.com")
    client.post("/policies/new", data={"name": "two", "level0_users": [admin], "level0_after": "5",
                                       "level1_users": [bo], "level1_after": "5"})
    policy_id = setup.query("SELECT id FROM escalation_policies")[0][0]
    service_id = setup.query("SELECT id FROM services")[0][0]
    client.post(f"/services/{service_id}/policy", data={"policy_id": policy_id})
    assert post(client, setup.token(), firing("g1")).status_code == 201
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Escalating with two (level 1 of 2 notified)" in page
    assert re.search(r"Next:</strong> level 2: bo@example.com at \d\d:\d\d:\d\d UTC", page)
    assert "Paged: admin@example.com by email (pending)" in page
    # The ledger line in the timeline: a page, to whom, by what, at which level, queued when.
    assert re.search(r"Page\s+to admin@example\.com\s+by email\s+<span class=\"hint\">\(admin@example\.com\)</span>, "
                     r"level 1:\s+queued \d\d:\d\d:\d\d", page)
    # The ledger page lists it, and filters.
    assert "admin@example.com" in client.get("/notifications").get_data(as_text=True)
    assert "No notifications match these filters" in client.get("/notifications?channel=sms").get_data(as_text=True)
    # Bo's own page flags that nobody can reach him.
    bo_page = client.get(f"/notifications/me?user_id={bo}").get_data(as_text=True)
    assert "No verified contact method" in bo_page


def test_a_responder_manages_only_their_own_notifications(app, setup, client, add_user, sign_in):
    add_user(app)
    admin = user_id(setup, "admin@example.com")
    sign_in(client, *add_user(app, "ri@example.com", admin=False))
    assert client.get(f"/notifications/me?user_id={admin}").status_code == 403
    assert client.post("/notifications/me/methods", data={"user_id": admin, "name": "x", "type": "email",
                                                          "address": "x@example.com"}).status_code == 403
    own = client.post("/notifications/me/methods", data={"name": "phone", "type": "sms", "address": "0800 123"},
                      follow_redirects=True).get_data(as_text=True)
    assert "must be a phone number in E.164 form" in own
    client.post("/notifications/me/methods", data={"name": "phone", "type": "sms", "address": "+1 415 555 0100"})
    assert setup.query("SELECT address FROM contact_methods WHERE channel = 'sms'") == [("+14155550100",)]
    method_id = setup.query("SELECT id FROM contact_methods WHERE channel = 'sms'")[0][0]
    assert client.post(f"/notifications/me/methods/{method_id}/verify").status_code == 403
    assert client.post("/policies/new", data={"name": "mine"}).status_code == 403


def test_send_again_returns_only_to_a_page_of_this_server(app, setup, client, add_user, sign_in):
    sign_in(client, *add_user(app))
    for target in ("/\\evil.example/x", "//evil.example/x", "/\t/evil.example", "https://evil.example/"):
        response = client.post("/notifications/1/resend", data={"next": target})
        assert response.status_code == 302 and response.headers["Location"] == "/notifications", target
    assert client.post("/notifications/1/resend", data={"next": "/incidents/7"}).headers["Location"] == "/incidents/7"


def test_saving_a_webhook_to_a_private_address_warns(app, setup, client, add_user, sign_in):
    setup.services(ALERTMANAGER)
    sign_in(client, *add_user(app))
    service_id = setup.query("SELECT id FROM services")[0][0]
    page = client.post(f"/services/{service_id}/webhooks", data={
        "url": "http://10.1.2.3/hook", "secret": "0123456789abcdef", "events": ["incident.triggered"]},
        follow_redirects=True).get_data(as_text=True)
    assert "Webhook added. Warning: The URL 10.1.2.3 is a loopback, private or link-local address" in page
    short = client.post(f"/services/{service_id}/webhooks", data={"url": "https://example.com/h", "secret": "short"},
                        follow_redirects=True).get_data(as_text=True)
    assert "secret is required: a secret of 16 to 200 characters" in short
