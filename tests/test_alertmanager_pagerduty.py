"""Issue 18, done when: Debian's real Alertmanager with ``pagerduty_configs`` and ``url`` pointing at
Callgoose (a real ``flask serve`` process, on SQLite and PostgreSQL) opens, deduplicates and
resolves incidents as its alerts fire and stop, with no failed notification in its log."""

from __future__ import annotations

import pytest
from alertmanager import BINARY, SKIP, failures, fire, running, wait_until
from helpers import configure
from servers import running_servers

pytestmark = pytest.mark.skipif(BINARY is None, reason=SKIP)


def test_alertmanager_pagerduty_configs_open_deduplicate_and_resolve(make_app, setup_for, database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    configure(app, {"services": [{"name": "checkout-api", "trigger": [], "resolve": []}]})
    made = app.test_cli_runner().invoke(args=["create-token", "alertmanager", "--service", "checkout-api",
                                              "--routing-key"])
    key = made.output.strip().splitlines()[-1]
    setup = setup_for(app)

    def incidents():
        return setup.query("SELECT id, status, duplicate_count, title, urgency FROM incidents ORDER BY id")

    with running_servers(database_url, tmp_path) as (port,):
        receiver = (f"    pagerduty_configs:\n      - routing_key: '{key}'\n"
                    f"        url: 'http://127.0.0.1:{port}/v2/enqueue'\n        severity: 'critical'\n")
        with running(receiver, tmp_path) as (alertmanager, log):
            fire(alertmanager, "HighCPU", instance="web-1")
            [(incident, status, _, title, urgency)] = wait_until(incidents, what="an incident")
            assert status == "triggered" and "HighCPU" in title and urgency == "high"

            fire(alertmanager, "HighCPU", instance="web-2")  # the group changes: Alertmanager sends it again
            wait_until(lambda: [row for row in incidents() if row[2] >= 1], what="a duplicate")
            assert [row[:2] for row in incidents()] == [(incident, "triggered")]  # still one incident

            fire(alertmanager, "HighCPU", instance="web-1", ended=True)
            fire(alertmanager, "HighCPU", instance="web-2", ended=True)
            wait_until(lambda: incidents()[0][1] == "resolved", what="the incident resolved")
            assert [row[:2] for row in incidents()] == [(incident, "resolved")]
            assert failures(log) == []
    calls = setup.query("SELECT status, results FROM api_calls ORDER BY received_at")
    assert calls and {status for status, _ in calls} == {202}
    assert all(key not in text for (text,) in setup.query("SELECT text FROM payloads"))
