"""Replay (issue 10, item 6): stored calls through the current rules, marked as replays, with
S26-S28 still applying so nothing is doubled."""

from helpers import ALERTMANAGER, as_json, firing, post

from callgoose import clock


def test_every_202_of_the_last_day_replayed_after_a_rule_fix(admin, client, setup, monkeypatch):
    setup.services({**ALERTMANAGER, "trigger": [{**ALERTMANAGER["trigger"][0],
                                                 "conditions": [{"json_key": "status", "contains": ["FIRE"]}]}]})
    token = setup.token(service="checkout-api")
    missed = [post(client, token, firing(f"g{i}")).get_json()["id"] for i in range(3)]  # a typo: all 202
    assert setup.query("SELECT count(*) FROM incidents") == [(0,)]
    setup.services(ALERTMANAGER)  # the rule fixed
    done = client.post("/calls/replay", data={"status": "202", "hours": "24"}, follow_redirects=True)
    assert "Replayed 3 calls: 3 × 201" in done.get_data(as_text=True)
    rows = setup.query("SELECT replay_of, status FROM api_calls WHERE replay_of IS NOT NULL ORDER BY received_at")
    assert sorted(r[0] for r in rows) == sorted(missed) and {r[1] for r in rows} == {201}
    assert setup.query("SELECT count(*) FROM incidents") == [(3,)]
    # Again: the incidents are open, so each is a duplicate (S26); nothing doubles.
    again = client.post("/calls/replay", data={"call": missed}, follow_redirects=True)
    assert "Replayed 3 calls: 3 × 208" in again.get_data(as_text=True)
    assert setup.query("SELECT count(*) FROM incidents") == [(3,)]
    incident = setup.query("SELECT id FROM incidents ORDER BY id")[0][0]
    page = client.get(f"/incidents/{incident}").get_data(as_text=True)
    assert "(replay by admin@example.com)" in page
    new_call = rows[0]
    call_page = client.get(f"/calls/{setup.query('SELECT id FROM api_calls WHERE replay_of = :r', r=new_call[0])[0][0]}")
    assert "Replay of" in call_page.get_data(as_text=True)


def test_concurrent_replays_of_one_call_open_one_incident(app, setup):
    """S28 holds for replays too: many at once give one incident."""
    from concurrent.futures import ThreadPoolExecutor

    from callgoose.extensions import db
    from callgoose.services.replay import replay
    setup.services({**ALERTMANAGER, "trigger": [{**ALERTMANAGER["trigger"][0],
                                                 "conditions": [{"json_key": "status", "contains": ["FIRE"]}]}]})
    token = setup.token(service="checkout-api")
    with app.test_client() as client:
        call_id = post(client, token, firing("g1")).get_json()["id"]
    setup.services(ALERTMANAGER)

    def once(_):
        with app.app_context():
            return replay(db.engine, [call_id], "ops", clock.now(), 300).statuses[call_id][1]
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(once, range(6)))
    assert statuses[0] == 201 and set(statuses[1:]) == {208}
    assert setup.query("SELECT count(*) FROM incidents") == [(1,)]


def test_only_admins_replay_and_a_413_is_not_replayed(add_user, sign_in, make_app, database_url, tmp_path,
                                                       setup_for):
    app = make_app(database_url, tmp_path, MAX_BODY_BYTES=200)
    setup = setup_for(app)
    setup.services(ALERTMANAGER)
    token = setup.token()
    with app.test_client() as client:
        call_id = post(client, token, firing("g1")).get_json()["id"]
        too_big = post(client, token, firing("g2", summary="x" * 300))
        assert too_big.status_code == 413
        big_id = setup.query("SELECT id FROM api_calls WHERE status = 413")[0][0]
        sign_in(client, *add_user(app, email="r@example.com", admin=False))
        assert client.post("/calls/replay", data={"call": call_id}).status_code == 403
    with app.test_client() as client:
        sign_in(client, *add_user(app))
        said = client.post("/calls/replay", data={"call": big_id}, follow_redirects=True).get_data(as_text=True)
    assert "Replayed 0 calls: nothing to replay. 1 could not be replayed" in said
    assert setup.query("SELECT count(*) FROM api_calls WHERE replay_of IS NOT NULL") == [(0,)]
    assert as_json(setup.query("SELECT results FROM api_calls WHERE id = :i", i=call_id)[0][0])[0]["status"] == 201
