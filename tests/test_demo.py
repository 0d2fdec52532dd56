"""Issue 7, item 8: ``seed-demo`` fills a database with a history the app reads as its own."""

import re

from helpers import post


def seed(app, *args):
    result = app.test_cli_runner().invoke(args=["seed-demo", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]  # the token, printed last


def test_seed_demo_adds_what_it_says_and_every_page_reads_it(app, setup, add_user, sign_in, client):
    sign_in(client, *add_user(app))  # first: pytest-flask's shared context keeps who is signed in
    token = seed(app, "--calls", "600", "--incidents", "50")
    assert setup.query("SELECT count(*) FROM incidents")[0][0] == 50
    assert setup.query("SELECT count(*) FROM api_calls")[0][0] == 600
    statuses = dict(setup.query("SELECT status, count(*) FROM api_calls GROUP BY status"))
    assert set(statuses) == {200, 201, 202, 208} and statuses[201] == 50
    # The books balance as the pipeline keeps them: a repeat is counted on its incident, and
    # the change counter has seen every change.
    repeats = setup.query("SELECT count(*) FROM api_calls WHERE status = 208 AND CAST(results AS TEXT) NOT LIKE '%\"replay\"%'")
    assert setup.query("SELECT sum(duplicate_count) FROM incidents")[0][0] == repeats[0][0]
    assert setup.query("SELECT sum(version) FROM incidents") == setup.query("SELECT sum(value) FROM change_counters")
    for path in ("/incidents", "/incidents?status=all", "/incidents/25", "/calls", "/calls?status=208",
                 "/services"):
        assert client.get(path).status_code == 200, path
    call = re.search(r'href="(/calls/[0-9a-f-]{36})"', client.get("/calls?status=201").get_data(as_text=True))
    assert "opened incident #" in client.get(call.group(1)).get_data(as_text=True)
    # The printed token works, and an open demo incident resolves from a payload.
    key = setup.query("SELECT mapping_value FROM incidents WHERE status = 'triggered' LIMIT 1")[0][0]
    assert post(client, token, {"status": "resolved", "groupKey": key}).status_code == 200


def test_seed_demo_runs_twice_and_refuses_impossible_counts(app, setup):
    seed(app, "--calls", "40", "--incidents", "10")
    seed(app, "--calls", "40", "--incidents", "10")
    assert setup.query("SELECT count(*), count(DISTINCT mapping_key) FROM incidents")[0] == (20, 20)
    refused = app.test_cli_runner().invoke(args=["seed-demo", "--calls", "10", "--incidents", "10"])
    assert refused.exit_code != 0 and "at least twice --incidents (20)" in refused.output
