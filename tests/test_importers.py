"""Issue 18, item 4: the importers framework and the PagerDuty importer.

The fixture (tests/fixtures/import/pagerduty) is a team of four as PagerDuty's REST API v2
returns it: two schedules of two layers each (one masked to weekday office hours, one to the
weekend), overrides, an ended layer, a two-level policy and two services. Its final schedules'
rendered entries were worked out by hand from PagerDuty's documented meaning (virtual start
plus turns, restrictions masking, the higher layer winning, overrides on top), not by Callgoose.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
from datetime import datetime

import pytest

from callgoose import importers
from callgoose.importers import ExportError, check, plan
from callgoose.importers.base import Verdict
from callgoose.importers.common import zone_of
from callgoose.importers.pagerduty_schedules import windows

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "import" / "pagerduty"


def read(directory=FIXTURE):
    return importers.read("pagerduty", directory)


def item(imported, kind: str, name: str):
    found = [i for i in imported.plan if i.kind == kind and i.name.startswith(name)]
    assert len(found) == 1, [i.name for i in imported.plan if i.kind == kind]
    return found[0]


@pytest.fixture
def export(tmp_path):
    """A copy of the fixture to change."""
    return pathlib.Path(shutil.copytree(FIXTURE, tmp_path / "export"))


def edit(path: pathlib.Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_the_plan_gives_each_resource_its_verdict():
    imported = read()
    assert item(imported, "user", "Ana Ortiz").verdict is Verdict.IMPORTED
    cy = item(imported, "user", "Cy Chen")
    assert cy.verdict is Verdict.CHANGED and "America/New_York" in cy.why
    push = item(imported, "contact_method", "Ana Ortiz: iPhone")
    assert push.verdict is Verdict.SKIPPED and "app push cannot be moved" in push.why and "ntfy" in push.why
    assert item(imported, "contact_method", "Dee Diaz: WhatsApp").verdict is Verdict.SKIPPED
    assert item(imported, "contact_method", "Bo Berg: Mobile").name.endswith("(voice +4915112345678)")
    assert item(imported, "contact_method", "Cy Chen: Work (email cy.chen").verdict is Verdict.CHANGED  # "Work 2"
    assert item(imported, "notification_rule", "Ana Ortiz: iPhone").verdict is Verdict.SKIPPED
    ended = item(imported, "layer", "Checkout Secondary / Old daily")
    assert ended.verdict is Verdict.SKIPPED and "ended at 2026-12-20T05:00:00Z" in ended.why
    assert item(imported, "layer", "Checkout Primary / Business hours").verdict is Verdict.IMPORTED
    assert item(imported, "policy", "Checkout Escalation (EU)").verdict is Verdict.CHANGED
    assert "flexible (v3) schedule" in item(imported, "policy", "Legacy").why
    service = item(imported, "service", "Checkout API")
    assert "'Checkout-API'" in service.why and "/v2/enqueue" in service.why and "--routing-key" in service.why
    assert all(i.why for i in imported.plan if i.verdict is not Verdict.IMPORTED)


def test_the_document_holds_what_pagerduty_meant():
    doc = read().document
    ana = next(u for u in doc["users"] if u["email"] == "ana@example.com")
    assert ana["role"] == "admin" and ana["contact_methods"][1] == {"name": "Mobile", "type": "sms",
                                                                   "address": "+491701234567"}
    assert {"contact_method": "Default", "after_minutes": 0, "urgency": ["high", "low"]} in ana["notification_rules"]
    assert next(u for u in doc["users"] if u["email"] == "bo@example.com")["role"] == "responder"
    primary, secondary = doc["schedules"]
    # GET lists the highest layer first; in Callgoose the later layer wins
    assert [lv["name"] for lv in primary["layers"]] == ["Weekly", "Business hours"]
    weekly = primary["layers"][0]
    # started mid-turn on 2 January: from the handoff before it, turn 4 of the virtual start (Bo)
    assert weekly["start"] == "2026-12-28T09:00" and weekly["users"][0] == "bo@example.com"
    assert secondary["layers"][1]["restrictions"] == [
        {"days": ["fri"], "from": "18:00", "to": "00:00"}, {"days": ["sat", "sun"], "from": "00:00", "to": "00:00"},
        {"days": ["mon"], "from": "00:00", "to": "08:00"}]
    assert secondary["layers"][0]["shift"] == {"unit": "hours", "count": 84}
    assert doc["escalation_policies"] == [{"name": "Checkout Escalation EU", "repeat": 2, "levels": [
        {"escalate_after_minutes": 15, "targets": [{"schedule": "Checkout Primary"}]},
        {"escalate_after_minutes": 30, "targets": [{"schedule": "Checkout Secondary"}, {"user": "dee@example.com"}]}]}]
    assert doc["services"][1] == {"name": "Legacy-batch", "enabled": False, "escalation_policy": None}


def test_the_hand_written_rota_matches_with_no_mismatch():
    imported = read()
    found = check.check(imported.document, imported.rota)
    assert found.entries == 24 + 15 and found.mismatches == ()
    text = plan.text(imported, found)
    assert "Rota check: 39 entries, 0 mismatches" in text
    assert text.index("Users:") < text.index("Contact methods:") < text.index("Escalation policies:")


def test_an_altered_entry_is_a_mismatch(export):
    def swap(doc):  # PagerDuty would have Bo, not Ana, over Cy's lunch on 20 January
        doc["schedule"]["final_schedule"]["rendered_schedule_entries"][16]["user"] = {"id": "PBOB002"}
    edit(export / "schedules" / "PPRIM01.json", swap)
    imported = read(export)
    found = check.check(imported.document, imported.rota)
    assert [(m.schedule, m.span, m.old, m.new) for m in found.mismatches] == [
        ("Checkout Primary", "2027-01-20T11:00:00Z – 2027-01-20T13:00:00Z", ("bo@example.com",), ("ana@example.com",))]
    assert "✗ Checkout Primary 2027-01-20T11:00:00Z – 2027-01-20T13:00:00Z: PagerDuty has Bo Berg, Callgoose has " \
           "Ana Ortiz" in plan.text(imported, found)


def test_the_check_looks_at_every_change_inside_an_entry(export):
    def merge(doc):  # one entry claims Cy from 09:00 to 17:00, over Ana's override at noon
        entries = doc["schedule"]["final_schedule"]["rendered_schedule_entries"]
        entries[15]["end"] = entries[17]["end"]
        del entries[16:18]
    edit(export / "schedules" / "PPRIM01.json", merge)
    imported = read(export)
    mismatches = check.check(imported.document, imported.rota).mismatches
    assert [(m.span, m.new) for m in mismatches] == [
        ("2027-01-20T11:00:00Z – 2027-01-20T13:00:00Z", ("ana@example.com",))]


def test_a_gap_and_an_unknown_person_in_the_rota_are_checked(export):
    def change(doc):
        entries = doc["schedule"]["final_schedule"]["rendered_schedule_entries"]
        entries[0]["user"] = {"id": "PGONE99"}  # not in users.json: kept by its id
        entries[1]["start"] = "2027-01-04T10:00:00+01:00"  # PagerDuty: nobody from 09:00 to 10:00
    edit(export / "schedules" / "PPRIM01.json", change)
    imported = read(export)
    found = [(m.span, m.old, m.new) for m in check.check(imported.document, imported.rota).mismatches]
    assert found == [("2027-01-03T23:00:00Z – 2027-01-04T08:00:00Z", ("PGONE99",), ("bo@example.com",)),
                     ("2027-01-04T08:00:00Z – 2027-01-04T09:00:00Z", (), ("dee@example.com",))]


def test_restrictions_become_windows():
    daily = [{"type": "daily_restriction", "start_time_of_day": "22:00:00", "duration_seconds": 8 * 3600}]
    assert windows(daily, "f", "p") == ([{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                          "from": "22:00", "to": "06:00"}], [])
    week = [{"type": "weekly_restriction", "start_day_of_week": 1, "start_time_of_day": "09:00:00",
             "duration_seconds": 4 * 86400 + 8 * 3600}]  # Monday 09:00 to Friday 17:00, nights included
    assert windows(week, "f", "p") == ([{"days": ["mon"], "from": "09:00", "to": "00:00"},
                                        {"days": ["tue", "wed", "thu"], "from": "00:00", "to": "00:00"},
                                        {"days": ["fri"], "from": "00:00", "to": "17:00"}], [])
    assert windows([{**daily[0], "duration_seconds": 86400}], "f", "p") == (None, [])
    assert windows([{**daily[0], "start_time_of_day": "22:00:30"}], "f", "p")[1] == [
        "restriction 1 rounded to whole minutes"]


def test_a_layer_starting_mid_turn_in_the_window_and_overlapping_overrides_are_changes(export):
    def change(doc):
        doc["schedule"]["schedule_layers"][0]["start"] = "2027-01-12T12:00:00+01:00"
    edit(export / "schedules" / "PPRIM01.json", change)
    edit(export / "schedules" / "PPRIM01.overrides.json", lambda doc: doc["overrides"].append(
        {"start": "2027-01-13T20:00:00+01:00", "end": "2027-01-13T22:00:00+01:00", "user": {"id": "PCY0003"}}))
    imported = read(export)
    layer = item(imported, "layer", "Checkout Primary / Business hours")
    assert layer.verdict is Verdict.CHANGED and "starts at the handoff 2027-01-11 00:00" in layer.why
    cut = item(imported, "override", "Checkout Primary: bo@example.com")
    assert cut.verdict is Verdict.CHANGED and "cy@example.com's override from 2027-01-13T19:00:00Z" in cut.why
    assert imported.document["schedules"][0]["overrides"][:3] == [
        {"user": "bo@example.com", "start": "2027-01-13T16:00:00Z", "end": "2027-01-13T19:00:00Z"},
        {"user": "cy@example.com", "start": "2027-01-13T19:00:00Z", "end": "2027-01-13T21:00:00Z"},
        {"user": "bo@example.com", "start": "2027-01-13T21:00:00Z", "end": "2027-01-14T08:00:00Z"}]


def test_zones_as_pagerduty_may_write_them():
    assert zone_of("Europe/Berlin") == "Europe/Berlin"
    assert zone_of("Pacific Time (US & Canada)") == "America/Los_Angeles"
    assert zone_of("Amsterdam") == "Europe/Amsterdam"
    assert zone_of("Middle of Nowhere") is None


def _remove(directory):
    (directory / "users.json").unlink()


def _garble(directory):
    (directory / "services.json").write_text("{not json")


def _wrong_shape(directory):
    (directory / "escalation_policies.json").write_text('{"policies": []}')


def _stranger_in_a_layer(directory):
    edit(directory / "schedules" / "PSEC002.json",
         lambda doc: doc["schedule"]["schedule_layers"][0]["users"].append({"user": {"id": "PNOBODY"}}))


def _broken_schedule(directory):
    (directory / "schedules" / "PSEC002.json").write_text('{"schedules": []}')


MALFORMED = [
    (_remove, "users.json: missing"),
    (_garble, "services.json: not JSON (Expecting property name enclosed in double quotes at line 1)"),
    (_wrong_shape, "escalation_policies.json: expected the API's response, an object with a 'escalation_policies' list"),
    (_stranger_in_a_layer, "schedules/PSEC002.json: schedule.schedule_layers[0].users[2] is user 'PNOBODY', "
                           "who is not in users.json"),
    (_broken_schedule, "schedules/PSEC002.json: expected the response of GET /schedules/{id}"),
]


@pytest.mark.parametrize("damage, message", MALFORMED)
def test_a_malformed_export_is_one_clear_error(export, damage, message):
    damage(export)
    with pytest.raises(ExportError) as err:
        read(export)
    assert str(err.value).startswith(message)


def test_the_registry_names_unknown_and_missing_importers(monkeypatch):
    with pytest.raises(ExportError, match="unknown tool 'jira': choose one of pagerduty, opsgenie, grafana-oncall"):
        importers.importer("jira")
    monkeypatch.setitem(importers.IMPORTERS, "later", "callgoose.importers.later")
    monkeypatch.setitem(importers.TOOL_NAMES, "later", "Later")
    with pytest.raises(ExportError, match="this version of Callgoose has no Later importer yet"):
        importers.importer("later")


def test_importers_are_pure():
    code = ("import sys, callgoose.importers.pagerduty, callgoose.importers.check, callgoose.importers.plan; "
            "print(','.join(m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'flask_sqlalchemy', 'sqlalchemy', 'werkzeug')))")
    root = pathlib.Path(__file__).parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                         env={"PYTHONPATH": str(root)})
    assert out.stdout.strip() == ""


def test_rota_entries_are_instants_of_the_rendered_times():
    entry = read().rota[0]
    assert entry.schedule == "Checkout Primary" and entry.users == ("bo@example.com",)
    assert entry.start == datetime.fromisoformat("2027-01-04T00:00:00+01:00").timestamp()


def _paths(node, at=()):
    """Every place in a JSON document, lists cut to their first two items."""
    yield at
    children = node.items() if isinstance(node, dict) else enumerate(node[:2]) if isinstance(node, list) else ()
    for key, value in children:
        yield from _paths(value, at + (key,))


def test_any_wrong_value_anywhere_is_an_export_error_or_read(export):
    """Each place of each file, in turn, holds a value of the wrong kind: the importer reads it
    or answers ExportError, never another exception (no traceback for a damaged export)."""
    crashes = []
    for path in sorted(export.rglob("*.json")):
        original = path.read_text()
        for at in list(_paths(json.loads(original)))[1:]:
            if len(at) > 5:
                continue
            for wrong in ("x", {}, None):
                doc = json.loads(original)
                node = doc
                for key in at[:-1]:
                    node = node[key]
                node[at[-1]] = wrong
                path.write_text(json.dumps(doc))
                try:
                    imported = read(export)
                    check.check(imported.document, imported.rota)
                except ExportError:
                    pass
                except Exception as exc:  # noqa: BLE001 - the point: nothing else may escape
                    crashes.append((path.name, at, wrong, repr(exc)))
        path.write_text(original)
    assert crashes == []
