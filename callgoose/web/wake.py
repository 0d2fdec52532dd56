"""A hint to this process's worker that notifications may be due now."""

from __future__ import annotations

from flask import current_app


def wake_worker(app=None) -> None:
    """Have this process's worker send now rather than at its next tick: a call or an action
    queued a page, an escalation or a webhook event (a hint only; the rows are durable and any
    process's worker finds them within a tick). ``app``: outside a Flask context (web/lean.py)."""
    worker = (app or current_app).extensions.get("callgoose_worker")
    if worker is not None:
        worker.wake()
