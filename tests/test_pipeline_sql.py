"""The hot path's SQL: plans and statement counts that the benchmark depends on."""

from conftest import ALERTMANAGER, firing
from sqlalchemy import event
from test_ingest import post

from callgoose.extensions import db
from callgoose.pipeline import RESOLVE


def test_resolve_uses_the_partial_index_of_active_incidents(app):
    """With ``status IN (?, ?)`` SQLite cannot use the partial index and scans (measured: 49 ms a call)."""
    with app.app_context():
        with db.engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + RESOLVE.sqlite,
                                        {"now": None, "sid": 1, "mkey": "k"}).all()
    assert "uq_incidents_active_mapping" in plan[0][-1]


def test_statements_per_call(app, setup, client):
    """Reads need no BEGIN; a new incident is BEGIN + 5 statements + COMMIT (payload, marker,
    incident, call, event); a replay BEGIN + 3 + COMMIT."""
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
    assert statements == ["SELECT", "SELECT", "BEGIN", "INSERT", "INSERT", "INSERT", "INSERT", "INSERT", "COMMIT"]
    statements.clear()
    assert post(client, token, firing("new")).status_code == 208
    assert statements == ["SELECT", "SELECT", "BEGIN", "INSERT", "INSERT", "INSERT", "COMMIT"]
