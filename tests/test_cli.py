"""Command line (S35) and settings (S37)."""

import json
import os
import subprocess
import sys

import pytest
from helpers import ALERTMANAGER
from servers import ROOT

from callgoose import create_app
from callgoose.engine.priorities import DEFAULTS


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_s35_init_db_is_safe_to_run_twice(runner):
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0 and "Database ready" in result.output


def test_s35_create_user_prompts_for_the_password(runner, setup):
    result = runner.invoke(args=["create-user", "Ops@Example.com", "--admin"], input="longpassword\nlongpassword\n")
    assert result.exit_code == 0, result.output
    assert "Created admin ops@example.com" in result.output
    email, pw_hash, admin = setup.query("SELECT email, password_hash, role FROM users")[0]
    assert email == "ops@example.com" and admin == "admin" and "longpassword" not in pw_hash


@pytest.mark.parametrize("args, message", [
    (["create-user", "not-an-email", "--password", "longpassword"], "is not an email address"),
    (["create-user", "a@b.c", "--password", "short"], "at least 8 characters"),
])
def test_s35_create_user_refusals_exit_non_zero_with_one_line(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_s35_create_user_twice_is_refused(runner):
    runner.invoke(args=["create-user", "a@b.c", "--password", "longpassword"])
    result = runner.invoke(args=["create-user", "a@b.c", "--password", "longpassword"])
    assert result.exit_code == 1 and "exists already" in result.output


def test_s35_create_token_prints_the_token_alone_on_the_last_line(runner, setup, client):
    setup.services(ALERTMANAGER)
    result = runner.invoke(args=["create-token", "am", "--service", "checkout-api"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("cg_") and " " not in token
    assert client.post("/v1/process", json={"status": "firing", "groupKey": "x"},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 201
    missing = runner.invoke(args=["create-token", "x", "--service", "nope"])
    assert missing.exit_code == 1 and "no service named 'nope'" in missing.output


def test_s35_import_then_export_config(runner, tmp_path):
    source = ROOT / "examples" / "callgoose.json"
    result = runner.invoke(args=["import-config", str(source)])
    assert result.exit_code == 0 and "Imported 1 service: checkout-api" in result.output
    out = tmp_path / "export.json"
    assert runner.invoke(args=["export-config", str(out)]).exit_code == 0
    exported = json.loads(out.read_text())
    assert exported["services"][0]["name"] == "checkout-api"
    assert len(exported["services"][0]["trigger"]) == 2
    stdout = runner.invoke(args=["export-config"])
    assert json.loads(stdout.stdout) == exported


def test_s35_import_replaces_the_rules_of_an_existing_service(runner, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"services": [ALERTMANAGER]}))
    runner.invoke(args=["import-config", str(path)])
    path.write_text(json.dumps({"services": [{"name": "checkout-api", "trigger": [{"urgency": "low"}]}]}))
    assert runner.invoke(args=["import-config", str(path)]).exit_code == 0
    service, = json.loads(runner.invoke(args=["export-config"]).stdout)["services"]
    assert service["resolve"] == [] and [r["urgency"] for r in service["trigger"]] == ["low"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    (json.dumps({"services": [{"name": "a", "trigger": [{"conditions": [
        {"json_key": "k", "contains": ["x", "y", "z", "w" * 201]}]}] * 3}]}),
     "services[0].trigger[0].conditions[0].contains[3]: longer than 200 characters"),
])
def test_s35_import_errors_exit_non_zero_and_name_the_fault(runner, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = runner.invoke(args=["import-config", str(path)])
    assert result.exit_code == 1 and message in result.output
    exported = json.loads(runner.invoke(args=["export-config"]).stdout)
    assert exported.pop("priorities") == [p.as_dict() for p in DEFAULTS.values()]  # issue 20: the defaults
    assert exported == {"users": [], "schedules": [], "escalation_policies": [], "services": []}


def test_s35_console_script_offers_every_command(tmp_path):
    env = {**os.environ, "CALLGOOSE_INSTANCE_PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", "from callgoose.cli import main; main()", "--help"],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    for command in ("init-db", "create-user", "create-token", "import-config", "export-config", "serve"):
        assert command in out.stdout


# -- S37 settings ----------------------------------------------------------------------

def test_s37_environment_overrides_instance_config(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text("DUPLICATE_WINDOW_SECONDS = 60\nBASE_URL = 'https://a.example'\n")
    monkeypatch.setenv("CALLGOOSE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CALLGOOSE_DUPLICATE_WINDOW_SECONDS", "120")
    monkeypatch.setenv("CALLGOOSE_MAX_BODY_BYTES", "2048")
    app = create_app()
    assert app.config["DUPLICATE_WINDOW_SECONDS"] == 120
    assert app.config["BASE_URL"] == "https://a.example"
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///callgoose.sqlite"
    assert app.instance_path == str(tmp_path)


def test_s37_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLGOOSE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first, second = create_app().config["SECRET_KEY"], create_app().config["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert create_app().config["SECRET_KEY"] == "from-env"


def test_s37_database_url_selects_postgresql_with_psycopg3(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLGOOSE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/cg")
    assert create_app().config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/cg"


def test_s37_bad_settings_are_refused_with_their_name(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLGOOSE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CALLGOOSE_DUPLICATE_WINDOW_SECONDS", '"five"')
    with pytest.raises(ValueError, match="DUPLICATE_WINDOW_SECONDS"):
        create_app()


def test_s33_prune_deletes_old_calls_and_markers_but_never_breaks_dedup(app, runner, setup, client, monkeypatch):
    from callgoose import clock
    setup.services(ALERTMANAGER)
    token = setup.token()
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start - 31 * 86400)
    assert client.post("/v1/process", json={"status": "firing", "groupKey": "old"},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 201
    monkeypatch.setattr(clock, "now", lambda: start)
    assert client.post("/v1/process", json={"status": "firing", "groupKey": "new"},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 201
    result = runner.invoke(args=["prune"])
    assert result.exit_code == 0
    assert ("Deleted 1 API call older than 30 days (with 1 timeline entry they made) and 1 expired replay marker"
            in result.output)
    # The old incident's "created" entry went with its call; the new one's stays. The old
    # incident's page still says when it opened, from the incident row.
    assert setup.query("SELECT i.mapping_value, e.kind FROM incident_events e JOIN incidents i "
                       "ON i.id = e.incident_id") == [("new", "created")]
    assert setup.query("SELECT count(*) FROM api_call_services")[0][0] == 1  # the old call's row went with it
    assert [r[0] for r in setup.query("SELECT text FROM api_calls JOIN payloads ON digest = payload_digest")] == ['{"status": "firing", "groupKey": "new"}']
    response = client.post("/v1/process", json={"status": "firing", "groupKey": "old", "again": 1},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 208  # the old incident is still open: S26 holds without its call


def test_export_config_names_a_service_that_cannot_be_rebuilt(runner, app, setup):
    from sqlalchemy import text

    from callgoose.extensions import db

    setup.services(ALERTMANAGER)
    with app.app_context():
        db.session.execute(text("UPDATE rules SET urgency = 'weird'"))
        db.session.commit()
    result = runner.invoke(args=["export-config"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "checkout-api" in result.output and "cannot be exported" in result.output


def test_import_config_cannot_demote_the_last_active_admin(runner, app, add_user, tmp_path):
    add_user(app, "boss@example.com")
    doc = {"users": [{"email": "boss@example.com", "role": "responder"}], "services": []}
    path = tmp_path / "demote.json"
    path.write_text(json.dumps(doc))
    result = runner.invoke(args=["import-config", str(path)])
    assert result.exit_code == 1 and "no active admin" in result.output, result.output
    exported = json.loads(runner.invoke(args=["export-config"]).stdout)
    assert [u["role"] for u in exported["users"]] == ["admin"]  # nothing was saved
    add_user(app, "second@example.com")
    assert runner.invoke(args=["import-config", str(path)]).exit_code == 0  # another admin remains
