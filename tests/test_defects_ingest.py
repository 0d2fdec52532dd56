"""Issue 6 A: defects found in ingestion, each proven here first (S6-S9, S32)."""

import json

import pytest
from helpers import ALERTMANAGER, as_json, firing

from callgoose.engine import Payload
from callgoose.engine.payload import decode_body


def post(client, token, body, content_type="application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/v1/process", data=data, content_type=content_type,
                       headers={"Authorization": f"Bearer {token}"})


# -- A1: a lone surrogate in a rule must not stop ingestion ---------------------------------

LONE_KEY_SERVICE = {"name": "lone", "trigger": [
    {"conditions": [{"json_key": "a\udc00", "contains": ["x"]}]},
    {"conditions": [{"json_key": "status", "contains": ["fir\udc00ing"]}]},
    {"conditions": [{"json_key": "status", "contains": ["firing"]}], "map_incident_with": "groupKey"}]}


def test_a1_rules_with_lone_surrogates_are_cleaned_and_calls_still_work(setup, client):
    setup.services(LONE_KEY_SERVICE, ALERTMANAGER)
    token = setup.token()
    response = post(client, token, firing())
    assert response.status_code == 201
    stored = setup.query("SELECT conditions FROM rules WHERE service_id = "
                         "(SELECT id FROM services WHERE name = 'lone') ORDER BY position")
    assert "\ufffd" in json.dumps(as_json(stored[0][0]), ensure_ascii=False)
    assert setup.query("SELECT count(*) FROM incidents")[0][0] == 2


def test_a1_a_service_whose_result_cannot_be_recorded_is_an_error_and_the_call_is_kept(setup, client, monkeypatch):
    setup.services(ALERTMANAGER, {"name": "other", "trigger": [{"conditions": []}]})
    token = setup.token()
    from callgoose.services import ingestion as pipeline

    real = pipeline._Apply.service

    def broken(self, item):
        if item.spec.name == "other":
            raise RuntimeError("cannot record")
        return real(self, item)

    monkeypatch.setattr(pipeline._Apply, "service", broken)
    response = post(client, token, firing())
    assert response.status_code == 201  # checkout-api still opened its incident
    status, results, error = setup.query("SELECT status, results, error FROM api_calls")[0]
    assert status == 201 and "cannot record" in error
    assert setup.query("SELECT count(*) FROM incidents")[0][0] == 1


# -- A2: declared charsets that are not text encodings ------------------------------------

@pytest.mark.parametrize("charset", ["base64", "rot13", "hex", "zlib", "bz2", "uu", "idna",
                                     "x-no-such", "utf-8\x00", "quopri", "punycode", "a" * 300])
def test_a2_non_text_charsets_are_read_as_utf8(setup, client, charset):
    setup.services(ALERTMANAGER)
    token = setup.token()
    response = post(client, token, json.dumps(firing("é")).encode(),
                    content_type=f"application/json; charset={charset}")
    assert response.status_code == 201
    assert decode_body("é".encode(), f"text/plain; charset={charset}") == "é"


def test_a2_the_api_log_shows_the_declared_charset(setup, admin):
    setup.services(ALERTMANAGER)
    token = setup.token()
    call_id = post(admin, token, b"{}", content_type="text/plain; charset=base64").get_json()["id"]
    page = admin.get(f"/calls/{call_id}").get_data(as_text=True)
    assert "charset=base64" in page and "read as UTF-8" in page


# -- A3: every stored payload can be shown --------------------------------------------------

@pytest.mark.parametrize("body, shown", [
    ('{"n": ' + "9" * 5000 + ', "status": "firing", "groupKey": "g"}', "9" * 5000),
    ('{"x": "\\udc00", "status": "firing", "groupKey": "g"}', "\ufffd"),
    ('{"x": 1.50e3, "status": "firing", "groupKey": "g"}', ": 1.50e3")])
def test_a3_incident_and_call_pages_show_any_payload(setup, admin, body, shown):
    setup.services(ALERTMANAGER)
    token = setup.token()
    response = post(admin, token, body)
    assert response.status_code == 201
    incident_id = setup.query("SELECT id FROM incidents")[0][0]
    for url in (f"/incidents/{incident_id}", f"/calls/{response.get_json()['id']}"):
        page = admin.get(url)
        assert page.status_code == 200, url
        assert shown in page.get_data(as_text=True), url


