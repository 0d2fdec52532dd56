"""The hot path's SQL: plans and statement counts that the benchmark depends on."""

import pytest
from helpers import ALERTMANAGER, firing, post, resolved
from sqlalchemy import event

from callgoose.engine.lifecycle import Action
from callgoose.extensions import db
from callgoose.services.lifecycle import statement

RESOLVE = statement(Action.RESOLVE, True)  # a call's resolve, built from the lifecycle's rules


def test_resolve_uses_the_partial_index_of_active_incidents(app):
    """With ``status IN (?, ?)`` SQLite cannot use the partial index and scans (measured: 49 ms a call)."""
    with app.app_context():
        with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + RESOLVE.sqlite,
                                            {"now": None, "sid": 1, "mkey": "k"}).all()[0][-1]
            else:  # an empty table would be scanned anyway: ask whether the index can serve it
                conn.exec_driver_sql("SET enable_seqscan = off")
                plan = " ".join(r[0] for r in conn.exec_driver_sql(
                    "EXPLAIN " + RESOLVE.postgresql, {"now": None, "sid": 1, "mkey": "k"}).all())
                conn.rollback()
    assert "uq_incidents_active_mapping" in plan


@pytest.fixture
def sqlite_app(make_app, sqlite_url, tmp_path):
    return make_app(sqlite_url, tmp_path)


def test_statements_per_call(setup_for, sqlite_app):
    """Reads need no BEGIN, and the token and its services are one read (issue 22); a new
    incident is BEGIN + 7 statements + COMMIT (payload, marker,
    incident, call, the call's service, event, change counter); a replay BEGIN + 4 + COMMIT (it
    changes no incident). Counted with SQLite's trace hook; PostgreSQL
    runs the same statements (one Sql text for both drivers)."""
    app, setup, client = sqlite_app, setup_for(sqlite_app), sqlite_app.test_client()
    setup.services(ALERTMANAGER)
    token = setup.token()
    statements = []
    with app.app_context():
        db.engine.dispose()  # new connections get the trace callback

        @event.listens_for(db.engine, "connect")
        def trace(dbapi_conn, _record):
            dbapi_conn.set_trace_callback(lambda sql: statements.append(sql.split()[0].upper()))

    post(client, token, firing("warm-up"))  # token last-used update, spec cache, pragmas
    statements.clear()
    assert post(client, token, firing("new")).status_code == 201
    assert statements == ["SELECT", "BEGIN", "INSERT", "INSERT", "INSERT", "INSERT", "INSERT", "INSERT",
                          "INSERT", "COMMIT"]
    statements.clear()
    assert post(client, token, firing("new")).status_code == 208
    assert statements == ["SELECT", "BEGIN", "INSERT", "INSERT", "INSERT", "INSERT", "COMMIT"]
    # A resolve: marker, payload, the incident, then paging's part (stop its escalation, cancel
    # waiting pages, who was paged); a service without webhooks reads no snapshot for them.
    statements.clear()
    assert post(client, token, resolved("new")).status_code == 200
    assert statements == ["SELECT", "BEGIN", "INSERT", "INSERT", "UPDATE", "INSERT", "INSERT", "UPDATE",
                          "UPDATE", "SELECT", "INSERT", "INSERT", "COMMIT"]
