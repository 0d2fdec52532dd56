"""The landing page: where to send alerts and how to get started."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

bp = Blueprint("web", __name__)


def endpoint_url() -> str:
    """The full endpoint URL: from BASE_URL when set, else from the request's host."""
    base = current_app.config.get("BASE_URL") or request.host_url
    return base.rstrip("/") + "/v1/process"


@bp.get("/")
def index():
    return render_template("web/index.html", endpoint=endpoint_url())
