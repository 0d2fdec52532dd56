"""Priorities P1-P5 (issue 20, item 1): rules that set them, the S34 document, the incident object."""

import json

import pytest
from helpers import ALERTMANAGER, as_json, configure, firing, post

from callgoose.engine import Payload, ServiceSpec, SpecError, evaluate
from callgoose.engine.priorities import DEFAULT_URGENCIES, build_priorities
from callgoose.engine.rules import build_trigger

SEVERITY = {"priority_from": "commonLabels.severity", "priority_map": {"critical": "P1", "warning": "P3"}}


def hit(payload: dict | str, urgencies=None, **rule):
    spec = ServiceSpec("s", trigger=(build_trigger(rule, "t"),), urgencies=urgencies or dict(DEFAULT_URGENCIES))
    payload = Payload.from_text(payload if isinstance(payload, str) else json.dumps(payload))
    found = evaluate(spec, payload).trigger
    return found.priority, found.urgency


def test_a_rule_without_priority_takes_it_from_its_urgency():
    assert hit("x") == ("P2", "high")
    assert hit("x", urgency="low") == ("P4", "low")


def test_a_fixed_priority_brings_its_urgency():
    assert hit("x", priority="P1", urgency="low") == ("P1", "high")
    assert hit("x", priority="P5") == ("P5", "low")
    assert hit("x", {**DEFAULT_URGENCIES, "P5": "high"}, priority="P5") == ("P5", "high")


@pytest.mark.parametrize("severity, expected", [
    ("critical", ("P1", "high")), ("  CRITICAL ", ("P1", "high")), ("warning", ("P3", "low")),
    ("info", ("P2", "high")), (None, ("P2", "high")),
])
def test_priority_from_a_key_through_the_map(severity, expected):
    labels = {} if severity is None else {"severity": severity}
    assert hit({"commonLabels": labels}, **SEVERITY) == expected


def test_a_rule_round_trips_its_priority_fields():
    rule = build_trigger({"conditions": [], **SEVERITY}, "t")
    assert build_trigger(rule.as_dict(), "t") == rule
    assert rule.as_dict()["priority_map"] == {"critical": "P1", "warning": "P3"}
    assert "priority" not in build_trigger({}, "t").as_dict()


@pytest.mark.parametrize("rule, path", [
    ({"priority": "P6"}, "t.priority"),
    ({"priority": 1}, "t.priority"),
    ({"priority_from": "a"}, "t.priority_map"),
    ({"priority_map": {"a": "P1"}}, "t.priority_map"),
    ({"priority_from": "a", "priority_map": {"a": "high"}}, "t.priority_map.a"),
    ({"priority_from": "a", "priority_map": ["P1"]}, "t.priority_map"),
    ({"priority": "P1", "priority_from": "a", "priority_map": {"a": "P1"}}, "t.priority_from"),
])
def test_bad_rule_priorities_are_refused_with_their_path(rule, path):
    with pytest.raises(SpecError) as refused:
        build_trigger(rule, "t")
    assert refused.value.path == path


@pytest.mark.parametrize("docs, path", [
    ({}, "priorities"),
    ([{"label": "x"}], "priorities[0].priority"),
    ([{"priority": "P1", "colour": "red"}], "priorities[0].colour"),
    ([{"priority": "P1", "urgency": "medium"}], "priorities[0].urgency"),
    ([{"priority": "P1", "acknowledge_minutes": 0}], "priorities[0].acknowledge_minutes"),
    ([{"priority": "P1", "resolve_minutes": "5"}], "priorities[0].resolve_minutes"),
    ([{"priority": "P1", "on_missed_target": "panic"}], "priorities[0].on_missed_target"),
    ([{"priority": "P1", "label": ""}], "priorities[0].label"),
    ([{"priority": "P1", "sla": 3}], "priorities[0].sla"),
    ([{"priority": "P1"}, {"priority": "P1"}], "priorities[1].priority"),
])
def test_bad_priorities_are_refused_with_their_path(docs, path):
    with pytest.raises(SpecError) as refused:
        build_priorities(docs)
    assert refused.value.path == path


