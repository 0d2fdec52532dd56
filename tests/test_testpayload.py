"""The test payload form: a dry run changes nothing and agrees with the real endpoint."""

import re

import pytest
from helpers import ALERTMANAGER, post

TABLES = ("api_calls", "incidents", "incident_events", "replay_markers")


@pytest.fixture
def admin(add_user, sign_in, app, client):
    sign_in(client, *add_user(app))
    return client


def counts(setup):
    return {t: setup.query(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def test_page_explains_when_there_is_no_token(admin):
    text = admin.get("/test").get_data(as_text=True)
    assert "There is no live token yet" in text


def test_dry_run_changes_nothing_and_agrees_with_the_real_call(admin, setup):
    setup.services(ALERTMANAGER)
    token = setup.token("prom")
    page = admin.get("/test").get_data(as_text=True)
    assert "HighCPU" in page  # the sample body
    before = counts(setup)
    body = '{"status": "firing", "groupKey": "db1", "commonAnnotations": {"summary": "CPU"}}'
    dry = admin.post("/test", data={"token": "1", "content_type": "application/json", "source": "test",
                                    "body": body, "dry_run": "Dry run"})
    text = dry.get_data(as_text=True)
    assert dry.status_code == 200 and "Dry run: a sender would get" in text and ">201<" in text
    assert "Trigger rule 1 held with mapping value “db1” and opened incident" in text
    assert counts(setup) == before and "HX-Trigger" not in dry.headers
    real = post(admin, token, body, content_type="application/json", query="?from=test")
    assert real.status_code == 201
    again = admin.post("/test", data={"token": "1", "content_type": "application/json", "body": body,
                                      "source": "test", "dry_run": "Dry run"})
    assert ">208<" in again.get_data(as_text=True)  # the dry run sees the real state: a replay now


def test_send_goes_through_the_endpoint_path_and_is_logged(admin, setup):
    setup.services(ALERTMANAGER)
    setup.token("prom")
    sent = admin.post("/test", data={"token": "1", "content_type": "application/json", "source": "",
                                     "body": '{"status": "firing", "groupKey": "x"}', "send": "Send"})
    text = sent.get_data(as_text=True)
    assert "Sent: the answer was" in text and sent.headers["HX-Trigger"] == "incidents-changed"
    call_id = re.search(r'href="/calls/([^"]+)"', text).group(1)
    assert setup.query("SELECT status, token_name FROM api_calls WHERE id = :id", id=call_id) == [(201, "prom")]
    assert setup.query("SELECT count(*) FROM incidents")[0][0] == 1


def test_an_empty_body_is_refused_with_422(admin, setup):
    setup.services(ALERTMANAGER)
    setup.token()
    response = admin.post("/test", data={"token": "1", "content_type": "none", "body": "", "send": "Send"})
    assert response.status_code == 422 and "Paste a payload to test." in response.get_data(as_text=True)


def test_a_routing_key_is_not_offered_it_works_only_as_an_events_routing_key(admin, setup, app):
    """Issue 18: /v1/process refuses a PagerDuty routing key, so the form does not offer one."""
    from callgoose import clock
    from callgoose.extensions import db
    from callgoose.services.tokens import ROUTING_KEY, create_token
    from callgoose.store.models import Service

    setup.services({"name": "checkout-api"})
    setup.token("prom")
    with app.app_context():
        service_id = db.session.query(Service.id).filter_by(name="checkout-api").scalar()
        create_token("pagerduty-key", service_id, clock.now(), ROUTING_KEY)
        db.session.commit()
    page = admin.get("/test").get_data(as_text=True)
    assert "prom (global" in page and "pagerduty-key" not in page
