"""Callgoose: incident intake and incident management."""

from __future__ import annotations

import os
import secrets

DEFAULTS = {
    "DATABASE_URL": "sqlite:///callgoose.sqlite",  # relative: inside the instance folder
    "DUPLICATE_WINDOW_SECONDS": 300,
    "MAX_BODY_BYTES": 1024 * 1024,
    "SPLIT_MAX_BODY_BYTES": 16 * 1024 * 1024,  # a token reaching a service that splits payloads (S38)
    "SPLIT_MAX_ELEMENTS": 10_000,  # elements of a split payload one call may carry; more: 413
    "BASE_URL": None,
    "HOST": "127.0.0.1",
    "PORT": 8000,
    "THREADS": 8,
    "CONNECTION_LIMIT": 2000,  # open connections before new ones wait (waitress: 100)
    "IDLE_TIMEOUT_SECONDS": 30,  # an idle connection is closed after this (waitress: 120)
    "SHUTDOWN_TIMEOUT_SECONDS": 10,  # on SIGTERM, calls in flight get this long to finish
    "WORKER_TICK_SECONDS": 1,  # how often the background worker looks for due work (pages, escalations)
    "WORKER_LEASE_SECONDS": 20,  # another process takes over this long after the leader died
    "HEALTH_PING_URL": None,  # the dead-man's switch: GET while paging works (jobs/ping.py)
    "HEALTH_PING_INTERVAL_SECONDS": 60,
    "API_LOG_RETENTION_DAYS": 30,
    "AUDIT_RETENTION_DAYS": 365,  # issue 19: at least 365; 0 keeps the audit log forever
    "POLL_INTERVAL_SECONDS": 1,
    "SHADOW": False,
    "REQUIRE_SECOND_FACTOR": None,  # issue 19: admins | all; unset: a second factor is optional  # issue 18: every service runs in shadow mode (incidents open, nobody is paged)
    # Paging (issue 8): mail, Twilio-compatible SMS and calls, webhooks (CALLGOOSE_<name>)
    "SMTP_HOST": None,
    "SMTP_PORT": None,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_SECURITY": "none",  # none | starttls | tls
    "MAIL_FROM": "callgoose@localhost",
    "TWILIO_ACCOUNT_SID": None,
    "TWILIO_AUTH_TOKEN": None,
    "TWILIO_FROM": None,
    "TWILIO_API_BASE": "https://api.twilio.com",
    "WEBHOOK_ALLOWED_HOSTS": "",  # hosts (any port) a webhook may reach although they are private
    "DELIVERY_TIMEOUT_SECONDS": 10,
    "DELIVERY_DEADLINE_SECONDS": 20,  # one whole send (a dripping receiver ends here); at most 30
    "DELIVERY_SENDERS": 8,  # messages the worker sends at once, in threads that outlive a tick
    "DELIVERY_SENDERS_PER_DESTINATION": 3,  # of them at most to one webhook host, the SMTP server or Twilio
    # Email intake (issue 10): off unless SMTP_INTAKE_LISTEN is host:port; runs with the worker
    "SMTP_INTAKE_LISTEN": None,
    "SMTP_INTAKE_DOMAIN": "callgoose.localhost",
    "SMTP_INTAKE_MAX_BYTES": 10 * 1024 * 1024,
    "IMPORT_MAX_BYTES": 32 * 1024 * 1024,  # Services → Import: the saved files of another tool, in all
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # set true (CALLGOOSE_SESSION_COOKIE_SECURE=true) behind TLS
    "REMEMBER_COOKIE_SECURE": False,
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    "REMEMBER_COOKIE_DURATION": 14 * 86400,
    "SESSION_PROTECTION": "strong",
    # Single sign-on (issue 19): OpenID Connect, a trusted reverse proxy's headers, and whether
    # the sign-in page offers passwords (break glass at /login/local always does, to local admins)
    "OIDC_ISSUER": None,
    "OIDC_CLIENT_ID": None,
    "OIDC_CLIENT_SECRET": None,
    "OIDC_SCOPES": "openid email profile",
    "OIDC_CREATE_USERS": False,
    "OIDC_ROLES_CLAIM": None,  # e.g. "groups"; none: every user signing in is a responder when created
    "OIDC_ADMIN_VALUES": "",  # comma-separated values of that claim (or of the groups header) making an admin
    "OIDC_VIEWER_VALUES": "",  # ... making a viewer; anything else: a responder
    "OIDC_PROVIDER_NAME": None,  # the button's "Sign in with <name>"; none: the issuer's host
    "PASSWORD_SIGN_IN": True,
    "TRUSTED_HEADER_USER": None,  # a header carrying the user's email, set by the proxy
    "TRUSTED_HEADER_GROUPS": None,  # a header carrying comma-separated groups
    "TRUSTED_PROXIES": "",  # comma-separated CIDRs: the only peers whose headers are believed
}
# The single sign-on settings keep the names in the environment too (OIDC_ISSUER as
# well as CALLGOOSE_OIDC_ISSUER; the prefixed one wins).
SSO_SETTINGS = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPES", "OIDC_CREATE_USERS",
                "OIDC_ROLES_CLAIM", "OIDC_ADMIN_VALUES", "OIDC_VIEWER_VALUES", "OIDC_PROVIDER_NAME",
                "PASSWORD_SIGN_IN", "TRUSTED_HEADER_USER", "TRUSTED_HEADER_GROUPS", "TRUSTED_PROXIES")
