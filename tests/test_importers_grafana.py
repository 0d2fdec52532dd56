"""Issue 18, item 4: the Grafana OnCall importer (callgoose/importers/grafana_oncall.py) on saved
public-API responses of a team with two schedules of two rolling-users shifts each (a weekly
rotation under a weekday-daytime one of a higher level; a daily rotation under a weekend one
whose weeks start on Sunday), an override, a two-level escalation chain and an integration. The
final shifts (tests/fixtures/import/grafana-oncall/schedules/*.final_shifts.json) were written by
hand from Grafana OnCall's documented rules (rolling users turn by turn, the higher level wins,
overrides win over all). No app, no database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from callgoose.channels import REGISTRY
from callgoose.engine.config import parse_config
from callgoose.engine.oncall import parse_oncall
from callgoose.importers import grafana_oncall
from callgoose.importers.base import ExportError, Verdict
from helpers import rota_mismatches

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "import" / "grafana-oncall"


def copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "export"))


def edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def shifts(doc) -> list[dict]:
    return [s for page in doc for s in page["results"]]


def item(result, kind: str, name: str):
    return next(p for p in result.plan if p.kind == kind and p.name == name)


def test_document_parses_as_configuration():
    result = grafana_oncall.read(FIXTURE)
    oncall = parse_oncall(result.document, set(), set(), REGISTRY)
    assert [u.email for u in oncall.users] == ["ana@example.com", "bo@example.com", "cy@example.com", "dee@example.com"]
    assert [u.role for u in oncall.users] == ["admin", "responder", "responder", "responder"]
    assert [s.name for s in oncall.schedules] == ["Checkout primary", "Checkout secondary"]
    assert [s.name for s in parse_config(result.document)] == ["checkout-alertmanager"]
    assert oncall.services["checkout-alertmanager"].escalation_policy == "checkout-chain"


def test_final_shifts_agree_for_four_weeks():
    result = grafana_oncall.read(FIXTURE)
    for name, first in (("Checkout primary", 1793606400), ("Checkout secondary", 1793624400)):
        entries = [e for e in result.rota if e.schedule == name]
        assert entries[0].start == first  # 2 Nov 08:00Z (09:00 Berlin); 2 Nov 13:00Z (08:00 New York)
        assert entries[-1].end - entries[0].start == 28 * 86400
        assert all(a.end == b.start and len(a.users) == 1 for a, b in zip(entries, entries[1:]))
    assert rota_mismatches(result.document, result.rota) == []


def test_an_altered_final_shift_disagrees(tmp_path):
    export = copy(tmp_path)

    def saturday_to_bo(doc):  # Sat 7 Nov is Dee's (weekend, first turn); say Bo's instead
        doc["results"][5].update(user_pk="UBO11K2L3M4N5", user_email="bo@example.com", user_username="bo")

    edit(export / "schedules" / "SSECO1K2L3M4N.final_shifts.json", saturday_to_bo)
    result = grafana_oncall.read(export)
    found = rota_mismatches(result.document, result.rota)
    assert [(f[0], f[2], f[3]) for f in found] == [("Checkout secondary", ("bo@example.com",), ("dee@example.com",))]


def test_shifts_become_layers_by_level():
    primary, secondary = grafana_oncall.read(FIXTURE).document["schedules"]
    assert [lv["name"] for lv in primary["layers"]] == ["Weekly primary", "Weekday daytime"]  # level 1, then 2
    assert primary["layers"][1]["restrictions"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]
    assert primary["overrides"] == [{"user": "cy@example.com", "start": "2026-11-18T08:00:00Z",
                                     "end": "2026-11-19T08:00:00Z"}]
    weekend = secondary["layers"][1]
    assert weekend["start"] == "2026-11-01T08:00"  # its weeks start on Sunday (week_start SU)
    assert weekend["users"] == ["dee@example.com", "ana@example.com"]


def test_escalation_steps_become_levels():
    result = grafana_oncall.read(FIXTURE)
    assert result.document["escalation_policies"] == [{"name": "checkout-chain", "repeat": 0, "levels": [
        {"escalate_after_minutes": 10, "targets": [{"schedule": "Checkout primary"}]},
        {"escalate_after_minutes": 15, "targets": [{"schedule": "Checkout secondary"}, {"user": "ana@example.com"}]}]}]
    policy = item(result, "policy", "checkout-chain")
    assert policy.verdict is Verdict.CHANGED and "trigger_webhook" in policy.why


def test_plan_says_what_became_of_each_resource():
    result = grafana_oncall.read(FIXTURE)
    assert item(result, "schedule", "Checkout primary").verdict is Verdict.IMPORTED
    assert item(result, "override", "Checkout primary: Cy covers Wednesday").verdict is Verdict.IMPORTED
    assert item(result, "service", "Checkout Alertmanager").verdict is Verdict.CHANGED
    assert "phone" in item(result, "contact_method", "every user").why
    assert all(p.why for p in result.plan if p.verdict is not Verdict.IMPORTED)


def test_same_level_overlap_is_flagged(tmp_path):
    export = copy(tmp_path)

    def same_level(doc):
        for s in shifts(doc):
            if s["id"] == "OSWKD1K2L3M4N":
                s["level"] = 0

    edit(export / "on_call_shifts.json", same_level)
    result = grafana_oncall.read(export)
    schedule = item(result, "schedule", "Checkout secondary")
    assert schedule.verdict is Verdict.CHANGED and "'Secondary daily' and 'Secondary weekend'" in schedule.why
    assert rota_mismatches(result.document, result.rota) == []  # same final shifts: the weekend is still later


def test_rotation_start_later_than_start_keeps_the_order(tmp_path):
    export = copy(tmp_path)

    def restarted(doc):  # the web UI's edit: the rotation renders from 16 Nov on, turns counted from start
        for s in shifts(doc):
            if s["id"] == "OPWEEK1K2L3M4":
                s["rotation_start"] = "2026-11-16T09:00:00"

    edit(export / "on_call_shifts.json", restarted)
    layer = grafana_oncall.read(export).document["schedules"][0]["layers"][0]
    assert layer["start"] == "2026-11-16T09:00"
    assert layer["users"] == ["ana@example.com", "bo@example.com", "cy@example.com"]  # turn 3: Ana again


def test_unsupported_shifts_and_ical_schedules_are_skipped_with_why(tmp_path):
    export = copy(tmp_path)

    def monthly(doc):
        for s in shifts(doc):
            if s["id"] == "OPDAY11K2L3M4":
                s["frequency"] = "monthly"

    edit(export / "on_call_shifts.json", monthly)
    edit(export / "schedules.json", lambda doc: doc["results"][1].update(type="ical"))
    result = grafana_oncall.read(export)
    assert item(result, "layer", "Checkout primary: Weekday daytime").verdict is Verdict.SKIPPED
    assert item(result, "schedule", "Checkout secondary").verdict is Verdict.SKIPPED
    assert "iCal" in item(result, "schedule", "Checkout secondary").why
    assert [s["name"] for s in result.document["schedules"]] == ["Checkout primary"]
    parse_oncall(result.document, set(), set(), REGISTRY)


@pytest.mark.parametrize("name, change, message", [
    ("on_call_shifts.json", None, "on_call_shifts.json: missing"),
    ("users.json", "[[]", "users.json: not JSON"),
    ("escalation_policies.json", '{"data": []}', 'escalation_policies.json: expected a response with a "results"'),
    ("schedules/SPRIM1K2L3M4N.final_shifts.json", '{"results": [{"user_email": "x"}]}',
     "schedules/SPRIM1K2L3M4N.final_shifts.json"),
])
def test_malformed_exports_name_the_file(tmp_path, name, change, message):
    export = copy(tmp_path)
    if change is None:
        (export / name).unlink()
    else:
        (export / name).write_text(change)
    with pytest.raises(ExportError, match=message.replace(".", r"\.").replace("[", r"\[")):
        grafana_oncall.read(export)
