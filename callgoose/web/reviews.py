"""An incident's review (issue 20, item 5): the page, saving what people wrote, and the
Markdown and JSON exports. Responders and admins write; viewers read (access.refuse_viewers)."""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import clock
from ..engine.review import MOST_FOLLOW_UPS, markdown_text
from ..engine.rules import SpecError
from ..services import reviews
from .i18n import fault, here, say, viewer_zone, word
from .params import whole_number

bp = Blueprint("reviews", __name__)
BLANK_ROWS = 3  # empty follow-up rows the form offers


def _found(incident_id: int) -> reviews.ReviewPage:
    page = reviews.review_page(incident_id, viewer_zone())
    if page is None:
        abort(404, _("No such incident."))
    return page


def _draft(page: reviews.ReviewPage) -> dict:
    review = page.review
    return {"summary": review.summary if review else "", "root_cause": review.root_cause if review else "",
            "rows": [(f.text, f.owner_id, f.link or "", f.done) for f in page.follow_ups]}


def _posted() -> dict:
    form = request.form
    count = min(whole_number(form.get("rows"), "rows") or 0, MOST_FOLLOW_UPS + BLANK_ROWS)
    rows = [(form.get(f"text-{i}", ""), whole_number(form.get(f"owner-{i}") or None, "owner"),
             form.get(f"link-{i}", ""), form.get(f"done-{i}") == "on") for i in range(count)]
    return {"summary": form.get("summary", ""), "root_cause": form.get("root_cause", ""), "rows": rows}


def _render(page: reviews.ReviewPage, draft: dict, status: int = 200):
    rows = draft["rows"] + [("", None, "", False)] * BLANK_ROWS
    return render_template("dashboard/review.html", page=page, incident=page.incident, draft=draft, rows=rows), status


@bp.get("/incidents/<int:incident_id>/review")
@login_required
def review(incident_id: int):
    """The review: what people wrote, and what Callgoose knows."""
    page = _found(incident_id)
    return _render(page, _draft(page))


@bp.post("/incidents/<int:incident_id>/review")
@login_required
def save_review(incident_id: int):
    """Save the summary, the root cause and the follow-ups (audited)."""
    draft = _posted()
    try:
        saved = reviews.save(incident_id, draft["summary"], draft["root_cause"], draft["rows"], clock.now(),
                             user_id=current_user.id, email=current_user.email)
    except SpecError as exc:
        flash(fault(exc), "error")
        return _render(_found(incident_id), draft, 422)
    if saved is None:
        abort(404, _("No such incident."))
    flash(_("Review saved."))
    return redirect(url_for("reviews.review", incident_id=incident_id), 303)


def _line(text) -> str:
    return markdown_text(" ".join(str(text).split()))


def _url(link: str) -> str:
    """A saved (http(s), checked) link inside ``<…>``: what could end it percent-encoded."""
    return "".join(f"%{ord(c):02X}" if c in '<>"`\\ ' else c for c in link)


def _paragraphs(text: str) -> list[str]:
    return [markdown_text(line) for line in text.splitlines()] or [""]


def markdown(page: reviews.ReviewPage) -> str:
    """The review as Markdown in the reader's language and zone; everything people or senders
    wrote is escaped (no links, no HTML, no headings of theirs)."""
    incident, review = page.incident, page.review
    out = [f"# {_('Review of incident #%(id)s', id=incident.id)}: {_line(incident.title)}", "",
           f"- {_('Service')}: {_line(page.service_name)}", f"- {_('Status')}: {_line(word(incident.status))}",
           f"- {_('Opened')}: {_line(here(incident.created_at))}"]
    if review is not None:
        changed = _("Last changed by %(who)s at %(at)s.", who=review.updated_by or "-", at=here(review.updated_at))
        out.append(f"- {_line(changed)}")
    for title, text in ((_("Summary"), review.summary if review else ""),
                        (_("Root cause"), review.root_cause if review else "")):
        out += ["", f"## {title}", "", *(_paragraphs(text) if text else [f"_{_('Not written yet.')}_"])]
    out += ["", f"## {_('Follow-ups')}", ""]
    for f in page.follow_ups:
        owner = page.names.get(f.owner_id, "-") if f.owner_id else "-"
        out.append(f"- [{'x' if f.done else ' '}] {_line(f.text)} ({_('owner')}: {_line(owner)}"
                   + (f", {_('link')}: <{_url(f.link)}>)" if f.link else ")"))
    if not page.follow_ups:
        out.append(f"_{_('None yet.')}_")
    out += ["", f"## {_('What Callgoose knows')}", ""]
    out += [f"- {_line(say(fact.text))}" for fact in page.facts]
    return "\n".join(out) + "\n"


@bp.get("/incidents/<int:incident_id>/review.md")
@login_required
def review_markdown(incident_id: int):
    """The review as a Markdown download."""
    body = markdown(_found(incident_id))
    return body, 200, {"Content-Type": "text/markdown; charset=utf-8",
                       "Content-Disposition": f'attachment; filename="incident-{incident_id}-review.md"'}


@bp.get("/incidents/<int:incident_id>/review.json")
@login_required
def review_json(incident_id: int):
    """The review as a JSON download (the same as ``GET /v1/incidents/<id>/review``)."""
    found = reviews.document(incident_id)
    if found is None:
        abort(404, _("No such incident."))
    return json.dumps(found, indent=2, ensure_ascii=False), 200, {
        "Content-Type": "application/json",
        "Content-Disposition": f'attachment; filename="incident-{incident_id}-review.json"'}
