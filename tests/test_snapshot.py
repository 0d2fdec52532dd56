"""One incident object (S36) for every consumer: the JSON API and the service webhooks' events
are built by one function, so they cannot drift (the review found two serializers)."""

from __future__ import annotations

import time

from helpers import firing, post
from receivers import WebhookReceiver
from test_paging import TWO_LEVELS, WEBHOOK_SECRET, configure, people, run_jobs

from callgoose.services import snapshot


def test_the_api_and_every_webhook_event_carry_the_same_incident_object(paging_app, setup_for):
    setup = setup_for(paging_app)
    with WebhookReceiver(WEBHOOK_SECRET) as receiver:
        configure(paging_app, people(TWO_LEVELS, service_extra={"webhooks": [
            {"url": receiver.url, "secret": WEBHOOK_SECRET}]}))
        client = paging_app.test_client()
        token = setup.token()
        headers = {"Authorization": f"Bearer {token}"}
        assert post(client, token, firing("g1", summary="Disk full")).status_code == 201
        incident_id = client.get("/v1/incidents", headers=headers).get_json()["incidents"][0]["id"]
        seen = {"triggered": client.get(f"/v1/incidents/{incident_id}", headers=headers).get_json()}
        assert client.post(f"/v1/incidents/{incident_id}/acknowledge", headers=headers).status_code == 200
        seen["acknowledged"] = client.get(f"/v1/incidents/{incident_id}", headers=headers).get_json()
        assert client.post(f"/v1/incidents/{incident_id}/resolve", headers=headers).status_code == 200
        seen["resolved"] = client.get(f"/v1/incidents/{incident_id}", headers=headers).get_json()
        run_jobs(paging_app, time.time() + 1)
        events = {r["json"]["event"]: r["json"]["incident"] for r in receiver.requests}
    assert set(events) == {"incident.triggered", "incident.acknowledged", "incident.resolved"}
    for status, from_api in seen.items():
        assert set(from_api) == set(snapshot.FIELDS)
        assert events[f"incident.{status}"] == from_api
    assert seen["resolved"]["title"] == "Disk full" and seen["resolved"]["resolved_at"] is not None
