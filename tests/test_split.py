"""S38: a service may split a payload on an array key; each element is a payload of its own."""

import json

import pytest
from helpers import as_json, flags, post

from callgoose.engine import Payload, SpecError, parse_config, split

BATCHED = {
    "name": "prometheus", "split_on": "alerts",
    "trigger": [{"urgency": "low", "conditions": [{"json_key": "status", "contains": ["firing"]},
                                                  {"json_key": "$.commonLabels.env", "contains": ["staging"]}],
                 "title_from": "labels.alertname", "map_incident_with": "fingerprint"},
                {"conditions": [{"json_key": "status", "contains": ["firing"]}],
                 "title_from": "labels.alertname", "map_incident_with": "fingerprint"}],
    "resolve": [{"conditions": [{"json_key": "status", "contains": ["resolved"]}],
                 "incident_mapped_with": "fingerprint"}],
}


def alert(fingerprint, status="firing", name="HighCPU"):
    return {"status": status, "labels": {"alertname": name}, "fingerprint": fingerprint}


def batch(*alerts, env="prod", status="firing"):
    return {"status": status, "alerts": list(alerts), "commonLabels": {"env": env}}




@pytest.fixture
def token(setup, now):
    setup.services(BATCHED)
    return setup.token("am")


def incidents(setup):
    return setup.query("SELECT mapping_value, status, urgency, title, duplicate_count FROM incidents ORDER BY id")


def test_s38_each_alert_of_a_batch_opens_its_own_incident(client, setup, token):
    answer = post(client, token, batch(alert("a1"), alert("b2", name="DiskFull")))
    assert answer.status_code == 201
    assert [(m, s, t) for m, s, _, t, _ in incidents(setup)] == [("a1", "triggered", "HighCPU"),
                                                                  ("b2", "triggered", "DiskFull")]


def test_s38_a_new_failure_does_not_hide_behind_an_old_one(client, setup, token, now):
    assert post(client, token, batch(alert("a1"))).status_code == 201
    now.set(400)
    # The group's next notification, after the duplicate window: the old alert again and a new
    # one. The old one is a duplicate of its open incident (S26), the new one opens (201, the
    # flags ORed as for services, S5).
    answer = post(client, token, batch(alert("a1"), alert("c3", name="Latency")))
    assert answer.status_code == 201 and flags(answer)["triggered"] == {"duplicate": True, "created": True}
    assert [(m, d) for m, _, _, _, d in incidents(setup)] == [("a1", 1), ("c3", 0)]


def test_s38_each_alert_resolves_its_own_incident(client, setup, token, now):
    post(client, token, batch(alert("a1"), alert("b2")))
    now.set(10)
    answer = post(client, token, batch(alert("a1", "resolved"), alert("b2"), status="firing"))
    assert answer.status_code == 200 and flags(answer) == {"resolved": {"duplicate": False, "resolved": True},
                                                           "triggered": {"duplicate": True, "created": False}}
    assert [(m, s) for m, s, *_ in incidents(setup)] == [("a1", "resolved"), ("b2", "triggered")]


def test_s38_the_whole_payload_s_keys_with_a_leading_dollar(client, setup, token):
    post(client, token, batch(alert("s1"), env="staging"))
    post(client, token, batch(alert("p1"), env="prod"))
    assert [(m, u) for m, _, u, _, _ in incidents(setup)] == [("s1", "low"), ("p1", "high")]


def test_s38_replays_are_per_element(client, setup, token, now):
    body = batch(alert("a1"))
    assert post(client, token, body).status_code == 201
    now.set(5)
    again = post(client, token, body)  # the same alert again within the window: a replay (S27)
    assert again.status_code == 208
    outcome = as_json(setup.query("SELECT results FROM api_calls ORDER BY received_at DESC LIMIT 1")[0][0])
    assert outcome[0]["replay"] is True and outcome[0]["element"] == "alerts[0]"
    # The same element inside another batch is still that element: a replay too, by its own text.
    now.set(6)
    other = post(client, token, batch(alert("a1"), alert("z9")))
    assert other.status_code == 201
    results = as_json(setup.query("SELECT results FROM api_calls ORDER BY received_at DESC LIMIT 1")[0][0])
    assert [(r["element"], r.get("replay", False), r["status"]) for r in results] == [("alerts[0]", True, 208),
                                                                                           ("alerts[1]", False, 201)]


