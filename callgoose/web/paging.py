"""Paging pages: My notifications (contact methods and rules), escalation policies, a
service's policy and webhooks, and the Notifications ledger."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from .. import channels, clock
from ..engine import SpecError, policy_form
from ..engine.paging import FINAL_STATES, URGENCIES
from ..services import checks, contact_methods, deliveries, notification_rules, service_paging, slack, users
from ..services import policies as escalation_policies
from .access import admin_required
from .i18n import say
from .params import local_path, page_number

bp = Blueprint("paging", __name__)
LEVEL_SLOTS = 6  # level rows in the policy form
CODE_RESULTS = {"verified": (_l("Verified: pages can now go there."), "message"),
                "wrong": (_l("That code is not the one sent. Check it, or send a new one."), "error"),
                "expired": (_l("That code has expired. Send a new one."), "error"),
                "void": (_l("That was the fifth wrong code: this code no longer works. Send a new one."), "error"),
                "missing": (_l("No such contact method."), "error")}


def _whose(user_id: int | None) -> int:
    """The user whose notifications a page shows: yourself, or anyone for an admin."""
    if user_id is None or user_id == current_user.id:
        return current_user.id
    if not current_user.is_admin:
        abort(403, _("Only admins can change another user's notifications."))
    return user_id


def _mine(user_id: int) -> str:
    return url_for("paging.mine") if user_id == current_user.id else url_for("paging.mine", user_id=user_id)


def _done(ok, message: str, target: str, category: str = "message"):
    if not ok:
        abort(404, _("No such contact method or rule."))
    flash(str(message), category)
    return redirect(target)


def _refused(exc: SpecError, target: str):
    flash(_("Not saved: %(path)s %(message)s.", path=exc.path or "", message=say(exc.message)).replace("  ", " "), "error")
    return redirect(target)


@bp.get("/notifications/me")
@login_required
def mine():
    uid = _whose(request.args.get("user_id", type=int))
    found = contact_methods.my_notifications(uid, clock.now())
    if found is None:
        abort(404, _("No such user."))
    return render_template("paging/mine.html", mine=found, channels=contact_methods.offered(current_app.config), shown=contact_methods.shown,
                           urgencies=URGENCIES, own=uid == current_user.id,
                           mail_ready=bool(current_app.config.get("SMTP_HOST")), slack_accounts=slack.of(uid))


@bp.get("/slack/link/<token>")
@login_required
def slack_link(token: str):
    """The link a Slack press answers an unknown account with: it asks before linking."""
    found = slack.offer(current_app.config["SECRET_KEY"], token, current_user.id, clock.now())
    return render_template("paging/slack_link.html", found=found, token=token, done=False), 410 if found.problem else 200


@bp.post("/slack/link/<token>")
@login_required
def slack_link_confirm(token: str):
    found = slack.link(current_app.config["SECRET_KEY"], token, current_user.id, clock.now())
    return render_template("paging/slack_link.html", found=found, token=token, done=not found.problem), \
        410 if found.problem else 200


@bp.post("/notifications/me/slack/<int:identity_id>/delete")
@login_required
def slack_unlink(identity_id: int):
    uid = _whose(request.form.get("user_id", type=int))
    return _done(slack.unlink(uid, identity_id), _("Unlinked: presses by that Slack account no longer act."),
                 _mine(uid))


@bp.post("/notifications/me/methods")
@login_required
def add_method():
    uid = _whose(request.form.get("user_id", type=int))
    try:
        method, warning = contact_methods.add_method_warned(
            uid, request.form.get("name", ""), request.form.get("type", ""), request.form, clock.now(),
            current_app.config["WEBHOOK_ALLOWED_HOSTS"])
    except SpecError as exc:
        return _refused(exc, _mine(uid))
    added = _("Added %(name)s. Send a code to verify it: pages go only to verified methods.", name=method.name)
    return _done(True, added + (" " + _("Warning: %(warning)s", warning=warning) if warning else ""), _mine(uid),
                 "error" if warning else "message")


@bp.post("/notifications/me/methods/<int:method_id>/<any(code, confirm, test, delete, verify):action>")
@login_required
def method_action(method_id: int, action: str):
    uid = _whose(request.form.get("user_id", type=int))
    now = clock.now()
    if action in ("code", "confirm", "test"):
        return _check(uid, method_id, action, now)
    if action == "verify" and not current_user.is_admin:
        abort(403, _("Only admins can mark a contact method verified."))
    done = {"delete": lambda: contact_methods.delete_method(uid, method_id),
            "verify": lambda: contact_methods.mark_verified(method_id, now) is not None}[action]()
    words = {"delete": _("Contact method deleted."), "verify": _("Marked verified.")}
    return _done(done, words[action], _mine(uid))


def _check(uid: int, method_id: int, action: str, now: float):
    """A code sent or confirmed, or a test sent; a refusal says when the next may go."""
    if action == "confirm":
        message, category = CODE_RESULTS[checks.confirm_code(uid, method_id, request.form.get("code", ""), now)]
        return _done(True, message, _mine(uid), category)
    sent = (checks.send_code(uid, method_id, now, current_app.config["SECRET_KEY"]) if action == "code"
            else checks.send_test(uid, method_id, now))
    if sent is not None and sent.refused is not None:
        return _done(True, say(sent.refused), _mine(uid), "error")
    words = _("Code queued: it arrives within seconds.") if action == "code" else _("Test notification queued.")
    return _done(sent, words, _mine(uid))


@bp.post("/notifications/me/rules")
@login_required
def add_rule():
    uid = _whose(request.form.get("user_id", type=int))
    try:
        notification_rules.add_rule(uid, request.form.get("contact_method", type=int) or 0,
                                    request.form.get("after_minutes", type=int, default=-1),
                                    request.form.getlist("urgency"))
    except SpecError as exc:
        return _refused(exc, _mine(uid))
    return _done(True, _("Rule added."), _mine(uid))


@bp.post("/notifications/me/rules/<int:rule_id>/delete")
@login_required
def delete_rule(rule_id: int):
    uid = _whose(request.form.get("user_id", type=int))
    return _done(notification_rules.delete_rule(uid, rule_id), _("Rule deleted."), _mine(uid))


@bp.get("/policies")
@login_required
def policies():
    return render_template("paging/policies.html", policies=escalation_policies.policies())


def _policy_page(policy_id: int | None, form=None, error: str | None = None):
    page = escalation_policies.policy_page(policy_id, form)
    if page is None:
        abort(404, _("No such escalation policy."))
    return render_template("paging/policy.html", page=page, policy=page.policy, view=page.view, form=page.form,
                           slots=min(policy_form.MAX_SLOTS, max(LEVEL_SLOTS, len(page.form.levels) + 1)),
                           error=error), 422 if error else 200


@bp.get("/policies/new")
@bp.get("/policies/<int:policy_id>")
@login_required
def policy(policy_id: int | None = None):
    return _policy_page(policy_id)


@bp.post("/policies/new")
@bp.post("/policies/<int:policy_id>")
@admin_required
def save_policy(policy_id: int | None = None):
    form = policy_form.form_of(request.form.getlist, request.form.get)
    try:
        saved = escalation_policies.save_policy_form(policy_id, form, clock.now())
    except SpecError as exc:  # shown again as typed, the fault in words ("level 2, target 1: ...")
        return _policy_page(policy_id, form, _("Not saved: %(field)s: %(message)s.",
                                               field=say(policy_form.in_words(exc.path)), message=say(exc.message)))
    if saved is None:
        abort(404, _("No such escalation policy."))
    flash(_("Policy %(name)s saved. Incidents already open keep the policy they started with.", name=saved.name), "message")
    return redirect(url_for("paging.policy", policy_id=saved.id))


@bp.post("/policies/<int:policy_id>/delete")
@admin_required
def delete_policy(policy_id: int):
    name = escalation_policies.delete_policy(policy_id)
    if name is None:
        abort(404, _("No such escalation policy."))
    flash(_("Policy %(name)s deleted; its services now page nobody.", name=name), "message")
    return redirect(url_for("paging.policies"))


@bp.post("/services/<int:service_id>/policy")
@admin_required
def service_policy(service_id: int):
    try:
        done = service_paging.set_service_policy(service_id, request.form.get("policy_id", type=int) or None)
    except SpecError as exc:
        return _refused(exc, url_for("services.service", service_id=service_id))
    return _done(done, _("Escalation policy saved."), url_for("services.service", service_id=service_id))


@bp.post("/services/<int:service_id>/webhooks")
@admin_required
def add_webhook(service_id: int):
    target = url_for("services.service", service_id=service_id)
    try:
        added = service_paging.add_webhook(service_id, request.form.get("url", ""), request.form.get("secret", ""),
                                           request.form.getlist("events"), request.form.get("format", "json"),
                                           clock.now(), current_app.config["WEBHOOK_ALLOWED_HOSTS"])
    except SpecError as exc:
        return _refused(exc, target)
    warning = added[1] if added else None
    return _done(added, _("Webhook added.") + (" " + _("Warning: %(warning)s", warning=warning) if warning else ""), target,
                 "error" if warning else "message")


@bp.post("/services/<int:service_id>/webhooks/<int:hook_id>/delete")
@admin_required
def delete_webhook(service_id: int, hook_id: int):
    return _done(service_paging.delete_webhook(service_id, hook_id), _("Webhook deleted."),
                 url_for("services.service", service_id=service_id))


@bp.get("/notifications")
@login_required
def notifications():
    filters = {k: request.args.get(k) or None for k in ("status", "channel")}
    found = deliveries.ledger(**filters, user_id=request.args.get("user", type=int),
                              incident_id=request.args.get("incident", type=int), page=page_number(request.args))
    return render_template("paging/notifications.html", ledger=found, filters=filters, channels=channels.NAMES,
                           states=("pending", "sending", *FINAL_STATES), people=users.all_users())


@bp.post("/notifications/<int:notification_id>/resend")
@login_required
def resend(notification_id: int):
    done = deliveries.resend(notification_id, clock.now())
    flash(_("Queued again as a new delivery.") if done else _("Only a failed or unknown delivery can be sent again."),
          "message" if done else "error")
    return redirect(local_path(request.form.get("next")) or url_for("paging.notifications"))