SSO_FLAGS = ("OIDC_CREATE_USERS", "PASSWORD_SIGN_IN")


def _secret_key(instance_path: str) -> str:
    """The key kept in the instance folder, made on first start."""
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path, encoding="ascii") as fh:
            key = fh.read().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


# Settings that are text whatever they look like: the environment is read as JSON where it
# parses, which would turn a password of digits into a number (and "1e3" into 1000.0).
TEXT_SETTINGS = ("BASE_URL", "SMTP_HOST", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_SECURITY", "MAIL_FROM",
                 "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "TWILIO_API_BASE",
                 "WEBHOOK_ALLOWED_HOSTS", "SMTP_INTAKE_LISTEN", "SMTP_INTAKE_DOMAIN", "HEALTH_PING_URL",
                 *(name for name in SSO_SETTINGS if name not in SSO_FLAGS))


def _check_settings(config) -> None:
    for name, low in (("DUPLICATE_WINDOW_SECONDS", 0), ("MAX_BODY_BYTES", 1), ("SPLIT_MAX_BODY_BYTES", 1),
                      ("SPLIT_MAX_ELEMENTS", 1), ("THREADS", 1),
                      ("PORT", 1), ("API_LOG_RETENTION_DAYS", 1), ("POLL_INTERVAL_SECONDS", 1),
                      ("CONNECTION_LIMIT", 10), ("IDLE_TIMEOUT_SECONDS", 1), ("SHUTDOWN_TIMEOUT_SECONDS", 0),
                      ("WORKER_TICK_SECONDS", 1), ("WORKER_LEASE_SECONDS", 2), ("SMTP_INTAKE_MAX_BYTES", 1024),
                      ("IMPORT_MAX_BYTES", 1024),
                      ("DELIVERY_DEADLINE_SECONDS", 1), ("DELIVERY_SENDERS", 1),
                      ("DELIVERY_SENDERS_PER_DESTINATION", 1)):
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"setting {name} must be a whole number of at least {low}, not {value!r}")


def _check_audit(config) -> None:
    days = config["AUDIT_RETENTION_DAYS"]
    if isinstance(days, bool) or not isinstance(days, int) or not (days == 0 or days >= 365):
        raise ValueError(f"setting AUDIT_RETENTION_DAYS must be 0 (keep forever) or at least 365, not {days!r}")


def _check_shadow(config) -> None:
    if not isinstance(config["SHADOW"], bool):
        raise ValueError(f"setting SHADOW must be true or false, not {config['SHADOW']!r}")


def _check_intake(config) -> None:
    listen = config.get("SMTP_INTAKE_LISTEN")
    if listen:
        host, colon, port = str(listen).rpartition(":")
        if not colon or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"setting SMTP_INTAKE_LISTEN must be host:port, not {listen!r}")


