"""Isolation: an Alertmanager group as Alertmanager sends it, however large (S6, S38).

Alertmanager posts a whole group in one request and does not usefully retry a 4xx; an outage
of thousands of alerts must open, and later resolve, every one of them.
"""

from __future__ import annotations

import json

import pytest
from helpers import as_json, post
from servers import post as post_to, running_servers

from callgoose import clock
from callgoose.services import templates

GROUP_SIZE = 2000


def am_alert(index: int, status: str) -> dict:
    """One alert as Alertmanager's webhook (version 4) carries it."""
    instance = f"node-{index:04d}.dc1.example.com:9100"
    return {
        "status": status,
        "labels": {"alertname": "NodeDown", "instance": instance, "job": "node", "severity": "critical",
                   "datacenter": "dc1", "rack": f"r{index % 40:02d}", "team": "infrastructure",
                   "cluster": "prod-eu-1", "prometheus": "monitoring/k8s", "endpoint": "metrics",
                   "service": "node-exporter"},
        "annotations": {"summary": f"{instance} is unreachable",
                        "description": f"Prometheus has not scraped {instance} for more than 2 minutes; "
                                       "the host or its network may be down.",
                        "runbook_url": "https://runbooks.example.com/node/NodeDown"},
        "startsAt": "2026-12-01T09:12:04.123Z",
        "endsAt": "2026-12-01T09:41:04.123Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up%7Bjob%3D%22node%22%7D+%3D%3D+0&g0.tab=1",
        "fingerprint": f"{index:016x}",
    }


def am_group(size: int, status: str) -> dict:
    """A group of ``size`` alerts in one webhook body, all with ``status``."""
    return {"receiver": "callgoose", "status": status, "alerts": [am_alert(i, status) for i in range(size)],
            "groupLabels": {"alertname": "NodeDown"},
            "commonLabels": {"alertname": "NodeDown", "job": "node", "severity": "critical", "datacenter": "dc1"},
            "commonAnnotations": {"runbook_url": "https://runbooks.example.com/node/NodeDown"},
            "externalURL": "http://alertmanager:9093", "version": "4",
            "groupKey": "{}/{severity=\"critical\"}:{alertname=\"NodeDown\"}", "truncatedAlerts": 0}


@pytest.fixture
def am_token(app, setup):
    """A service made from the Alertmanager template (split on ``alerts``) and its token."""
    with app.app_context():
        templates.create_service("prometheus", "alertmanager", clock.now())
    return setup.token("am", service="prometheus")


def test_a_group_of_2000_alerts_opens_and_resolves_every_incident(client, setup, am_token, now):
    firing = json.dumps(am_group(GROUP_SIZE, "firing"))
    assert len(firing) > 1024 * 1024  # larger than the plain body limit (S6)
    answer = post(client, am_token, firing, content_type="application/json")
    assert answer.status_code == 201, answer.get_data(as_text=True)[:300]
    assert setup.query("SELECT count(*), count(DISTINCT mapping_value) FROM incidents "
                       "WHERE status = 'triggered'") == [(GROUP_SIZE, GROUP_SIZE)]
    now.set(1800)
    done = post(client, am_token, json.dumps(am_group(GROUP_SIZE, "resolved")), content_type="application/json")
    assert done.status_code == 200, done.get_data(as_text=True)[:300]
    assert setup.query("SELECT status, count(*) FROM incidents GROUP BY status") == [("resolved", GROUP_SIZE)]
    [(statuses,)] = setup.query("SELECT results FROM api_calls WHERE id = :i", i=done.get_json()["id"])
    assert len(as_json(statuses)) == GROUP_SIZE  # every element has its outcome in the API log


def test_the_larger_limits_reach_only_tokens_of_a_splitting_service_and_a_cap_is_never_silent(
        make_app, setup_for, tmp_path, caplog):
    app = make_app(f"sqlite:///{tmp_path / 'limits.sqlite'}", tmp_path, MAX_BODY_BYTES=1000,
                   SPLIT_MAX_BODY_BYTES=20_000, SPLIT_MAX_ELEMENTS=5)
    s = setup_for(app)
    with app.app_context():
        templates.create_service("prometheus", "alertmanager", clock.now())
    s.services({"name": "plain", "trigger": [{}]})
    split_token, plain_token = s.token("am", service="prometheus"), s.token("plain", service="plain")
    group = json.dumps(am_group(5, "firing"))
    assert 1000 < len(group) < 20_000
    with app.test_client() as c:
        # A token that reaches a splitting service may send a group up to SPLIT_MAX_BODY_BYTES ...
        assert post(c, split_token, group, content_type="application/json").status_code == 201
        # ... and no further; any other token keeps MAX_BODY_BYTES (S6).
        too_big = post(c, split_token, "x" * 20_001, content_type="text/plain")
        assert too_big.status_code == 413 and too_big.get_json()["error"] == "payload_too_large"
        assert post(c, plain_token, group, content_type="application/json").status_code == 413
        assert post(c, plain_token, "x" * 1000, content_type="text/plain").status_code == 201
        # More elements than a call may carry: refused as a whole, said in the answer and the log,
        # never a 2xx that leaves alerts unevaluated; nothing of it is processed.
        caplog.clear()
        capped = post(c, split_token, json.dumps(am_group(6, "firing")), content_type="application/json")
    assert capped.status_code == 413, capped.get_data(as_text=True)
    message = capped.get_json()["message"]
    assert capped.get_json()["error"] == "payload_too_large" and "6 elements" in message and "5" in message
    assert s.query("SELECT count(*) FROM incidents i JOIN services v ON v.id = i.service_id "
                   "WHERE v.name = 'prometheus'") == [(5,)]
    # The API log shows it: the newest call, 413, with why.
    [(status, size, error)] = s.query("SELECT status, size, error FROM api_calls ORDER BY received_at DESC, id DESC "
                                      "LIMIT 1")
    assert (status, size) == (413, len(json.dumps(am_group(6, "firing")))) and "6 elements" in error
    assert "split on alerts" in error
    assert any(r.levelname == "WARNING" and "413" in r.getMessage() for r in caplog.records)


def test_serve_takes_a_whole_group_and_answers_only_after_it_is_committed(make_app, setup_for, database_url,
                                                                          tmp_path):
    """The same group through ``serve`` (waitress's own body limit must let it reach the app)."""
    app = make_app(database_url, tmp_path)
    s = setup_for(app)
    with app.app_context():
        templates.create_service("prometheus", "alertmanager", clock.now())
    token = s.token("am", service="prometheus")
    with running_servers(database_url, tmp_path, threads=2) as (port,):
        status, body = post_to(port, token, am_group(GROUP_SIZE, "firing"))
        assert status == 201, body
        # Committed before the answer (S32): read at once, through another connection.
        assert s.query("SELECT count(*) FROM incidents WHERE status = 'triggered'") == [(GROUP_SIZE,)]
        status, body = post_to(port, token, am_group(GROUP_SIZE, "resolved"))
        assert status == 200, body
        assert s.query("SELECT count(*) FROM incidents WHERE status = 'resolved'") == [(GROUP_SIZE,)]
