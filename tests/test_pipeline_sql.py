"""The hot path's SQL: plans and statement counts that the benchmark depends on."""

from sqlalchemy import event

from callgoose.extensions import db
from callgoose.pipeline import RESOLVE
from conftest import ALERTMANAGER, firing
from test_ingest import post


def test_resolve_uses_the_partial_index_of_active_incidents(app):
    """With ``status IN (?, ?)`` SQLite cannot use the partial index and scans (measured: 49 ms a call)."""
    with app.app_context():
        sql = str(RESOLVE.compile(dialect=db.engine.dialect))
        with db.engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, ("resolved", None, 1, "k")).all()
    assert "uq_incidents_active_mapping" in plan[0][-1]


def test_statements_per_call(app, setup, client):
    """Reads need no BEGIN; a new incident is BEGIN + 5 statements (COMMIT is not a statement here)."""
    setup.services(ALERTMANAGER)
    token = setup.token()
    post(client, token, firing("warm-up"))  # token last-used update, spec cache
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2].split()[0]))
    assert post(client, token, firing("new")).status_code == 201
    assert statements == ["SELECT", "SELECT", "BEGIN", "INSERT", "INSERT", "INSERT", "INSERT"]
    statements.clear()
    assert post(client, token, firing("new")).status_code == 208
    assert statements == ["SELECT", "SELECT", "BEGIN", "INSERT", "INSERT"]
