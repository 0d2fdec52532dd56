"""Issue 18, done when: Debian's real Alertmanager with ``opsgenie_configs`` and ``api_url``
pointing at Callgoose (``flask serve`` in another process) opens, deduplicates and resolves
incidents as its alerts fire and stop, with no failed notification in its log; on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from alertmanager import BINARY, SKIP, failures, fire, running, wait_until
from helpers import as_json
from servers import running_servers

pytestmark = pytest.mark.skipif(BINARY is None, reason=SKIP)


def test_alertmanager_opsgenie_configs_open_dedup_and_resolve(make_app, setup_for, database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    s = setup_for(app)
    s.services({"name": "prometheus"})
    key = s.token("alertmanager", service="prometheus")
    workdir = tmp_path / "alertmanager"
    workdir.mkdir()

    def incidents():
        return s.query("SELECT id, title, status, urgency, duplicate_count, mapping_value FROM incidents ORDER BY id")

    with running_servers(database_url, tmp_path, threads=2) as (port,):
        # Alertmanager appends v2/alerts (and v2/alerts/<alias>/close) to api_url.
        receiver = (f"    opsgenie_configs:\n      - api_key: '{key}'\n        api_url: 'http://127.0.0.1:{port}/'\n"
                    "        priority: 'P2'\n        tags: 'prometheus,{{ .CommonLabels.alertname }}'\n")
        with running(receiver, workdir) as (am_url, log):
            fire(am_url, "DiskFull", instance="db-1")
            [opened] = wait_until(lambda: [r for r in incidents() if r[2] == "triggered"], what="an incident")
            assert opened[1].startswith("[FIRING:1] DiskFull") and opened[3] == "high"  # P2: high urgency

            fire(am_url, "DiskFull", instance="db-2")  # the group changed: Alertmanager sends it again
            wait_until(lambda: incidents()[0][4] >= 1, what="a duplicate")
            assert len(incidents()) == 1  # the group's alias: one incident (S26)

            fire(am_url, "DiskFull", instance="db-1", ended=True)
            fire(am_url, "DiskFull", instance="db-2", ended=True)
            wait_until(lambda: incidents()[0][2] == "resolved", what="the close by alias")
            assert len(incidents()) == 1
            assert failures(log) == []

    calls = [as_json(r[0])[0].get("event") for r in s.query("SELECT results FROM api_calls ORDER BY received_at")]
    assert calls[0] == "opsgenie create" and calls[-1] == "opsgenie close" and "opsgenie create" in calls[1:-1]
    assert as_json(s.query("SELECT facts FROM incidents")[0][0])["tags"] == ["prometheus", "DiskFull"]
