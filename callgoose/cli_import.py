"""``import-from TOOL DIR [--plan]`` (issue 18, item 4): move people, schedules, escalation
policies and services over from PagerDuty, Opsgenie or Grafana OnCall.

Writes ``DIR/callgoose-import.json`` (the configuration document) and
``DIR/callgoose-import-plan.txt`` (the plan), prints the plan, and, without ``--plan``,
imports the document. Mismatches against the old tool's rota are a warning (exit 0: the
import is what the old tool was configured to do; the plan names each difference); an
unreadable export or a document Callgoose refuses exits 1 with a one-line reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from . import clock
from .engine import SpecError
from .importers import IMPORTERS, TOOL_NAMES
from .importers.base import ExportError
from .services import importing


@click.command("import-from")
@click.argument("tool", type=click.Choice(sorted(IMPORTERS)))
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--plan", "plan_only", is_flag=True, help="Write and print the plan; change nothing.")
@with_appcontext
def import_from_command(tool, directory, plan_only):
    """Import TOOL's people, schedules, escalation policies and services from the API
    responses saved in DIRECTORY (see README, "Moving from PagerDuty, Opsgenie or Grafana OnCall")."""
    try:
        report = importing.read_export(tool, directory)
    except ExportError as exc:
        raise click.ClickException(f"{directory}: {exc}") from None
    try:
        (directory / "callgoose-import.json").write_text(
            json.dumps(report.imported.document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (directory / "callgoose-import-plan.txt").write_text(report.text(), encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{directory}: cannot write the plan: {exc.strerror or exc}") from None
    click.echo(report.text(), nl=False)
    if report.fault:
        raise click.ClickException(f"Callgoose refuses this import: {report.fault}; nothing imported")
    found = len(report.rota.mismatches)
    if found:
        click.echo(f"Warning: {found} rota mismatches with {TOOL_NAMES[tool]} (listed above)", err=True)
    if plan_only:
        click.echo(f"Plan only: nothing imported. Plan in {directory / 'callgoose-import-plan.txt'}")
        return
    try:
        counts = importing.apply(report, clock.now())
    except SpecError as exc:
        raise click.ClickException(f"Callgoose refuses this import: {exc}; nothing imported") from None
    click.echo(f"Imported {counts['users']} users, {counts['schedules']} schedules, "
               f"{counts['escalation_policies']} escalation policies and {counts['services']} services "
               f"from {TOOL_NAMES[tool]}")