def test_defaults_p1_p2_high_the_rest_low():
    assert DEFAULT_URGENCIES == {"P1": "high", "P2": "high", "P3": "low", "P4": "low", "P5": "low"}


def _export(app):
    from callgoose.services.catalog import current_config

    with app.app_context():
        return current_config()


def test_s34_round_trip_and_defaults(app):
    configure(app, {"services": [{**ALERTMANAGER, "trigger": [{**ALERTMANAGER["trigger"][0], **SEVERITY}]}]})
    doc = _export(app)
    assert [p["priority"] for p in doc["priorities"]] == ["P1", "P2", "P3", "P4", "P5"]
    assert doc["priorities"][0]["urgency"] == "high" and doc["priorities"][4]["urgency"] == "low"
    assert doc["services"][0]["trigger"][0]["priority_map"] == {"critical": "P1", "warning": "P3"}
    doc["priorities"][2].update(label="Medium", urgency="high", acknowledge_minutes=20, on_missed_target="repage")
    configure(app, doc)
    again = _export(app)
    assert again == doc
    configure(app, {"services": again["services"]})  # left out: the priorities stay as they are
    assert _export(app)["priorities"] == doc["priorities"]


def test_s34_refuses_bad_priorities_with_their_path(app):
    with pytest.raises(SpecError) as refused:
        configure(app, {"services": [], "priorities": [{"priority": "P1", "colour": "#12"}]})
    assert refused.value.path == "priorities[0].colour"


