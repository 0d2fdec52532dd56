"""Command line (S35): ``flask --app callgoose <command>`` or ``callgoose <command>``.

Each command prints one line of outcome, or exits non-zero with a one-line reason.
"""

from __future__ import annotations

import functools
import getpass
import json
import sys
import time

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import OperationalError

from . import clock
from .engine import SpecError
from .cli_audit import verify_audit_command
from .cli_import import import_from_command
from .engine.config import parse_document
from .engine.oncall import ROLES
from .extensions import db
from .services import audit
from .services.catalog import (
    current_config,
    delete,
    deletion_summary,
    find_service,
    import_config,
    rename,
)
from .services.invitations import Links, invite
from .services.retention import prune
from .services.tokens import INGEST, ROUTING_KEY, SCOPE_NAMES, SCOPES, add_token
from .services.users import add_user
from .store.database import sync_clock, upgrade_database
from .web.presenters import plural
from .worker import Worker


def _safe_url(url) -> str:
    return url.render_as_string(hide_password=True)


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create the database, or upgrade it to the newest schema (safe to run again)."""
    try:
        before, after = upgrade_database()
    except OperationalError as exc:
        raise click.ClickException(f"cannot create or upgrade the database: {exc.orig}") from None
    done = "already at" if before == after else f"upgraded from {before or 'nothing'} to"
    click.echo(f"Database ready ({done} schema {after}): {_safe_url(db.engine.url)}")


def role_options(command):
    """``--admin``, ``--viewer`` and ``--role ROLE`` (a responder by default), as one ``role``."""
    for option in reversed((
            click.option("--admin", "role", flag_value="admin", help="May change tokens, services, rules and users."),
            click.option("--viewer", "role", flag_value="viewer", help="Reads everything, changes nothing."),
            click.option("--role", "role", type=click.Choice(ROLES), default="responder", show_default=True,
                         help="The role; --admin and --viewer are short for it."))):
        command = option(command)
    return command


@click.command("create-user")
@click.argument("email")
@role_options
@click.password_option(help="Asked for when not given.")
@with_appcontext
def create_user_command(email, role, password):
    """Add a dashboard user: a responder unless --admin or --viewer."""
    try:
        user = add_user(email, password, role=role, now=clock.now())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {role} {user.email}")


@click.command("invite")
@click.argument("email")
@role_options
@with_appcontext
def invite_command(email, role):
    """Invite someone by email: a link (72 hours, once) to set their own password."""
    try:
        user, created = invite(Links.of(current_app.config), email, role=role, now=clock.now())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Invited {user.email} ({'new ' if created else ''}{user.role}); the mail goes out with the worker.")


@click.command("create-token")
@click.argument("name")
@click.option("--service", "service_name", help="Scope the token to this service (default: global).")
@click.option("--routing-key", is_flag=True,
              help="A PagerDuty-style routing key (32 characters) for the Events API v2; needs --service.")
@click.option("--scope", type=click.Choice(SCOPES), default=INGEST, show_default=True,
              help="ingest: sends alerts (and uses the JSON API); read: a read-only API token; "
                   "write: a read-write API token (acknowledge, resolve, maintenance). API tokens send no alerts.")
@with_appcontext
def create_token_command(name, service_name, routing_key, scope):
    """Create an API token and print it, once, on the last line."""
    if routing_key and not service_name:
        raise click.ClickException("--routing-key needs --service: a routing key routes events to one service")
    if routing_key and scope != INGEST:
        raise click.ClickException("--routing-key sends events: it takes no --scope but ingest")
    service_id = None
    if service_name:
        service = find_service(service_name)
        if service is None:
            raise click.ClickException(f"no service named {service_name!r}")
        service_id = service.id
    try:
        _, plaintext = add_token(name, service_id, clock.now(), ROUTING_KEY if routing_key else "token", scope)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    reach = f"service {service_name}" if service_name else "all services"
    what = ("Routing key (PagerDuty Events API v2: POST /v2/enqueue)" if routing_key
            else SCOPE_NAMES[scope][0].upper() + SCOPE_NAMES[scope][1:])
    click.echo(f"{what} {name!r} for {reach}. It is shown only now; keep it safe:")
    click.echo(plaintext)


@click.command("import-config")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@with_appcontext
def import_config_command(file):
    """Import services and rules from a JSON file (``-`` for standard input)."""
    try:
        names = import_config(parse_document(file.read()), clock.now())
    except SpecError as exc:
        raise click.ClickException(f"{file.name}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    click.echo(f"Imported {plural(len(names), 'service')}: {', '.join(names) or '-'}")


@click.command("export-config")
@click.argument("file", required=False, type=click.File("w", encoding="utf-8"))
@with_appcontext
def export_config_command(file):
    """Write every service and its rules as JSON (to FILE, or standard output)."""
    try:
        text = json.dumps(current_config(), indent=2, ensure_ascii=False) + "\n"
    except SpecError as exc:
        raise click.ClickException(str(exc)) from None
    (file or sys.stdout).write(text)
    if file is not None:
        click.echo(f"Exported to {file.name}", err=True)


@click.command("rename-service")
@click.argument("old")
@click.argument("new")
@with_appcontext
def rename_service_command(old, new):
    """Rename a service (tokens, rules and incidents stay with it)."""
    service = find_service(old)
    if service is None:
        raise click.ClickException(f"no service named {old!r}")
    try:
        rename(service.id, new)
    except SpecError as exc:
        raise click.ClickException(f"cannot rename: {exc}") from None
    click.echo(f"Renamed {old} to {new}")


@click.command("delete-service")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def delete_service_command(name, yes):
    """Delete a service: rules, windows and scoped tokens go; its incidents stay readable."""
    service = find_service(name)
    if service is None:
        raise click.ClickException(f"no service named {name!r}")
    summary = deletion_summary(service)
    if not yes and not click.confirm(
            f"Delete {name}: {summary['rules']} rules, {summary['windows']} maintenance windows, "
            f"{summary['tokens']} scoped tokens revoked, {summary['open_incidents']} open incidents resolved?"):
        raise click.ClickException("nothing deleted")
    delete(service.id, clock.now(), "command line")
    click.echo(f"Deleted {name}; its {summary['incidents']} incidents stay readable")


@click.command("templates")
@click.argument("key", required=False)
def templates_command(key):
    """List the integration templates (KEY<TAB>name), or print one as JSON."""
    from .services.templates import all_templates, template

    if key is None:
        for found in all_templates().values():
            click.echo(f"{found.key}\t{found.name}")
        return
    found = template(key)
    if found is None:
        raise click.ClickException(f"no template {key!r} (flask --app callgoose templates lists them)")
    click.echo(json.dumps(found.as_json(), indent=2, ensure_ascii=False))


@click.command("create-service")
@click.argument("name")
@click.option("--template", "key", required=True, help="A template key (see: templates).")
@with_appcontext
def create_service_command(name, key):
    """Create service NAME with a template's rules (no token: create-token --service NAME)."""
    from .services.templates import API_TOKENS, create_service, template

    try:
        create_service(name, key, clock.now())
    except SpecError as exc:
        raise click.ClickException(exc.message) from None
    except OperationalError as exc:
        raise click.ClickException(f"cannot reach the database: {exc.orig}") from None
    routing = " --routing-key" if API_TOKENS.get(template(key).api or "") == "routing_key" else ""
    click.echo(f"Created service {name} from template {key}; "
               f"a token for it: flask --app callgoose create-token NAME --service {name}{routing}")


