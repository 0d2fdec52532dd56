"""A person's notification rules, added and removed on My notifications, decide what a page
queues: which method, how many minutes after the level, for which urgency (review debt: adding
and removing rules had no test)."""

from __future__ import annotations

from helpers import ALERTMANAGER, firing, post


def _queued(setup, incident_id):
    """(channel, minutes after the incident opened) of each page queued for it."""
    return sorted(setup.query(
        "SELECT n.channel, n.due_at, i.created_at FROM notifications n JOIN incidents i ON i.id = n.incident_id "
        "WHERE n.incident_id = :i AND n.kind = 'page'", i=incident_id), key=lambda r: r[1])


def _minutes(rows):
    from callgoose import clock
    from callgoose.store.hotpath import to_datetime
    return [(channel, round((clock.from_db(to_datetime(due)) - clock.from_db(to_datetime(created))) / 60))
            for channel, due, created in rows]


def test_a_rule_added_pages_by_its_method_at_its_minutes_and_a_rule_removed_pages_no_more(
        app, setup, client, add_user, sign_in):
    low_first = {"urgency": "low", "conditions": [{"json_key": "status", "contains": ["firing"]},
                                                  {"json_key": "severity", "contains": ["warning"]}],
                 "title_from": "commonAnnotations.summary", "map_incident_with": "groupKey"}
    setup.services({**ALERTMANAGER, "trigger": [low_first, *ALERTMANAGER["trigger"]]})
    sign_in(client, *add_user(app))
    me = setup.query("SELECT id FROM users")[0][0]
    mail = setup.query("SELECT id FROM contact_methods WHERE user_id = :u", u=me)[0][0]
    client.post("/notifications/me/methods", data={"name": "phone", "type": "sms", "address": "+14155550100"})
    phone = setup.query("SELECT id FROM contact_methods WHERE name = 'phone'")[0][0]
    for method in (mail, phone):
        assert client.post(f"/notifications/me/methods/{method}/verify").status_code == 302
    page = client.post("/notifications/me/rules", data={"contact_method": phone, "after_minutes": "2",
                                                        "urgency": ["high"]}, follow_redirects=True)
    assert "Rule added." in page.get_data(as_text=True)
    assert setup.query("SELECT contact_method_id, after_minutes, urgencies FROM notification_rules ORDER BY id") == [
        (mail, 0, "high,low"), (phone, 2, "high")]
    client.post("/policies/new", data={"name": "me", "level0_users": [me], "level0_after": "5"})
    client.post(f"/services/{setup.query('SELECT id FROM services')[0][0]}/policy",
                data={"policy_id": setup.query("SELECT id FROM escalation_policies")[0][0]})

    token = setup.token()
    assert post(client, token, firing("high-1")).status_code == 201
    first = setup.query("SELECT id FROM incidents WHERE mapping_value = 'high-1'")[0][0]
    assert _minutes(_queued(setup, first)) == [("email", 0), ("sms", 2)]
    assert post(client, token, firing("low-1", severity="warning")).status_code == 201  # low urgency: no SMS rule
    low = setup.query("SELECT id FROM incidents WHERE mapping_value = 'low-1'")[0][0]
    assert setup.query("SELECT urgency FROM incidents WHERE id = :i", i=low) == [("low",)]
    assert _minutes(_queued(setup, low)) == [("email", 0)]

    rule = setup.query("SELECT id FROM notification_rules WHERE contact_method_id = :m", m=phone)[0][0]
    page = client.post(f"/notifications/me/rules/{rule}/delete", follow_redirects=True)
    assert "Rule deleted." in page.get_data(as_text=True)
    assert post(client, token, firing("high-2")).status_code == 201
    second = setup.query("SELECT id FROM incidents WHERE mapping_value = 'high-2'")[0][0]
    assert _minutes(_queued(setup, second)) == [("email", 0)]


def test_a_rule_is_refused_for_a_bad_minute_an_unknown_method_or_someone_else_s(
        app, setup, client, add_user, sign_in):
    sign_in(client, *add_user(app))
    add_user(app, "bo@example.com", admin=False)
    bo_method = setup.query("SELECT m.id FROM contact_methods m JOIN users u ON u.id = m.user_id "
                            "WHERE u.email = 'bo@example.com'")[0][0]
    mine = setup.query("SELECT m.id FROM contact_methods m JOIN users u ON u.id = m.user_id "
                       "WHERE u.email = 'admin@example.com'")[0][0]
    before = setup.query("SELECT count(*) FROM notification_rules")
    for data in ({"contact_method": mine, "after_minutes": "-1", "urgency": ["high"]},
                 {"contact_method": mine, "after_minutes": "2", "urgency": ["urgent"]},
                 {"contact_method": bo_method, "after_minutes": "2", "urgency": ["high"]},
                 {"contact_method": 999999, "after_minutes": "2", "urgency": ["high"]}):
        page = client.post("/notifications/me/rules", data=data, follow_redirects=True)
        assert page.status_code in (200, 422) and "Rule added." not in page.get_data(as_text=True)
    assert setup.query("SELECT count(*) FROM notification_rules") == before
    bo_rule = setup.query("SELECT r.id FROM notification_rules r JOIN users u ON u.id = r.user_id "
                          "WHERE u.email = 'bo@example.com'")[0][0]
    client.post(f"/notifications/me/rules/{bo_rule}/delete")  # not mine: nothing happens
    assert setup.query("SELECT count(*) FROM notification_rules WHERE id = :r", r=bo_rule) == [(1,)]
