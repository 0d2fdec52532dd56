"""Issue 7 (first part): migrations. A database made by release 0.1 upgrades in place, and the
migrated schema is exactly the models', on SQLite and PostgreSQL."""

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from helpers import ALERTMANAGER, firing

from callgoose import create_app
from callgoose.extensions import db

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def bare_app(database_url, tmp_path):
    """An app on an empty database: nothing created yet."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False})
    yield app
    with app.app_context():
        db.engine.dispose()


def schema(conn) -> list[str]:
    rows = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
                                "AND name != 'alembic_version' ORDER BY name").all()
    return [" ".join(r[0].split()) for r in rows]


def test_migrated_schema_is_the_models(bare_app):
    with bare_app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert differences == []


def test_revision_0001_is_the_schema_release_0_1_made(sqlite_url, tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "SECRET_KEY": "test"})
    with app.app_context():
        flask_migrate.upgrade(revision="0001")
        with db.engine.connect() as conn:
            migrated = schema(conn)
        db.engine.dispose()
    old = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    with old.connect() as conn:
        run_script(conn)
        assert schema(conn) == migrated
    old.dispose()


def run_script(conn):
    text = "\n".join(line for line in (FIXTURES / "release-0.1-sqlite.sql").read_text().splitlines()
                     if not line.startswith("--"))
    for statement in text.split(";\n"):
        if statement.strip():
            conn.exec_driver_sql(statement)


TOKEN = "cg_" + "t" * 43
OPENED = json.dumps(firing("g1"))
NOW = datetime.now(timezone.utc).replace(tzinfo=None)
REPEATED = NOW - timedelta(seconds=10)


def release_0_1_database(app, database_url, tmp_path):
    """Tables as release 0.1 made them (no alembic_version), with its kinds of rows."""
    with app.app_context():
        if database_url.startswith("sqlite"):
            with db.engine.begin() as conn:
                run_script(conn)
        else:
            flask_migrate.upgrade(revision="0001")
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE alembic_version")
        conditions = ALERTMANAGER["trigger"][0]["conditions"]
        resolve = ALERTMANAGER["resolve"][0]["conditions"]
        mkey = hashlib.sha256(b"g1").hexdigest()
        with db.engine.begin() as conn:
            ins = conn.execute
            ins(sa.text("INSERT INTO services (id, name, enabled, version, created_at) VALUES (1, 'checkout-api', "
                        "true, 3, :t)"), {"t": NOW})
            ins(sa.text("INSERT INTO rules (service_id, kind, position, urgency, conditions, title_from, "
                        "description_from, map_key) VALUES (1, 'trigger', 0, 'high', :c, 'commonAnnotations.summary', "
                        "NULL, 'groupKey'), (1, 'resolve', 0, 'high', :r, NULL, NULL, 'groupKey')"),
                {"c": json.dumps(conditions), "r": json.dumps(resolve)})
            ins(sa.text("INSERT INTO api_tokens (id, name, digest, prefix, created_at) VALUES (1, 'am', :d, 'cg_tttttt', :t)"),
                {"d": hashlib.sha256(TOKEN.encode()).hexdigest(), "t": NOW})
            for call_id, payload, status in (("01000000-0000-7000-8000-000000000001", OPENED, 201),
                                             ("01000000-0000-7000-8000-000000000002", '{"status": "pending"}', 202),
                                             ("01000000-0000-7000-8000-000000000003", "", 202)):
                ins(sa.text("INSERT INTO api_calls (id, received_at, token_id, token_name, size, payload, status, "
                            "results, services) VALUES (:id, :t, 1, 'am', :n, :p, :s, '[]', ',1,')"),
                    {"id": call_id, "t": NOW - timedelta(seconds=20), "n": len(payload), "p": payload, "s": status})
            ins(sa.text("INSERT INTO incidents (id, service_id, title, description, urgency, status, mapping_value, "
                        "mapping_key, duplicate_count, created_by_call, created_at, last_seen_at) VALUES (1, 1, "
                        "'CPU high', :d, 'high', 'triggered', 'g1', :k, 1, '01000000-0000-7000-8000-000000000001', "
                        ":t, :seen)"), {"d": OPENED, "k": mkey, "t": NOW - timedelta(seconds=20), "seen": REPEATED})
            ins(sa.text("INSERT INTO incident_events (incident_id, at, kind, api_call_id) VALUES "
                        "(1, :t, 'created', '01000000-0000-7000-8000-000000000001'), (1, :seen, 'duplicate', NULL)"),
                {"t": NOW - timedelta(seconds=20), "seen": REPEATED})
            ins(sa.text("INSERT INTO replay_markers (service_id, subject_key, payload_hash, seen_at) VALUES "
                        "(1, :k, :h, :t)"),
                {"k": mkey, "h": hashlib.sha256(OPENED.encode()).hexdigest(), "t": NOW - timedelta(seconds=20)})


def counts(app) -> dict:
    with app.app_context(), db.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("services", "rules", "api_tokens", "api_calls", "api_call_services", "incidents", "incident_events",
                          "replay_markers", "payloads")}


def test_a_release_0_1_database_upgrades_in_place(bare_app, database_url, tmp_path):
    release_0_1_database(bare_app, database_url, tmp_path)
    runner = bare_app.test_cli_runner()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0 and "upgraded from 0001 to schema 0036" in result.output, result.output
    after_first = counts(bare_app)
    # Nothing lost: the empty payload is none, and the repeat's timeline row became the count's time.
    # Each call's services (",1,") became its rows of api_call_services.
    assert after_first == {"services": 1, "rules": 2, "api_tokens": 1, "api_calls": 3, "api_call_services": 3,
                           "incidents": 1, "incident_events": 1, "replay_markers": 1, "payloads": 2}
    with bare_app.app_context(), db.engine.connect() as conn:
        repeats = conn.execute(sa.text("SELECT duplicate_count, first_repeat_at, version FROM incidents")).one()
    assert (repeats[0], str(repeats[1])[:19], repeats[2]) == (1, str(REPEATED)[:19], 1)
    with bare_app.app_context(), db.engine.connect() as conn:  # issue 19: an old token keeps all it could do
        assert conn.execute(sa.text("SELECT scope FROM api_tokens")).scalars().all() == ["ingest"]
        assert conn.execute(sa.text("SELECT snoozed_until FROM incidents")).scalars().all() == [None]  # issue 20
    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0 and "already at schema 0036" in again.output
    assert counts(bare_app) == after_first  # a second init-db changes no row

    client = bare_app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    replay = client.post("/v1/process", data=OPENED, content_type="application/json", headers=headers)
    assert replay.status_code == 208  # the token still authenticates; a replay made before is still one
    incident = client.get("/v1/incidents/1", headers=headers).get_json()
    assert incident["description"] == OPENED and incident["status"] == "triggered"
    resolved = client.post("/v1/process", json={"status": "resolved", "groupKey": "g1"}, headers=headers)
    assert resolved.status_code == 200
    with bare_app.app_context(), db.engine.connect() as conn:
        texts = dict(conn.execute(sa.text("SELECT c.id, p.text FROM api_calls c JOIN payloads p "
                                          "ON p.digest = c.payload_digest")).all())
        described = conn.execute(sa.text("SELECT description FROM incidents WHERE id = 1")).scalar_one()
    assert texts["01000000-0000-7000-8000-000000000001"] == OPENED
    assert described is None  # S22's default now lives in payloads, once