def _start_intake(app):
    """The email intake's listener, in the process that runs the worker (None when it is off)."""
    from .intake import start_listener

    try:
        listener = start_listener(app)
    except OSError as exc:
        raise click.ClickException(f"email intake cannot listen on {app.config['SMTP_INTAKE_LISTEN']}: "
                                   f"{exc.strerror or exc}") from None
    if listener is not None:
        click.echo(f"Email intake on {app.config['SMTP_INTAKE_LISTEN']}: mail to a token's address "
                   f"<id>@{app.config['SMTP_INTAKE_DOMAIN']} (the API Token tab lists them)")
    return listener


@click.command("intake-address")
@click.argument("token_name")
@with_appcontext
def intake_address_command(token_name):
    """Print the email intake address of the live token TOKEN_NAME."""
    from .services.intake import address_of

    address = address_of(token_name, current_app.config["SMTP_INTAKE_DOMAIN"])
    if address is None:
        raise click.ClickException(f"no live token named {token_name!r} with an intake address (only ingestion "
                                   "tokens have one; API tokens and routing keys send no mail)")
    click.echo(address)


@click.command("telegram-webhook")
@click.option("--delete", is_flag=True, help="Delete the webhook instead (for TELEGRAM_UPDATES=poll).")
@with_appcontext
def telegram_webhook_command(delete):
    """Send the Telegram bot's updates (button presses) to <BASE_URL>/telegram/webhook, with its secret."""
    from .channels import telegram
    from .channels.base import Refused
    from .delivery import Permanent, Settings, Temporary

    config = current_app.config
    settings = Settings.from_config(config)
    if not delete and not config.get("BASE_URL"):
        raise click.ClickException("set CALLGOOSE_BASE_URL to the https:// address Telegram reaches this server at")
    try:
        said = telegram.delete_webhook(settings) if delete else telegram.set_webhook(settings, config["BASE_URL"])
    except (Refused, Temporary, Permanent) as exc:
        raise click.ClickException(str(exc)) from None
    if delete:
        click.echo(f"{said}: set CALLGOOSE_TELEGRAM_UPDATES=poll and the worker fetches the bot's updates")
    else:
        click.echo(f"{said}, each with a secret derived from SECRET_KEY (run this again after changing "
                   "SECRET_KEY or the bot)")