def test_a3_pretty_json_keeps_numbers_and_is_storable():
    from callgoose.engine.payload import pretty_json

    payload = Payload.from_text('{"a": [1.50, ' + "7" * 4400 + '], "s": "\\ud800"}')
    text = pretty_json(payload.data)
    assert "1.50" in text and "7" * 4400 in text
    text.encode("utf-8")  # no lone surrogate left


# -- A5: each distinct payload text is stored once ------------------------------------------

def stored_payload_chars(setup) -> int:
    """Characters in every text column that could hold a payload, on either database."""
    from sqlalchemy import inspect

    from callgoose.extensions import db

    with setup.app.app_context():
        inspector = inspect(db.engine)
        columns = [(table, column["name"]) for table in inspector.get_table_names()
                   for column in inspector.get_columns(table)]
    return sum(setup.query(f"SELECT coalesce(sum(length(CAST({c} AS TEXT))), 0) FROM {t}")[0][0]
               for t, c in columns)


def test_a5_a_replay_and_a_new_incident_store_the_payload_once(setup, client):
    setup.services(ALERTMANAGER)
    token = setup.token()
    body = json.dumps(firing("big", filler="x" * 200_000))
    assert post(client, token, body).status_code == 201
    after_first = stored_payload_chars(setup)
    assert after_first < 1.2 * 200_000  # once, not in the call and again in the incident
    for _ in range(3):
        assert post(client, token, body).status_code == 208
    assert stored_payload_chars(setup) < after_first + 20_000  # replays add their call rows only
    incident = client.get("/v1/incidents", headers={"Authorization": f"Bearer {token}"}).get_json()["incidents"][0]
    assert incident["description"] == "cpu at 99%"
    setup.services({**ALERTMANAGER, "trigger": [{**ALERTMANAGER["trigger"][0], "description_from": None}]})
    other = json.dumps(firing("other", filler="y" * 1000))
    post(client, token, other)
    detail = client.get("/v1/incidents?status=active", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert detail["incidents"][0]["description"] == other  # S22: the whole payload, read back from its one copy


def test_a5_retention_keeps_payloads_that_incidents_still_need(app, setup, client, monkeypatch):
    from callgoose import clock
    from callgoose.extensions import db
    from callgoose.services.retention import prune

    setup.services(ALERTMANAGER)
    token = setup.token()
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start - 40 * 86400)
    opened = json.dumps(firing("old"))
    post(client, token, opened)
    post(client, token, json.dumps({"status": "nothing", "n": 1}))
    monkeypatch.setattr(clock, "now", lambda: start)
    with app.app_context():
        prune(db.engine, start, 30, 300)
    texts = [t for (t,) in setup.query("SELECT text FROM payloads")]
    assert texts == [opened]  # the incident's payload stays; the orphan went
    assert setup.query("SELECT count(*) FROM api_calls")[0][0] == 0


# -- A4: caps on maintenance, with a clear message at save and import --------------------------

def test_a4_maintenance_caps_at_import_api_and_dashboard(setup, client, admin):
    from callgoose.engine import SpecError, parse_config

    windows = [{"tags": [["t"]]}] * 101
    with pytest.raises(SpecError, match=r"services\[0\]\.maintenance: more than 100 maintenance windows"):
        parse_config({"services": [{"name": "x", "maintenance": windows}]})
    with pytest.raises(SpecError, match=r"tags: more than 20 tag sets"):
        parse_config({"services": [{"name": "x", "maintenance": [{"tags": [["a"]] * 21}]}]})
    with pytest.raises(SpecError, match=r"tags\[0\]: more than 10 tags"):
        parse_config({"services": [{"name": "x", "maintenance": [{"tags": [["a"] * 11]}]}]})
    setup.services({**ALERTMANAGER, "maintenance": [{"tags": [["t"]]}] * 100})
    token = setup.token()
    response = client.post("/v1/services/checkout-api/maintenance", json={},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and "more than 100" in response.get_json()["message"]
    page = admin.post("/services/1/maintenance", data={"action": "start", "tags": "", "starts": "", "until": ""})
    assert page.status_code == 422 and "more than 100" in page.get_data(as_text=True)
