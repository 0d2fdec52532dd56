"""Backups: ``backup FILE`` makes a consistent online copy of a SQLite database while the
server takes calls; ``restore FILE`` checks a copy and puts it back (never under a running
server); a restored copy passes ``init-db`` and its tokens authenticate."""

import json
import os
import sqlite3
import subprocess
import sys
import threading

import pytest
from helpers import ALERTMANAGER
from servers import ROOT, free_port, post, start_server

from callgoose import create_app
from callgoose.extensions import db


def cli(instance, *args: str, url: str | None = None, **env) -> subprocess.CompletedProcess:
    """``flask --app callgoose ARGS`` in another process, on the instance folder's SQLite."""
    environment = {**os.environ, "CALLGOOSE_INSTANCE_PATH": str(instance), "SECRET_KEY": "test",
                   "PYTHONPATH": str(ROOT), **env}
    environment["DATABASE_URL"] = url or f"sqlite:///{instance / 'callgoose.sqlite'}"
    return subprocess.run([sys.executable, "-m", "flask", "--app", "callgoose", *args], env=environment,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def run(instance, *args: str, url: str | None = None) -> tuple[int, str]:
    """The command in this process (faster); its connections closed after it."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test",
                      "DATABASE_URL": url or f"sqlite:///{instance / 'callgoose.sqlite'}"})
    try:
        result = app.test_cli_runner().invoke(args=list(args))
        return result.exit_code, result.output
    finally:
        with app.app_context():
            db.engine.dispose()


def one_line_failure(done: tuple[int, str], words: str) -> None:
    code, output = done
    lines = [line for line in output.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1 and words in lines[0], output


@pytest.fixture
def instance(tmp_path):
    """A migrated SQLite instance with the Alertmanager service; yields (folder, token)."""
    folder = tmp_path / "live"
    folder.mkdir()
    assert run(folder, "init-db")[0] == 0
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"services": [ALERTMANAGER]}))
    assert run(folder, "import-config", str(config))[0] == 0
    code, output = run(folder, "create-token", "before-backup")
    assert code == 0, output
    return folder, output.strip().splitlines()[-1]


def firing(i: int) -> dict:
    return {"status": "firing", "groupKey": f"g{i}", "commonLabels": {"alertname": f"A{i}"},
            "commonAnnotations": {"summary": f"alert {i}"}, "alerts": [{"status": "firing"}]}


@pytest.mark.slow
def test_backup_while_serving_then_restore_into_a_new_instance(instance, tmp_path):
    live, token = instance
    port = free_port()
    proc = start_server(f"sqlite:///{live / 'callgoose.sqlite'}", live, port, 4)
    answers, stop = [], threading.Event()

    def traffic():
        i = 0
        while not stop.is_set():
            answers.append(post(port, token, firing(i))[0])
            i += 1
    sender = threading.Thread(target=traffic)
    try:
        sender.start()
        while len(answers) < 20:  # the server is taking calls
            sender.join(0.05)
        acknowledged = len(answers)
        copy = tmp_path / "backup" / "callgoose-backup.sqlite"
        copy.parent.mkdir()
        made = cli(live, "backup", str(copy))
        assert made.returncode == 0, made.stderr
        assert "Backed up" in made.stdout and str(copy) in made.stdout
        during = len(answers)
        while len(answers) < during + 20:  # and still is
            sender.join(0.05)
    finally:
        stop.set()
        sender.join(30)
        proc.terminate()
        proc.wait(20)
    assert set(answers) <= {201, 202, 200, 208}, sorted(set(answers))
    with sqlite3.connect(copy) as conn:  # consistent, and holds what was acknowledged before it began
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM api_calls").fetchone()[0] >= acknowledged

    new = tmp_path / "new"
    new.mkdir()
    restored = cli(new, "restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    assert "Restored" in restored.stdout
    ready = cli(new, "init-db")
    assert ready.returncode == 0 and "Database ready" in ready.stdout, ready.stderr
    port = free_port()
    proc = start_server(f"sqlite:///{new / 'callgoose.sqlite'}", new, port, 4)
    try:
        status, body = post(port, token, firing(10_000))
        assert 200 <= status < 300, body  # the token made before the backup authenticates
        assert post(port, "cg_not-a-token", firing(10_001))[0] == 401
    finally:
        proc.terminate()
        proc.wait(20)


def test_restore_refuses_while_a_server_uses_the_database(instance, tmp_path):
    live, _ = instance
    copy = tmp_path / "copy.sqlite"
    assert run(live, "backup", str(copy))[0] == 0
    proc = start_server(f"sqlite:///{live / 'callgoose.sqlite'}", live, free_port(), 2)
    try:
        one_line_failure(run(live, "restore", str(copy)), "in use")
    finally:
        proc.terminate()
        proc.wait(20)
    assert run(live, "restore", str(copy))[0] == 0  # once it stopped


def test_restore_checks_the_file(instance, tmp_path):
    live, _ = instance
    copy = tmp_path / "copy.sqlite"
    assert run(live, "backup", str(copy))[0] == 0
    one_line_failure(run(live, "restore", str(tmp_path / "missing.sqlite")), "no such file")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    one_line_failure(run(live, "restore", str(junk)), "not a SQLite database")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x)")
    one_line_failure(run(live, "restore", str(other)), "not a Callgoose database")
    future = tmp_path / "future.sqlite"
    future.write_bytes(copy.read_bytes())
    with sqlite3.connect(future) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    one_line_failure(run(live, "restore", str(future)), "9999")
    damaged = tmp_path / "damaged.sqlite"
    data = bytearray(copy.read_bytes())
    page = 4096
    data[page * 3:page * 3 + 200] = os.urandom(200)  # a table page, not the header
    damaged.write_bytes(bytes(data))
    one_line_failure(run(live, "restore", str(damaged)), "integrity")


def test_backup_refuses_to_overwrite_and_names_pg_dump_on_postgresql(instance, tmp_path, pg_url):
    live, _ = instance
    copy = tmp_path / "copy.sqlite"
    copy.write_text("an older file")
    one_line_failure(run(live, "backup", str(copy)), "exists")
    one_line_failure(run(live, "backup", str(live / "callgoose.sqlite")), "exists")
    one_line_failure(run(live, "backup", str(tmp_path / "x.dump"), url=pg_url), "pg_dump")
    one_line_failure(run(live, "restore", str(copy), url=pg_url), "pg_restore")


def test_backup_of_an_app_database_through_the_cli_runner(tmp_path):
    """The command's own wiring, in-process: the copy is a whole database file."""
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite'}"})
    assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b.sqlite")])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "b.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, no WAL beside it
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    with app.app_context():
        db.engine.dispose()