def _check_ping(config) -> None:
    interval = config["HEALTH_PING_INTERVAL_SECONDS"]
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ValueError(f"setting HEALTH_PING_INTERVAL_SECONDS must be a whole number of at least 1, not {interval!r}")
    if config.get("HEALTH_PING_URL"):
        from .delivery.ping import check_url

        check_url(config["HEALTH_PING_URL"])


def _read_sso(config) -> None:
    """Flags from text; then checked (a CIDR or a half-configured provider stops the start,
    not the first sign-in)."""
    for name in SSO_FLAGS:
        value = config[name]
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            config[name] = value.strip().lower() in ("true", "1", "yes")
        elif not isinstance(config[name], bool):
            raise ValueError(f"setting {name} must be true or false, not {value!r}")
    from .engine.sso import networks

    networks(config["TRUSTED_PROXIES"] or "")
    if config["OIDC_ISSUER"] and not (config["OIDC_CLIENT_ID"] and config["OIDC_CLIENT_SECRET"]):
        raise ValueError("setting OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too")
    if config["TRUSTED_HEADER_USER"] and not config["TRUSTED_PROXIES"]:
        raise ValueError("setting TRUSTED_HEADER_USER needs TRUSTED_PROXIES: the proxies whose headers are believed")


def _check_sms_gateway(config) -> None:
    """A gateway whose headers or body template cannot work stops the start, not the 3 a.m. page."""
    from .delivery.sms_gateway import gateway

    gateway(config)


def create_app(test_config: dict | None = None):
    """Build the app: defaults, instance config, environment, then ``test_config`` (S37)."""
    # Imported here so that ``import callgoose.engine`` loads no framework (the engine is pure).
    from flask import Flask

    app = Flask(__name__, instance_relative_config=True,
                instance_path=os.environ.get("CALLGOOSE_INSTANCE_PATH") or None)
    from .channels import settings_defaults

    channel_settings = settings_defaults()  # each channel's own (PUSHOVER_APP_TOKEN, ...): text
    app.config.from_mapping({**DEFAULTS, **channel_settings})
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("CALLGOOSE")
    for name in (*TEXT_SETTINGS, *channel_settings):
        if f"CALLGOOSE_{name}" in os.environ:
            app.config[name] = os.environ[f"CALLGOOSE_{name}"]
    for name in ("DATABASE_URL", "SECRET_KEY", "REQUIRE_SECOND_FACTOR"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    for name in SSO_SETTINGS:  # the unprefixed names; CALLGOOSE_<name> wins
        if name in os.environ and f"CALLGOOSE_{name}" not in os.environ:
            app.config[name] = os.environ[name]
    app.config["INSTANCE_PATH"] = app.instance_path  # where a channel keeps its own files (the Web Push key)
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False  # answers keep the field order SPEC S30 shows
    os.makedirs(app.instance_path, exist_ok=True)
    _check_settings(app.config)
    _check_shadow(app.config)
    _read_sso(app.config)
    from .services.second_factors import check_requirement

    app.config["REQUIRE_SECOND_FACTOR"] = check_requirement(app.config["REQUIRE_SECOND_FACTOR"])
    _check_audit(app.config)
    _check_intake(app.config)
    _check_ping(app.config)
    _check_sms_gateway(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)

    from .store.database import configure, engine_options, normalize_url

    url = normalize_url(app.config["DATABASE_URL"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(url, app.config["THREADS"]))
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]

    from .extensions import babel, csrf, db, login_manager, migrate
    from .logs import install_redaction
    from .services.catalog import spec_cache
    from .web.i18n import locale, timezone

    install_redaction()
    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", os.path.join(os.path.dirname(__file__), "translations"))
    babel.init_app(app, locale_selector=locale, timezone_selector=timezone)
    app.extensions["callgoose_specs"] = spec_cache(app.config)  # with the install's SHADOW
    with app.app_context():
        configure(db.engine)

    from . import cli, web

    web.register(app)
    cli.init_app(app)
    return app
