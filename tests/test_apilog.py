"""The API log pages and the explanations they show: any 202 must be explainable from them."""

import pytest
from helpers import ALERTMANAGER, firing, post, resolved

from callgoose.engine.outcome import Miss, ResolveHit, ServiceOutcome, TriggerHit
from callgoose.web.presenters import explain


@pytest.fixture
def admin(add_user, sign_in, app, client):
    sign_in(client, *add_user(app))
    return client


def call_id(response):
    return response.get_json()["id"]


def test_a_202_without_a_matching_rule_says_which_condition_failed(admin, setup):
    setup.services(ALERTMANAGER)
    response = post(admin, setup.token("prom"), {"status": "pending", "groupKey": "g"}, query="?from=prom")
    assert response.status_code == 202
    page = admin.get(f"/calls/{call_id(response)}").get_data(as_text=True)
    assert "checkout-api: 202 nothing to do" in page
    assert "No rule held, so nothing was done." in page
    assert "Trigger rule 1, condition 1 on `status`: value does not contain &#34;firing&#34;." in page
    assert "Resolve rule 1, condition 1 on `status`: value does not contain &#34;resolved&#34;." in page
    assert "prom" in page and "&#34;pending&#34;" in page  # from, and the payload (escaped)


def test_a_resolve_with_nothing_active_is_explained(admin, setup):
    setup.services(ALERTMANAGER)
    response = post(admin, setup.token(), resolved("never-opened"))
    text = admin.get(f"/calls/{call_id(response)}").get_data(as_text=True)
    assert "held for mapping value “never-opened”, but no active incident has that mapping value." in text


def test_created_duplicate_and_replay_are_explained(admin, setup):
    setup.services(ALERTMANAGER)
    token = setup.token()
    created = post(admin, token, firing())
    replay = post(admin, token, firing())
    duplicate = post(admin, token, firing(summary="other text"))
    assert "Trigger rule 1 held with mapping value “g1” and opened incident #1." in \
        admin.get(f"/calls/{call_id(created)}").get_data(as_text=True)
    assert "Replay: the same payload" in admin.get(f"/calls/{call_id(replay)}").get_data(as_text=True)
    assert "incident #1 with that mapping value is still open" in \
        admin.get(f"/calls/{call_id(duplicate)}").get_data(as_text=True)


def test_list_filters_by_status_token_and_service(admin, setup):
    setup.services(ALERTMANAGER, {"name": "other", "trigger": [{}]})
    one, two = setup.token("one", service="checkout-api"), setup.token("two", service="other")
    post(admin, one, firing())
    post(admin, one, {"status": "pending"})
    post(admin, two, "text", content_type="text/plain")
    assert admin.get("/calls").get_data(as_text=True).count('href="/calls/') == 3
    assert admin.get("/calls?status=202").get_data(as_text=True).count('href="/calls/') == 1
    assert admin.get("/calls?token=2").get_data(as_text=True).count('href="/calls/') == 1
    assert admin.get("/calls?service=1").get_data(as_text=True).count('href="/calls/') == 2
    assert "No API calls match" in admin.get("/calls?status=413").get_data(as_text=True)


def test_unknown_call_is_404(admin):
    assert admin.get("/calls/nope").status_code == 404


@pytest.mark.parametrize("result, expected", [
    ({"service": "s", "status": 202, "note": "disabled"}, "The service is disabled"),
    ({"service": "s", "status": 202, "note": "maintenance", "trigger": {"rule": 0, "mapping_value": "m"}},
     "Without maintenance, trigger rule 1 would have held."),
    ({"service": "s", "status": 202, "note": "error: ZeroDivisionError: boom"},
     "The rules could not be evaluated (ZeroDivisionError: boom)"),
    ({"service": "s", "status": 202, "resolve": [], "misses": [
        {"kind": "resolve", "rule": 0, "condition": -1, "json_key": "host", "reason": "mapping key absent or empty"}]},
     "Resolve rule 1: its conditions hold, but its mapping key `host` is absent or empty"),
])
def test_explain_sentences(result, expected):
    assert any(expected in line for line in explain(ServiceOutcome.from_json(result)))


