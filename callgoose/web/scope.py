"""The token scope each /v1 and /v2 view needs (issue 19), declared on the view itself.

Kept apart from web/bearer.py so the Opsgenie and PagerDuty views can declare theirs without
importing the error handlers (which import the Opsgenie API).
"""

from __future__ import annotations

from ..services.tokens import SCOPES


def declare(scope: str):
    """Mark a view with the scope it needs (read by tests/test_token_scopes.py's route audit)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown token scope {scope!r}")

    def mark(view):
        view.token_scope = scope
        return view
    return mark