def test_s38_the_api_log_shows_each_element_s_outcome(admin, client, setup, token):
    answer = post(client, token, batch(alert("a1"), {"status": "pending", "fingerprint": "x"}))
    page = client.get(f"/calls/{answer.get_json()['id']}").get_data(as_text=True)
    # Each element's outcome under the service: the firing alert opened its incident, the
    # pending one held no rule.
    assert "prometheus · <code>alerts[0]</code>: 201 created an incident" in page
    assert "prometheus · <code>alerts[1]</code>: 202 nothing to do" in page


def test_s38_without_the_array_the_payload_is_evaluated_whole(client, setup, token):
    answer = post(client, token, {"status": "firing", "fingerprint": "whole", "labels": {"alertname": "Plain"}})
    assert answer.status_code == 201 and incidents(setup)[0][0] == "whole"
    empty = post(client, token, batch())  # an empty array: nothing to evaluate
    assert empty.status_code == 202


def test_s38_engine_split_reads_elements_and_the_whole():
    payload = Payload.from_text('{"a": {"list": [{"k": 1.50}, "text", 7, null, [1]]}, "top": "T"}')
    parts, count = split(payload, "a.list")
    assert count == 5 and [p.text for p in parts] == ['{"k":1.50}', "text", "7", "null", "[1]"]
    assert parts[0].value("k") == "1.50" and parts[0].value("$.top") == "T" and parts[0].value("$") == payload.text
    assert split(payload, "top") is None and split(payload, "missing") is None
    assert split(Payload.from_text(json.dumps({"s": json.dumps([{"x": 1}])})), "s")[0][0].value("x") == "1"  # S11
    many = Payload.from_text(json.dumps({"l": list(range(600))}))
    cut, total = split(many, "l", 500)
    assert len(cut) == 500 and total == 600


@pytest.mark.parametrize("value, message", [(5, "must be a json key"), ("", "must be a json key"),
                                            ("$.alerts", "no leading $")])
def test_s38_split_on_is_checked_on_import(value, message):
    with pytest.raises(SpecError) as caught:
        parse_config({"services": [{**BATCHED, "split_on": value}]})
    assert caught.value.path == "services[0].split_on" and message in caught.value.message


def test_s38_split_on_is_exported_and_imported(app, setup, token):
    from callgoose.services.catalog import current_config
    with app.app_context():
        exported = current_config()
    [service] = exported["services"]
    assert service["split_on"] == "alerts"


def test_s38_the_service_page_sets_and_clears_split_on(admin, client, setup, token):
    service_id = setup.query("SELECT id FROM services WHERE name = 'prometheus'")[0][0]
    page = client.get(f"/services/{service_id}").get_data(as_text=True)
    assert 'name="split_on" value="alerts"' in page
    bad = client.post(f"/services/{service_id}/settings", data={"enabled": "1", "window": "", "split_on": "$.alerts"},
                      follow_redirects=True).get_data(as_text=True)
    assert "Split on names a key of the payload itself (no leading $)" in bad
    assert setup.query("SELECT split_on FROM services WHERE id = :i", i=service_id) == [("alerts",)]
    client.post(f"/services/{service_id}/settings", data={"enabled": "1", "window": "", "split_on": ""})
    assert setup.query("SELECT split_on FROM services WHERE id = :i", i=service_id) == [(None,)]
    assert post(client, token, batch(alert("a1"), alert("b2"))).status_code == 201  # now evaluated whole
    assert [m for m, *_ in incidents(setup)] == [None]  # one incident, with no mapping value