def test_a_version_1_outcome_reads_as_the_record_it_was():
    """Rows written before outcomes had a version: no "v", and no "created" (their status says it)."""
    opened = ServiceOutcome.from_json({"service": "s", "service_id": 1, "status": 201, "incident": 7,
                                       "trigger": {"rule": 0, "rule_id": 3, "mapping_value": "g1"}})
    assert opened.created and opened.incident == 7 and opened.trigger == TriggerHit(0, 3, "g1")
    assert "Trigger rule 1 held with mapping value “g1” and opened incident #7." in explain(opened)
    repeat = ServiceOutcome.from_json({"service": "s", "service_id": 1, "status": 208, "incident": 7,
                                       "trigger": {"rule": 0, "mapping_value": "g1"}})
    assert not repeat.created and "counts as a duplicate" in " ".join(explain(repeat))


def test_an_outcome_round_trips_through_its_stored_form():
    record = ServiceOutcome("s", 1, 200, trigger=TriggerHit(0, 2, "m"), resolves=(ResolveHit(1, 4, "m"),),
                            misses=(Miss("trigger", 1, 0, "status", 'value does not contain "x"'),),
                            incident=9, created=False, resolved_incidents=(5, 6))
    stored = record.to_json()
    assert stored["v"] == 2
    assert ServiceOutcome.from_json(stored) == record


def test_a_duplicate_next_to_a_resolve_is_not_called_opened(admin, setup):
    """200 on a service can mean 'resolved one, duplicate of another': say duplicate, not opened."""
    setup.services({"name": "hosts",
                    "trigger": [{"conditions": [{"json_key": "state", "contains": ["down"]}], "map_incident_with": "host"}],
                    "resolve": [{"conditions": [{"json_key": "state", "contains": ["down"]}],
                                 "incident_mapped_with": "fixed"}]})
    token = setup.token()
    post(admin, token, {"state": "down", "host": "a"})
    post(admin, token, {"state": "down", "host": "b"})
    both = post(admin, token, {"state": "down", "host": "b", "fixed": "a"})
    assert both.status_code == 200
    text = admin.get(f"/calls/{call_id(both)}").get_data(as_text=True)
    assert "resolved 1 incident (linked below)" in text and 'href="/incidents/1">incident #1</a>' in text
    assert "incident #2 with that mapping value is still open" in text
    assert "opened incident #2" not in text


def test_a_big_log_counts_up_to_a_cap_and_pages_by_what_is_there(admin, setup, monkeypatch):
    """Counting a million calls costs more than the page: past the cap the page says "more than"."""
    from callgoose.services import apilog
    from callgoose.web import apilog as view

    monkeypatch.setattr(apilog, "COUNT_CAP", 3)
    monkeypatch.setattr(view, "PER_PAGE", 2)
    setup.services(ALERTMANAGER)
    token = setup.token()
    for i in range(5):
        post(admin, token, firing(f"k{i}"))
    first = admin.get("/calls").get_data(as_text=True)
    assert "More than 3 calls" in first and "Page 1." in first and ">Older</a>" in first
    last = admin.get("/calls?page=3").get_data(as_text=True)
    assert last.count('href="/calls/0') == 1 and ">Older</a>" not in last and ">Newer</a>" in last
    monkeypatch.setattr(apilog, "COUNT_CAP", 10)
    exact = admin.get("/calls").get_data(as_text=True)
    assert "5 calls. Page 1 of 3." in " ".join(exact.split())


def test_click_to_build_a_rule_from_a_stored_payload(admin, setup):
    """Issue 10, item 7: a stored payload as a tree; a value offers a condition, the title and
    the mapping, as the service's rules write keys (S38: relative to a split element)."""
    from helpers import post
    setup.services({"name": "prom", "split_on": "alerts", "trigger": [
        {"conditions": [{"json_key": "status", "contains": ["firing"]}], "map_incident_with": "fingerprint"}]})
    token = setup.token(service="prom")
    call_id = post(admin, token, {"status": "firing", "commonLabels": {"env": "prod"},
                                         "alerts": [{"status": "firing", "fingerprint": "f1",
                                                     "labels": {"severity": "critical"}}]}).get_json()["id"]
    page = admin.get(f"/calls/{call_id}").get_data(as_text=True)
    assert "Click a value to build a rule" in page
    assert "cond_key=labels.severity&amp;cond_items=critical" in page  # inside the element
    assert "cond_key=$.commonLabels.env&amp;cond_items=prod" in page  # the whole payload's, with $.
    service_id = setup.query("SELECT id FROM services")[0][0]
    form = admin.get(f"/services/{service_id}/rules/new/trigger?cond_key=labels.severity&cond_items=critical"
                            "&map_incident_with=fingerprint").get_data(as_text=True)
    assert 'value="labels.severity"' in form and ">critical</textarea>" in form and 'value="fingerprint"' in form
