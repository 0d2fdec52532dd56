"""The audit log's command (issue 19, item 5): ``verify-audit`` checks the hash chain."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from .extensions import db
from .services import audit


@click.command("verify-audit")
@with_appcontext
def verify_audit_command():
    """Check the audit log's hash chain: report every gap (a missing entry, a broken link) and
    every edit (an entry whose hash does not match), exit non-zero on any."""
    count, faults = audit.verify(db.engine)
    for fault in faults:
        click.echo(f"entry {fault.entry_id}: {fault.kind}: {fault.detail}", err=True)
    if faults:
        raise click.ClickException(f"audit log damaged: {len(faults)} fault(s) in {count} entries")
    click.echo(f"audit log intact: {count} entries")
