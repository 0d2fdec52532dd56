"""Issue 10, item 4: a 202 says why in one line, a 208 says replay or duplicate of which
incident; in the answer and in the API log. S30's fields stay exactly as they are."""

import pytest
from helpers import ALERTMANAGER, firing, flags, post, resolved


@pytest.fixture
def token(setup, now):
    setup.services(ALERTMANAGER)
    return setup.token("am")


def why(response):
    flags(response)  # S30's fields, exactly, plus the reason on a 202 or 208
    return response.get_json().get("reason")


def test_a_202_names_the_rule_the_condition_and_the_value(client, token):
    answer = post(client, token, {"status": "pending"})
    assert answer.status_code == 202
    assert why(answer) == 'no trigger rule held: rule 1 needs status to contain "firing" (value "pending")'
    absent = post(client, token, {"state": "firing"})
    assert why(absent) == 'no trigger rule held: rule 1 needs status to contain "firing" (status is absent)'
    text = post(client, token, "plain words", content_type="text/plain")
    assert why(text) == 'no trigger rule held: rule 1 needs status to contain "firing" (status is absent)'


def test_a_202_of_a_resolve_with_nothing_open(client, token):
    answer = post(client, token, resolved("g9"))
    assert answer.status_code == 202
    assert why(answer) == 'resolve rule 1 held for "g9", but no active incident has that mapping value'


def test_a_208_says_which_incident_it_duplicates_or_that_it_is_a_replay(client, setup, token, now):
    first = post(client, token, firing("g1"))
    assert first.status_code == 201 and "reason" not in first.get_json()
    now.set(10)
    replay = post(client, token, firing("g1"))
    assert replay.status_code == 208
    assert why(replay) == 'checkout-api: replay of the same payload for "g1" within the duplicate window; nothing changed'
    now.set(20)
    duplicate = post(client, token, firing("g1", summary="CPU still high"))
    incident = setup.query("SELECT id FROM incidents")[0][0]
    assert duplicate.status_code == 208 and why(duplicate) == f'checkout-api: duplicate of open incident {incident} ("g1")'


def test_disabled_maintenance_and_several_services(client, setup, now):
    setup.services({**ALERTMANAGER, "enabled": False})
    own = setup.token("own", service="checkout-api")
    assert why(post(client, own, firing())) == "the service is disabled"
    setup.services({**ALERTMANAGER, "maintenance": [{"starts_at": None, "ends_at": None}]},
                   {"name": "batch", "trigger": [{"conditions": [{"json_key": "job", "contains": ["nightly"],
                                                                  "mode": "any"}]}]})
    both = setup.token("global")
    assert why(post(client, both, firing())) == ("checkout-api: the service is in maintenance for this call; "
                                                 "batch: no trigger rule held: rule 1 needs job to contain one of "
                                                 '"nightly" (job is absent)')


def test_the_api_log_says_the_same_line(admin, client, setup, token):
    answer = post(client, token, {"status": "pending"})
    line = answer.get_json()["reason"]
    page = client.get(f"/calls/{answer.get_json()['id']}").get_data(as_text=True)
    assert line.replace('"', "&#34;") in page
    assert line.replace('"', "&#34;") in client.get("/calls").get_data(as_text=True)


def test_long_values_are_cut_and_runs_of_space_folded(client, token):
    answer = post(client, token, {"status": "pending " + "x" * 200 + "\n\n end"})
    said = why(answer)
    assert said.startswith('no trigger rule held: rule 1 needs status to contain "firing" (value "pending xxx')
    assert said.endswith('…")') and len(said) < 200 and "\n" not in said
