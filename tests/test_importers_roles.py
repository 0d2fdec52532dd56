"""Read-only people of the other tools become viewers (issue 19's role), not responders."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from callgoose import importers

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "import"


def _with_role(tmp_path, tool: str, folder: str, email: str, role) -> dict:
    """Read ``tool``'s fixture with one person's role changed to ``role``."""
    directory = tmp_path / folder
    shutil.copytree(FIXTURES / folder, directory)
    users = json.loads((directory / "users.json").read_text())
    pages = users if isinstance(users, list) and users and "users" in users[0] else [users]
    listed = [u for page in pages for u in (page if isinstance(page, list) else
                                              next(v for v in page.values() if isinstance(v, list)))]
    person = next(u for u in listed if str(u.get("email") or u.get("username")).lower() == email)
    person["role"] = role
    (directory / "users.json").write_text(json.dumps(users))
    document = importers.read(tool, directory).document
    return {u["email"]: u["role"] for u in document["users"]}


@pytest.mark.parametrize("role", ["observer", "read_only_user", "read_only_limited_user"])
def test_pagerduty_read_only_people_are_viewers(tmp_path, role):
    roles = _with_role(tmp_path, "pagerduty", "pagerduty", "bo@example.com", role)
    assert roles["bo@example.com"] == "viewer"
    assert roles["ana@example.com"] == "admin"


def test_pagerduty_users_stay_responders(tmp_path):
    assert _with_role(tmp_path, "pagerduty", "pagerduty", "bo@example.com", "limited_user")["bo@example.com"] == "responder"


def test_opsgenie_stakeholders_are_viewers(tmp_path):
    roles = _with_role(tmp_path, "opsgenie", "opsgenie", "bo@example.com",
                       {"id": "Stakeholder", "name": "Stakeholder"})
    assert roles["bo@example.com"] == "viewer"


def test_grafana_oncall_observers_are_viewers(tmp_path):
    roles = _with_role(tmp_path, "grafana-oncall", "grafana-oncall", "bo@example.com", "observer")
    assert roles["bo@example.com"] == "viewer"
    assert roles["ana@example.com"] == "admin" and roles["cy@example.com"] == "responder"
