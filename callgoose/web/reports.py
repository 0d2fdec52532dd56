"""The Reports page (issue 20): response times, interruptions, hours on call and pay, the
noisiest rules, over a chosen range in the reader's zone; each as CSV; admins set pay rates."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from .. import clock
from ..engine.reports import table
from ..services import pay_rates, reports
from .access import admin_required
from .i18n import say, viewer_zone
from .params import report_args

bp = Blueprint("reports", __name__)


def read(names: tuple[str, ...], args) -> dict[str, reports.Report]:
    """The reports over the query's range, in the reader's zone unless ``?zone=`` names one."""
    return report_args(names, args, viewer_zone())


@bp.get("/reports")
@login_required
def page():
    """Every report over the chosen range, each a chart with its table."""
    found = read(reports.NAMES, request.args)
    return render_template("reports/reports.html", reports=found, span=found["response"].range,
                           args=request.args, rates=pay_rates.listing())


@bp.get("/reports/<any(response, interruptions, oncall, rules):name>.csv")
@login_required
def export(name: str):
    """One report's table as CSV (the hours-on-call one is what payroll needs)."""
    head, rows = table(name, read((name,), request.args)[name].data)
    out = io.StringIO()
    csv.writer(out).writerows([head] + [["" if v is None else v for v in row] for row in rows])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="callgoose-{name}.csv"'})


@bp.post("/reports/rates")
@admin_required
def set_rate():
    """Set or remove an hourly rate (a person's, a schedule's, or a person's on a schedule)."""
    f = request.form
    try:
        kept = pay_rates.set_rate(f.get("person"), f.get("schedule"), f.get("rate"), f.get("holiday_rate"), clock.now())
    except pay_rates.RateError as exc:
        flash(say(exc.say))
        return redirect(url_for("reports.page") + "#rates")
    flash(_("Rate saved.") if kept else _("Rate removed."))
    return redirect(url_for("reports.page") + "#rates")