@click.command("serve")
@click.option("--host", help="Address to listen on (setting HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (setting PORT, default 8000).")
@click.option("--threads", type=int, help="Worker threads (setting THREADS, default 8).")
@click.option("--no-worker", is_flag=True, help="Do not run the background work in this process.")
@with_appcontext
def serve_command(host, port, threads, no_worker):
    """Serve the endpoint and the dashboard with waitress (and, by default, the background work)."""
    import logging

    from .server import serve

    app = current_app._get_current_object()
    config = app.config
    host = host or config["HOST"]
    port = port or config["PORT"]
    threads = threads or config["THREADS"]
    config["HOST"], config["PORT"] = host, port  # links in notifications, when BASE_URL is not set
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Callgoose on http://{shown}:{port}/  (endpoint: POST /v1/process)")
    click.echo("Open it in a browser: the first visit creates the admin account; then create an "
               "API token on the API Token tab. Services and rules: flask --app callgoose "
               "import-config examples/callgoose.json (see README.md).")
    if no_worker:  # the worker reads the database's clock every minute; a web-only process at its start
        try:
            sync_clock(db.engine)
        except Exception:
            logging.getLogger(__name__).warning("could not read the database's clock", exc_info=True)
    worker = None if no_worker else Worker(app).start()
    app.extensions["callgoose_worker"] = worker
    listener = None if no_worker else _start_intake(app)
    try:
        serve(app, host=host, port=port, threads=threads, connection_limit=config["CONNECTION_LIMIT"],
              idle_timeout=config["IDLE_TIMEOUT_SECONDS"], shutdown_timeout=config["SHUTDOWN_TIMEOUT_SECONDS"],
              max_body=max(config["MAX_BODY_BYTES"], config["SPLIT_MAX_BODY_BYTES"]))
    finally:
        if listener is not None:
            listener.stop()
        if worker is not None:
            worker.stop()


