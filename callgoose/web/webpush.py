"""The dashboard as an installable app, and "Get pages on this device": the web app manifest,
the service worker (static/sw.js) served from the root so that its scope is the whole
dashboard, and the route that makes a browser's push subscription a contact method."""

from __future__ import annotations

import json
import os

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import clock
from ..channels import webpush
from ..engine import SpecError
from ..services import contact_methods
from .i18n import say

bp = Blueprint("webpush", __name__)


@bp.get("/manifest.webmanifest")
def manifest():
    """What makes the dashboard installable (public: browsers fetch it without cookies)."""
    root = (request.script_root or "") + "/"
    doc = {"name": "Callgoose", "short_name": "Callgoose", "id": root, "start_url": url_for("dashboard.incidents"),
           "scope": root, "display": "standalone", "background_color": "#ffffff", "theme_color": "#1f5fbf",
           "icons": [{"src": url_for("static", filename="favicon.svg"), "sizes": "any", "type": "image/svg+xml",
                      "purpose": "any"}]}
    return Response(json.dumps(doc), mimetype="application/manifest+json", headers={"Cache-Control": "no-cache"})


@bp.get("/sw.js")
def worker():
    """The service worker, from the root so that it may control every dashboard page; never
    cached, so a fixed worker reaches browsers at their next visit."""
    with open(os.path.join(current_app.static_folder, "sw.js"), "rb") as fh:
        return Response(fh.read(), mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


@bp.app_template_global()
def webpush_key() -> str | None:
    """The applicationServerKey a page subscribes with; None: no button (see the log)."""
    return webpush.page_key(current_app.config.get("INSTANCE_PATH"))


def _device_name() -> str:
    browser, system = webpush.device(request.user_agent.string)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("This browser")


@bp.post("/notifications/me/webpush")
@login_required
def subscribe():
    """"Get pages on this device": this browser's subscription becomes (or stays) one of the
    user's contact methods, and a code goes to it at once. Answers where to go next."""
    doc = request.get_json(silent=True)
    values = webpush.subscription_values(doc.get("subscription") if isinstance(doc, dict) else None)
    try:
        method, refused = contact_methods.subscribe_device(current_user.id, _device_name(), webpush.CHANNEL.name,
                                                           values, clock.now(), current_app.config["SECRET_KEY"])
    except SpecError as exc:
        return jsonify(error=_("Not saved: %(path)s %(message)s.", path=exc.path or "", message=say(exc.message))), 422
    if method.verified_at is not None:
        flash(_("This device gets pages already, as %(name)s.", name=method.name), "message")
    else:
        flash(say(refused) if refused else _("Added %(name)s. A code is on its way to this device as a notification: "
                                             "type it in below.", name=method.name), "error" if refused else "message")
    return jsonify(location=url_for("paging.mine"))
