"""The audit log's page (issue 19, item 5): who changed what, when and from where, in words;
an admin reverts a configuration entry after a confirmation."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import clock
from ..engine.audit import NotRevertible, describe_all
from ..engine.rules import SpecError
from ..services import audit
from .access import admin_required
from .i18n import say, say_coded
from .params import audit_filters

bp = Blueprint("audit", __name__)
PER_PAGE = 50


@bp.get("/audit")
@admin_required
def entries():
    """Entries newest first, with their differences worded in the reader's language."""
    f = audit_filters(request.args)
    found = audit.entries(page=f["page"], per_page=PER_PAGE, since=f["since"], actor=f["actor"],
                          subject=f["subject"])
    rows = [(e, [say_coded(s) for s in describe_all(e.subject_kind, e.subject_name, e.changes).parts])
            for e in found.items]
    return render_template("audit/entries.html", found=found, rows=rows, filters=f, kinds=audit.ACTOR_KINDS,
                           can_revert=audit.can_revert)


@bp.get("/audit/<int:entry_id>/revert")
@admin_required
def confirm_revert(entry_id: int):
    """What a revert would put back, before the admin confirms it."""
    found = audit.entry(entry_id)
    if found is None:
        abort(404, _("No such audit entry."))
    words = [say_coded(s) for s in describe_all(found.subject_kind, found.subject_name, found.changes).parts]
    return render_template("audit/revert.html", entry=found, words=words, can_revert=audit.can_revert(found))


@bp.post("/audit/<int:entry_id>/revert")
@admin_required
def revert(entry_id: int):
    try:
        written = audit.revert(entry_id, clock.now())
    except NotRevertible as exc:
        flash(_("Not reverted: %(why)s", why=say(exc.reason)), "error")
        return redirect(url_for("audit.confirm_revert", entry_id=entry_id))
    except SpecError as exc:  # the service's own checks refuse the result (a target gone since)
        why = say(exc.message)
        flash(_("Not reverted: %(why)s", why=f"{exc.path}: {why}" if exc.path else why), "error")
        return redirect(url_for("audit.confirm_revert", entry_id=entry_id))
    flash(_("Entry %(id)s reverted (entry %(new)s).", id=entry_id, new=written))
    return redirect(url_for("audit.entries"))
