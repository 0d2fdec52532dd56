"""Fixtures: an app on a fresh SQLite file per test (or a fresh PostgreSQL schema), and helpers."""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from helpers import ALERTMANAGER, T0
from receivers import FakeTwilio, SmtpServer
from sqlalchemy import create_engine, text

from callgoose import clock, create_app
from callgoose.extensions import db
from callgoose.services.catalog import import_config
from callgoose.services.tokens import create_token
from callgoose.services.users import create_user

PG_URL = os.environ.get("CALLGOOSE_TEST_DATABASE_URL")
PG_SKIP = "PostgreSQL tests need CALLGOOSE_TEST_DATABASE_URL (CI sets it; .ci/run shows the value)"


def _make_app(database_url: str, instance_path, **config):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False, **config})
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'callgoose.sqlite'}"


@contextmanager
def pg_schema():
    """A PostgreSQL URL whose search_path is a schema made for it, dropped afterwards."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a schema made for this test and dropped after it."""
    with pg_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request):
    """Run a test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def app_for(database_url: str, tmp_path, **config):
    """Yield an app on a fresh database, then close its connections (for fixtures)."""
    app = _make_app(database_url, tmp_path, **config)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(database_url, tmp_path):
    """The app every client test uses: on SQLite, and once more on PostgreSQL (issue 7, item 6)."""
    yield from app_for(database_url, tmp_path)


class Setup:
    """Create services and tokens for a test, through the same code the CLI uses."""

    def __init__(self, app):
        self.app = app

    def services(self, *services: dict) -> None:
        with self.app.app_context():
            import_config({"services": list(services)}, clock.now())

    def token(self, name: str = "test", service: str | None = None) -> str:
        from sqlalchemy import select

        from callgoose.store.models import Service

        with self.app.app_context():
            service_id = None
            if service:
                service_id = db.session.execute(select(Service.id).where(Service.name == service)).scalar_one()
            _, plaintext = create_token(name, service_id, clock.now())
            db.session.commit()
        return plaintext

    def query(self, sql: str, **params):
        """Read the database through a fresh connection (not the request's session)."""
        with self.app.app_context():
            with db.engine.connect() as conn:
                return conn.execute(text(sql), params).all()


@pytest.fixture
def setup(app):
    return Setup(app)


def _add_user(app, email="admin@example.com", admin=True, password="correct horse", role=None):
    with app.app_context():
        create_user(email, password, role=role or ("admin" if admin else "responder"), now=clock.now())
        db.session.commit()
    return email, password


def _sign_in(client, email, password):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


@pytest.fixture
def admin(app, client):
    _sign_in(client, *_add_user(app))
    return client


@pytest.fixture
def prepared(dbapp, database_url):
    """A database (SQLite, then PostgreSQL) with the Alertmanager service, and a global token."""
    setup = Setup(dbapp)
    setup.services(ALERTMANAGER)
    return database_url, setup, setup.token()


@pytest.fixture
def dbapp(database_url, tmp_path):
    """Like ``app``, without pytest-flask's shared request context (which it pushes for ``app``)."""
    yield from app_for(database_url, tmp_path)


# -- Helpers as fixtures: a test asks for what it uses ----------------------------------

@pytest.fixture
def make_app():
    """``make_app(database_url, instance_path, **config)``: another app on its own database,
    its connections closed after the test."""
    made = []

    def make(database_url: str, instance_path, **config):
        made.append(_make_app(database_url, instance_path, **config))
        return made[-1]
    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def setup_for():
    """``setup_for(app)``: services, tokens and queries for an app other than ``app``."""
    return Setup


@pytest.fixture
def add_user():
    """``add_user(app, email=..., admin=True, password=..., role=None)``: a user; returns (email, password)."""
    return _add_user


@pytest.fixture
def sign_in():
    """``sign_in(client, email, password)``: sign a test client in (asserting it worked)."""
    return _sign_in


@pytest.fixture
def now(monkeypatch):
    """The time ingest sees: ``now.set(seconds after T0)``."""
    class Now:
        value = T0

        def set(self, offset):
            self.value = T0 + offset

    current = Now()
    monkeypatch.setattr(clock, "now", lambda: current.value)
    return current


# Paging with real parts on loopback (tests/receivers.py): an SMTP server, a Twilio-compatible
# API, and an app that pages through both.
PAGING_BASE = "http://callgoose.test"


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def paging_app(make_app, database_url, tmp_path, smtp, twilio):
    app = make_app(database_url, tmp_path, BASE_URL=PAGING_BASE, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port,
                   MAIL_FROM="pager@callgoose.test", TWILIO_ACCOUNT_SID=twilio.sid,
                   TWILIO_AUTH_TOKEN=twilio.token, TWILIO_FROM="+15005550006", TWILIO_API_BASE=twilio.base,
                   WEBHOOK_ALLOWED_HOSTS="127.0.0.1", DELIVERY_TIMEOUT_SECONDS=5)
    yield app
    with app.app_context():
        db.engine.dispose()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (never a browser a tool downloads); skips, saying
    why, only where Chromium or Playwright is missing (.ci/run installs both)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the machine
        pytest.skip("needs the playwright package (pip install -e '.[test]')")
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield launched
        launched.close()