@click.command("worker")
@with_appcontext
def worker_command():
    """Run the background work in this process, in the foreground, until SIGTERM or Ctrl-C."""
    import logging
    import signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()
    worker = Worker(app)
    app.extensions["callgoose_worker"] = worker
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker._stop.set())
    click.echo(f"Callgoose worker {worker.me}: a tick every {app.config['WORKER_TICK_SECONDS']} s")
    listener = _start_intake(app)
    worker.run_forever()
    if listener is not None:
        listener.stop()
    worker.stop()
    click.echo("Worker stopped")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(file):
    """Copy the SQLite database to FILE (a new file), consistently, while Callgoose runs."""
    from .store.backup import BackupError, backup, sqlite_path

    try:
        if db.engine.dialect.name != "sqlite":
            raise BackupError("backup copies SQLite databases; for PostgreSQL use pg_dump -Fc (docs/deploy.md)")
        done = backup(sqlite_path(db.engine.url), file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backed up to {done.path} ({done.size} bytes, schema {done.revision})")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def restore_command(file):
    """Check the backup FILE and put it in place of the SQLite database (Callgoose stopped)."""
    from .store.backup import BackupError, restore, sqlite_path

    try:
        if db.engine.dialect.name != "sqlite":
            raise BackupError("restore puts back SQLite copies; for PostgreSQL use pg_restore (docs/deploy.md)")
        done = restore(file, sqlite_path(db.engine.url))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {file} to {done.path} (schema {done.revision}); run init-db before starting Callgoose")


@click.command("prune")
@with_appcontext
def prune_command():
    """Delete API calls older than API_LOG_RETENTION_DAYS, expired replay markers, and audit entries
    older than AUDIT_RETENTION_DAYS."""
    config = current_app.config
    shown = [0.0]

    def progress(deleted: int):
        if time.monotonic() - shown[0] >= 1:
            shown[0] = time.monotonic()
            click.echo(f"  deleted {deleted} old API calls so far…", err=True)

    result = prune(db.engine, clock.now(), config["API_LOG_RETENTION_DAYS"],
                   config["DUPLICATE_WINDOW_SECONDS"], progress)
    click.echo(f"Deleted {plural(result.calls, 'API call')} older than {config['API_LOG_RETENTION_DAYS']} days "
               f"(with {plural(result.events, 'timeline entry', 'timeline entries')} they made) "
               f"and {plural(result.markers, 'expired replay marker')} in {plural(result.batches, 'batch')} "
               f"(longest {result.longest_batch_seconds * 1000:.0f} ms)")
    if config["AUDIT_RETENTION_DAYS"]:
        entries = audit.prune(db.engine, clock.now(), config["AUDIT_RETENTION_DAYS"])
        click.echo(f"Deleted {plural(entries, 'audit entry', 'audit entries')} older than "
                   f"{config['AUDIT_RETENTION_DAYS']} days")


@click.command("seed-demo")
@click.option("--calls", type=click.IntRange(min=2), default=10_000, show_default=True,
              help="API calls to add (at least two per incident).")
@click.option("--incidents", type=click.IntRange(min=1), default=1_000, show_default=True,
              help="Incidents to add.")
@click.option("--days", type=click.IntRange(min=1, max=3650), default=35, show_default=True,
              help="How far back the history goes (the API log keeps API_LOG_RETENTION_DAYS).")
@with_appcontext
def seed_demo_command(calls, incidents, days):
    """Fill the database (made or upgraded first) with a realistic history: services demo-*,
    their calls and incidents."""
    from .services.demo import seed

    if calls < 2 * incidents:
        raise click.ClickException(f"--calls must be at least twice --incidents ({2 * incidents})")
    upgrade_database()  # a new database works too (init-db is safe to run again)
    started = time.monotonic()
    with click.progressbar(length=calls, label="Adding calls", file=sys.stderr) as bar:
        done = [0]

        def progress(total: int):
            bar.update(total - done[0])
            done[0] = total
        result = seed(db.engine, clock.now(), calls=calls, incidents=incidents, days=days, progress=progress)
    click.echo(f"Added {plural(result.services, 'service')}, {plural(result.incidents, 'incident')}, "
               f"{plural(result.calls, 'API call')} and {plural(result.payloads, 'distinct payload')} "
               f"in {time.monotonic() - started:.0f} s. A global token for them (shown only now):")
    click.echo(result.token)


COMMANDS = (init_db_command, create_user_command, invite_command, create_token_command, import_config_command,
            export_config_command, serve_command, prune_command, rename_service_command,
            delete_service_command, worker_command, seed_demo_command, templates_command,
            create_service_command, intake_address_command, backup_command, restore_command,
            telegram_webhook_command, import_from_command, verify_audit_command)


def _system_user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name in a bare container
        return None


def _acting_as(command, kind: str) -> None:
    """Run the command as the audit log's ``kind`` actor (the system user's name), once."""
    callback = command.callback
    if getattr(callback, "audited", False):
        return

    @functools.wraps(callback)
    def run(*args, **kwargs):
        with audit.acting(audit.Actor(kind, name=_system_user())):
            return callback(*args, **kwargs)
    run.audited = True
    command.callback = run


for _command in COMMANDS:
    _acting_as(_command, "import" if _command is import_from_command else "cli")


def init_app(app) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def main() -> None:
    """The ``callgoose`` console script: the same commands without ``flask --app``."""
    from . import create_app

    FlaskGroup(create_app=create_app, add_default_commands=False, help="Callgoose commands.")(
        prog_name="callgoose")
