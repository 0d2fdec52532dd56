"""Issue 18, item 4: the Opsgenie importer (callgoose/importers/opsgenie.py) on saved API
responses of a team with two schedules of two rotations each (business hours / out of hours
with weekday restrictions; weekdays / weekend), overrides, a two-level escalation with repeats
and a service. The fixture's timelines (tests/fixtures/import/opsgenie/schedules/*.timeline.json)
were written by hand from Opsgenie's documented rotation rules, not computed by Callgoose.
No app, no database."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from callgoose.channels import REGISTRY
from callgoose.engine.config import parse_config
from callgoose.engine.oncall import parse_oncall
from callgoose.importers import opsgenie
from callgoose.importers.base import ExportError, Verdict
from helpers import rota_mismatches as mismatches

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "import" / "opsgenie"
PRIMARY = "9a1b2c3d-4e5f-4a6b-8c7d-000000000001"
SECONDARY = "9a1b2c3d-4e5f-4a6b-8c7d-000000000002"
ANA = "4f6a0c3e-1b2d-4e5f-8a9b-0c1d2e3f4a51"


def copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "export"))


def edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def item(result, kind: str, name: str):
    return next(p for p in result.plan if p.kind == kind and p.name == name)


def test_document_parses_as_configuration():
    result = opsgenie.read(FIXTURE)
    oncall = parse_oncall(result.document, set(), set(), REGISTRY)
    assert [u.email for u in oncall.users] == ["ana@example.com", "bo@example.com", "cy@example.com", "dee@example.com"]
    assert [s.name for s in oncall.schedules] == ["payments_primary", "payments_secondary"]
    assert [s.name for s in parse_config(result.document)] == ["payments-api"]
    assert oncall.services["payments-api"].escalation_policy == "payments_escalation"
    ana = oncall.users[0]
    assert ana.role == "admin" and ana.time_zone == "Europe/Berlin"
    assert [(m.channel, m.address) for m in ana.methods] == [
        ("email", "ana@example.com"), ("sms", "+4915112345678"), ("voice", "+4915112345678")]
    assert [(r.contact_method, r.after_minutes) for r in ana.rules] == [("email", 0), ("sms", 2), ("voice", 5)]


def test_rendered_timeline_agrees_for_four_weeks():
    result = opsgenie.read(FIXTURE)
    for name in ("payments_primary", "payments_secondary"):
        entries = [e for e in result.rota if e.schedule == name]
        assert entries[0].start == 1793577600  # 2026-11-02T00:00Z
        assert entries[-1].end - entries[0].start == 28 * 86400
        assert all(a.end == b.start for a, b in zip(entries, entries[1:]))
        assert all(len(e.users) == 1 for e in entries)  # the rotations never overlap: always one person
    assert len(result.rota) >= 40  # handoffs: every weekday twice in the primary, twice a week in the secondary
    assert mismatches(result.document, result.rota) == []


def test_an_altered_timeline_entry_disagrees(tmp_path):
    export = copy(tmp_path)

    def give_monday_to_dee(doc):  # Weekdays, 2-6 Nov: Ana by the rotation; say Dee instead
        doc["data"]["finalTimeline"]["rotations"][0]["periods"][0]["recipient"] = {
            "type": "user", "id": "4f6a0c3e-1b2d-4e5f-8a9b-0c1d2e3f4a54", "name": "dee@example.com"}

    edit(export / "schedules" / f"{SECONDARY}.timeline.json", give_monday_to_dee)
    result = opsgenie.read(export)
    found = mismatches(result.document, result.rota)
    assert found and {f[0] for f in found} == {"payments_secondary"}
    assert found[0][2:] == (("dee@example.com",), ("ana@example.com",))


def test_plan_says_what_became_of_each_resource():
    result = opsgenie.read(FIXTURE)
    assert item(result, "contact_method", "Ana Ortiz: mobile Ana's iPhone").verdict is Verdict.SKIPPED
    assert "ntfy" in item(result, "contact_method", "Ana Ortiz: mobile Ana's iPhone").why
    assert item(result, "contact_method", "Cy Chen: sms 1-4155550199").verdict is Verdict.SKIPPED
    assert item(result, "schedule", "payments_primary").verdict is Verdict.IMPORTED
    assert item(result, "override", "payments_primary: 2026-11-11T08:00:00Z to 2026-11-12T08:00:00Z").verdict \
        is Verdict.IMPORTED
    policy = item(result, "policy", "payments_escalation")
    assert policy.verdict is Verdict.CHANGED and "team Payments" in policy.why
    assert item(result, "service", "Payments API").verdict is Verdict.CHANGED
    assert all(p.why for p in result.plan if p.verdict is not Verdict.IMPORTED)
    assert all(p.source for p in result.plan)


def test_escalation_rules_become_levels_by_delay():
    policy = opsgenie.read(FIXTURE).document["escalation_policies"][0]
    # rules at 0, 10, 10 and 30 (a team: left out), then 15 minutes before each of 2 repeats
    assert policy["repeat"] == 2
    assert [lv["escalate_after_minutes"] for lv in policy["levels"]] == [10, 20 + 15]
    assert policy["levels"][1]["targets"] == [{"schedule": "payments_secondary"}, {"user": "cy@example.com"}]


def test_weekday_spans_become_windows_cut_at_midnight():
    layers = opsgenie.read(FIXTURE).document["schedules"][1]["layers"]
    assert layers[0]["restrictions"] == [  # monday 09:00 to friday 18:00
        {"days": ["mon"], "from": "09:00", "to": "00:00"},
        {"days": ["tue", "wed", "thu"], "from": "00:00", "to": "00:00"},
        {"days": ["fri"], "from": "00:00", "to": "18:00"}]
    assert layers[0]["start"] == "2026-10-26T09:00" and layers[0]["shift"] == {"unit": "weeks", "count": 1}


def test_time_of_day_restriction_crossing_midnight(tmp_path):
    export = copy(tmp_path)

    def nightly(doc):
        doc["data"][0]["rotations"][1]["timeRestriction"] = {
            "type": "time-of-day", "restriction": {"startHour": 17, "startMin": 30, "endHour": 9, "endMin": 0}}

    edit(export / "schedules.json", nightly)
    layer = opsgenie.read(export).document["schedules"][0]["layers"][1]
    assert layer["restrictions"] == [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                      "from": "17:30", "to": "09:00"}]


def test_overlapping_rotations_are_flagged(tmp_path):
    export = copy(tmp_path)
    edit(export / "schedules.json", lambda doc: doc["data"][1]["rotations"][1].pop("timeRestriction"))
    result = opsgenie.read(export)
    schedule = item(result, "schedule", "payments_secondary")
    assert schedule.verdict is Verdict.CHANGED
    assert "'Weekdays' and 'Weekend'" in schedule.why and "notifies both" in schedule.why


def test_team_participants_are_left_out_with_why(tmp_path):
    export = copy(tmp_path)

    def add_team(doc):
        doc["data"][0]["rotations"][0]["participants"].append({"type": "team", "id": "t1", "name": "Payments"})
        doc["data"][0]["rotations"][1]["participants"] = [{"type": "none"}]

    edit(export / "schedules.json", add_team)
    result = opsgenie.read(export)
    assert item(result, "layer", "payments_primary: Business hours").verdict is Verdict.CHANGED
    assert "Payments" in item(result, "layer", "payments_primary: Business hours").why
    assert item(result, "layer", "payments_primary: Out of hours").verdict is Verdict.SKIPPED
    assert [lv["name"] for lv in result.document["schedules"][0]["layers"]] == ["Business hours"]
    parse_oncall(result.document, set(), set(), REGISTRY)


def test_historical_periods_are_not_checked(tmp_path):
    export = copy(tmp_path)

    def past(doc):  # the first Weekend period happened already
        doc["data"]["finalTimeline"]["rotations"][1]["periods"][0]["type"] = "historical"

    edit(export / "schedules" / f"{SECONDARY}.timeline.json", past)
    entries = [e for e in opsgenie.read(export).rota if e.schedule == "payments_secondary"]
    assert entries[0].start == 1793577600 + 9 * 3600


@pytest.mark.parametrize("name, change, message", [
    ("users.json", None, "users.json: missing"),
    ("schedules.json", "{not json", "schedules.json: not JSON"),
    ("escalations.json", '{"data": {"id": 1}}', 'escalations.json: expected a response with a "data" list'),
    (f"schedules/{PRIMARY}.timeline.json", '{"data": {}}', f"schedules/{PRIMARY}.timeline.json"),
    (f"users/{ANA}.contacts.json", '{"data": [1]}', f"users/{ANA}.contacts.json"),
])
def test_malformed_exports_name_the_file(tmp_path, name, change, message):
    export = copy(tmp_path)
    if change is None:
        (export / name).unlink()
    else:
        (export / name).write_text(change)
    with pytest.raises(ExportError, match=message.replace(".", r"\.")):
        opsgenie.read(export)


def test_importers_import_no_framework():
    code = ("import sys, callgoose.importers.opsgenie, callgoose.importers.grafana_oncall; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'flask_sqlalchemy', 'flask_login', 'flask_wtf', 'sqlalchemy', 'werkzeug')]; "
            "print(','.join(bad))")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root, env={"PYTHONPATH": str(root)})
    assert out.stdout.strip() == ""
