"""Issue 18, item 4: ``import-from TOOL DIR [--plan]``, on SQLite and PostgreSQL. After the
import, the JSON API names the people PagerDuty's own rendered rota names, across its four
weeks (each entry's middle and both edges)."""

from __future__ import annotations

import json
import pathlib
import shutil
from urllib.parse import quote

import pytest

from callgoose.importers import read
from callgoose.importers.check import iso

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "import" / "pagerduty"
TABLES = ("users", "contact_methods", "notification_rules", "schedules", "schedule_overrides",
          "escalation_policies", "services")


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def export(tmp_path):
    return pathlib.Path(shutil.copytree(FIXTURE, tmp_path / "export"))


def counts(setup) -> dict:
    return {t: setup.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}


def test_plan_writes_the_document_and_the_plan_and_changes_nothing(runner, setup, export):
    before = counts(setup)
    result = runner.invoke(args=["import-from", "pagerduty", str(export), "--plan"])
    assert result.exit_code == 0, result.output
    assert "Rota check: 39 entries, 0 mismatches" in result.output
    assert result.output.endswith(f"Plan only: nothing imported. Plan in {export / 'callgoose-import-plan.txt'}\n")
    assert counts(setup) == before
    assert json.loads((export / "callgoose-import.json").read_text()) == read("pagerduty", FIXTURE).document
    written = (export / "callgoose-import-plan.txt").read_text()
    assert written.startswith("Import from PagerDuty: ") and "❌ Ana Ortiz: iPhone" in written


def test_the_import_puts_the_same_people_on_call_as_pagerduty(runner, setup, client, export):
    result = runner.invoke(args=["import-from", "pagerduty", str(export)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("Imported 4 users, 2 schedules, 1 escalation policies and 2 services from "
                                  "PagerDuty\n")
    token = setup.token("scripts")
    rota = [e for e in read("pagerduty", FIXTURE).rota if e.users]
    assert len(rota) == 39
    for entry in rota:
        for at in (entry.start + 60, (entry.start + entry.end) / 2, entry.end - 60):
            response = client.get(f"/v1/schedules/{quote(entry.schedule)}/oncall?at={iso(at)}",
                                  headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
            assert response.get_json()["users"] == list(entry.users), (entry, iso(at))
    rows = setup.query("SELECT s.name, s.enabled, p.name FROM services s LEFT JOIN escalation_policies p "
                       "ON p.id = s.escalation_policy_id ORDER BY s.name")
    assert [tuple(r) for r in rows] == [("Checkout-API", True, "Checkout Escalation EU"),
                                        ("Legacy-batch", False, None)]
    again = runner.invoke(args=["import-from", "pagerduty", str(export)])
    assert again.exit_code == 0 and "already in Callgoose: keeps their name, role and rules; 0 contact" in again.output


def test_a_mismatch_warns_and_still_imports(runner, setup, export):
    path = export / "schedules" / "PPRIM01.json"
    doc = json.loads(path.read_text())
    doc["schedule"]["final_schedule"]["rendered_schedule_entries"][0]["user"] = {"id": "PANA001"}
    path.write_text(json.dumps(doc))
    result = runner.invoke(args=["import-from", "pagerduty", str(export)])
    assert result.exit_code == 0
    assert "Rota check: 39 entries, 1 mismatches" in result.output
    assert "Warning: 1 rota mismatches with PagerDuty (listed above)" in result.stderr
    assert counts(setup)["schedules"] == 2


def test_people_already_here_keep_their_role_and_methods(runner, setup, add_user, app, export):
    add_user(app, email="bo@example.com", admin=True)
    runner.invoke(args=["import-from", "pagerduty", str(export)])
    rows = setup.query("SELECT u.role, m.channel, m.address FROM users u JOIN contact_methods m "
                       "ON m.user_id = u.id WHERE u.email = 'bo@example.com' ORDER BY m.address")
    assert [tuple(r) for r in rows] == [("admin", "voice", "+4915112345678"), ("admin", "email", "bo@example.com")]


@pytest.mark.parametrize("args, message", [
    (["pagerduty", "{dir}/nowhere"], "Error: {dir}/nowhere: not a directory\n"),
    (["pagerduty", "{dir}/export", "--plan"], "Error: {dir}/export: users.json: not JSON (Expecting value at line 1)\n"),
])
def test_an_unreadable_export_exits_1_with_one_line(runner, setup, export, args, message):
    (export / "users.json").write_text("")
    before = counts(setup)
    result = runner.invoke(args=["import-from", *[a.format(dir=export.parent) for a in args]])
    assert result.exit_code == 1 and result.output == message.format(dir=export.parent)
    assert "Traceback" not in result.output and counts(setup) == before


def test_a_document_callgoose_refuses_imports_nothing(runner, setup, export):
    path = export / "users.json"
    pages = json.loads(path.read_text())
    pages[1]["users"].append({**pages[0]["users"][0], "id": "PANA009", "email": "ANA@example.com"})
    path.write_text(json.dumps(pages))
    before = counts(setup)
    result = runner.invoke(args=["import-from", "pagerduty", str(export)])
    assert result.exit_code == 1
    assert result.output.endswith("Error: Callgoose refuses this import: users[4].email: ana@example.com appears "
                                  "twice; nothing imported\n")
    assert "Callgoose refuses this import" in (export / "callgoose-import-plan.txt").read_text()
    assert counts(setup) == before


@pytest.mark.parametrize("tool", ["opsgenie", "grafana-oncall"])
def test_the_other_tools_imports_put_the_same_people_on_call(runner, setup, client, tmp_path, tool):
    """The Opsgenie and Grafana OnCall exports through the same command: no mismatch, and the
    JSON API names the old tool's people across its rendered four weeks."""
    fixture = FIXTURE.parent / tool
    export = pathlib.Path(shutil.copytree(fixture, tmp_path / tool))
    result = runner.invoke(args=["import-from", tool, str(export)])
    assert result.exit_code == 0, result.output
    assert ", 0 mismatches" in result.output
    token = setup.token("scripts")
    rota = [e for e in read(tool, fixture).rota if e.users]
    assert rota and rota[-1].end - rota[0].start >= 27 * 86400
    for entry in rota:
        for at in (entry.start + 60, (entry.start + entry.end) / 2, entry.end - 60):
            response = client.get(f"/v1/schedules/{quote(entry.schedule)}/oncall?at={iso(at)}",
                                  headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
            assert sorted(response.get_json()["users"]) == sorted(entry.users), (entry, iso(at))