def test_an_alertmanager_critical_alert_opens_a_p1(app, client, setup):
    configure(app, {"services": [{**ALERTMANAGER, "trigger": [{**ALERTMANAGER["trigger"][0], **SEVERITY}]}]})
    token = setup.token(service="checkout-api")
    post(client, token, firing("g1", commonLabels={"severity": "critical"}))
    post(client, token, firing("g2", commonLabels={"severity": "warning"}))
    body = client.get("/v1/incidents", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [(i["mapping_value"], i["priority"], i["urgency"]) for i in body["incidents"]] == [
        ("g2", "P3", "low"), ("g1", "P1", "high")]


def test_a_priority_urgency_change_reaches_the_next_call(app, client, setup):
    configure(app, {"services": [{**ALERTMANAGER, "trigger": [{**ALERTMANAGER["trigger"][0], "priority": "P3"}]}]})
    token = setup.token(service="checkout-api")
    post(client, token, firing("g1"))
    configure(app, {"services": [], "priorities": [{"priority": "P3", "urgency": "high"}]})
    post(client, token, firing("g2"))
    rows = setup.query("SELECT mapping_value, priority, urgency FROM incidents ORDER BY id")
    assert [tuple(r) for r in rows] == [("g1", "P3", "low"), ("g2", "P3", "high")]
    changes = setup.query("SELECT subject_kind, subject_name, changes FROM audit_entries "
                          "WHERE subject_kind = 'priority'")
    assert len(changes) == 1 and changes[0][1] == "P3" and "urgency" in str(changes[0][2])


# -- the dashboard ---------------------------------------------------------------------------

def _three(app, admin, setup):
    configure(app, {"services": [{**ALERTMANAGER, "trigger": [{**ALERTMANAGER["trigger"][0], **SEVERITY}]}]})
    token = setup.token()
    post(admin, token, firing("g1", summary="warned first", commonLabels={"severity": "warning"}))
    post(admin, token, firing("g2", summary="critical second", commonLabels={"severity": "critical"}))
    post(admin, token, firing("g3", summary="plain third"))


def test_the_live_list_shows_filters_and_sorts_by_priority(app, admin, setup):
    _three(app, admin, setup)
    page = admin.get("/incidents").get_data(as_text=True)
    assert page.index("plain third") < page.index("critical second") < page.index("warned first")  # newest first
    assert 'fill="#b3261e"' in page and "P1" in page
    ranked = admin.get("/incidents?sort=priority").get_data(as_text=True)
    assert ranked.index("critical second") < ranked.index("plain third") < ranked.index("warned first")
    only = admin.get("/incidents?priority=P3").get_data(as_text=True)
    assert "warned first" in only and "critical second" not in only and "plain third" not in only
    rows = admin.get("/incidents/rows?priority=P1&sort=priority").get_data(as_text=True)
    assert "critical second" in rows and "warned first" not in rows and "priority=P1" in rows
    assert "warned first" in admin.get("/incidents?priority=P9").get_data(as_text=True)  # unknown: no filter


def test_the_json_api_filters_and_sorts_by_priority(app, admin, setup):
    _three(app, admin, setup)
    headers = {"Authorization": f"Bearer {setup.token('reader')}"}
    only = admin.get("/v1/incidents?priority=P1", headers=headers).get_json()
    assert [(i["title"], i["priority"]) for i in only["incidents"]] == [("critical second", "P1")]
    ranked = admin.get("/v1/incidents?sort=priority", headers=headers).get_json()["incidents"]
    assert [i["priority"] for i in ranked] == ["P1", "P2", "P3"]
    refused = admin.get("/v1/incidents?priority=P9", headers=headers)
    assert refused.status_code == 400 and "priority must be one of P1, P2, P3, P4, P5" in refused.get_json()["message"]
    assert admin.get("/v1/incidents?sort=loudest", headers=headers).status_code == 400


def test_a_responder_changes_the_priority_timeline_and_audit(app, client, setup, add_user, sign_in):
    _three(app, client, setup)
    sign_in(client, *add_user(app, "rita@example.com", admin=False))
    (iid,), = setup.query("SELECT id FROM incidents WHERE mapping_value = 'g3'")
    assert client.post(f"/incidents/{iid}/priority", data={"priority": "P1"}).status_code == 302
    assert client.post(f"/incidents/{iid}/priority", data={"priority": "P1"}).status_code == 302  # same: nothing
    page = client.get(f"/incidents/{iid}").get_data(as_text=True)
    assert "priority changed" in page and "P2 → P1" in page
    assert setup.query("SELECT priority FROM incidents WHERE id = :i", i=iid)[0][0] == "P1"
    assert len(setup.query("SELECT id FROM incident_events WHERE kind = 'reprioritized'")) == 1
    entry = setup.query("SELECT actor_name, action FROM audit_entries WHERE subject_kind = 'incident'")
    assert [tuple(e) for e in entry] == [("rita@example.com", "priority")]
    assert client.post(f"/incidents/{iid}/priority", data={"priority": "P0"}).status_code == 302
    assert setup.query("SELECT priority FROM incidents WHERE id = :i", i=iid)[0][0] == "P1"
    assert client.post("/incidents/999999/priority", data={"priority": "P1"}).status_code == 404


def test_a_viewer_cannot_change_a_priority(app, client, setup, add_user, sign_in):
    _three(app, client, setup)
    sign_in(client, *add_user(app, "vic@example.com", role="viewer"))
    (iid,), = setup.query("SELECT id FROM incidents WHERE mapping_value = 'g3'")
    assert client.post(f"/incidents/{iid}/priority", data={"priority": "P1"}).status_code == 403
    assert "Change priority" not in client.get(f"/incidents/{iid}").get_data(as_text=True)


def _form(**changes):
    from callgoose.engine.priorities import DEFAULTS

    data = {}
    for code, p in DEFAULTS.items():
        for name, value in p.as_dict().items():
            if name != "priority":
                data[f"{code}-{name}"] = "" if value is None else str(value)
    return {**data, **changes}


def test_the_priorities_page_saves_and_explains_faults(app, admin, setup):
    page = admin.get("/priorities").get_data(as_text=True)
    assert "Critical" in page and 'name="P3-acknowledge_minutes"' in page
    saved = admin.post("/priorities", data=_form(**{"P3-label": "Medium", "P3-acknowledge_minutes": "45",
                                                     "P3-on_missed_target": "next_level"}))
    assert saved.status_code == 302
    assert "Medium" in admin.get("/priorities").get_data(as_text=True)
    bad = admin.post("/priorities", data=_form(**{"P4-resolve_minutes": "soon", "P3-label": "Kept as typed"}))
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "P4.resolve_minutes" in text and "Kept as typed" in text
    assert setup.query("SELECT priority, label, acknowledge_minutes, on_missed_target FROM priorities")[0] == (
        "P3", "Medium", 45, "next_level")


def test_only_admins_change_priorities(app, client, add_user, sign_in):
    sign_in(client, *add_user(app, "rita@example.com", admin=False))
    assert client.get("/priorities").status_code == 200
    assert client.post("/priorities", data=_form()).status_code == 403


def test_the_rule_editor_saves_a_priority_map_and_explains_faults(app, admin, setup):
    setup.services(ALERTMANAGER)
    (rule_id,), = setup.query("SELECT id FROM rules WHERE kind = 'trigger'")
    form = {"urgency": "high", "cond-0-key": "status", "cond-0-items": "firing", "cond-0-mode": "all",
            "map_incident_with": "groupKey", "priority_from": "commonLabels.severity"}
    bad = admin.post(f"/services/1/rules/{rule_id}", data={**form, "priority_map": "critical = P1\nwarning P3",
                                                           "cond-1-key": "k" * 1001, "cond-1-items": "x"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "must be one of P1" in text and "longer than" in text
    assert "warning P3" in text  # what was typed stays
    saved = admin.post(f"/services/1/rules/{rule_id}", data={**form, "priority_map": "critical = P1\nwarning=P3"})
    assert saved.status_code == 302
    row = setup.query("SELECT priority_from, priority_map FROM rules WHERE id = :i", i=rule_id)[0]
    assert row[0] == "commonLabels.severity" and as_json(row[1]) == {"critical": "P1", "warning": "P3"}
    page = admin.get(f"/services/1/rules/{rule_id}").get_data(as_text=True)
    assert "critical = P1\nwarning = P3" in page
    assert admin.post(f"/services/1/rules/{rule_id}", data={**form, "priority_from": "", "priority": "P5"}
                      ).status_code == 302
    assert setup.query("SELECT priority, priority_from FROM rules WHERE id = :i", i=rule_id)[0] == ("P5", None)


# -- the alert APIs (issue 18) ---------------------------------------------------------------

def test_opsgenie_priority_and_pagerduty_severity_become_the_priority(app, client, setup):
    import json as _json

    from helpers import paged_service
    from test_pagerduty import routing_key

    configure(app, paged_service())
    genie = setup.token("og", service="checkout-api")
    for priority, alias in (("P1", "a1"), ("P5", "a5"), (None, "a3")):
        body = {"message": f"alert {alias}", "alias": alias, **({"priority": priority} if priority else {})}
        answer = client.post("/v2/alerts", data=_json.dumps(body), content_type="application/json",
                             headers={"Authorization": f"GenieKey {genie}"})
        assert answer.status_code == 202, answer.get_json()
    key = routing_key(app)
    for severity in ("critical", "error", "warning", "info"):
        doc = {"routing_key": key, "event_action": "trigger", "dedup_key": severity,
               "payload": {"summary": severity, "source": "x", "severity": severity}}
        assert client.post("/v2/enqueue", json=doc).status_code == 202
    rows = setup.query("SELECT mapping_value, priority, urgency FROM incidents ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("a1", "P1", "high"), ("a5", "P5", "low"), ("a3", "P3", "high"),  # Opsgenie's P3 pages, as issue 18 chose
        ("critical", "P1", "high"), ("error", "P2", "high"), ("warning", "P3", "low"), ("info", "P5", "low")]
