"""The configuration document (S34) and the engine's purity, without Flask."""

import json
import pathlib
import subprocess
import sys

import pytest

from callgoose.engine import SpecError, export_config, parse_config

EXAMPLE = pathlib.Path(__file__).parent.parent / "examples" / "callgoose.json"


def test_s34_export_then_import_gives_the_same_services():
    specs = parse_config(json.loads(EXAMPLE.read_text()))
    exported = export_config(specs)
    assert parse_config(exported) == specs
    assert export_config(parse_config(exported)) == exported
    assert exported["services"][0]["resolve"][0]["conditions"][0]["mode"] == "all"  # written in full


def test_s34_optional_fields_take_their_defaults():
    spec, = parse_config({"services": [{"name": "api", "trigger": [
        {"conditions": [{"json_key": "status", "contains": ["firing"]}]}]}]})
    assert spec.enabled is True and spec.duplicate_window_seconds is None and spec.maintenance == ()
    rule = spec.trigger[0]
    assert (rule.urgency, rule.conditions[0].mode, rule.title_from) == ("high", "all", None)


def test_s34_empty_string_key_is_kept_as_whole_payload():
    spec, = parse_config({"services": [{"name": "api", "trigger": [{"title_from": ""}]}]})
    assert spec.trigger[0].title_from == ""


def test_s34_maintenance_windows_parse():
    spec, = parse_config({"services": [{"name": "api", "maintenance": [
        {"starts_at": None, "ends_at": "2026-01-01T00:00:00Z", "tags": [["staging"]]},
        {"starts_at": "2026-01-01T00:00:00+01:00", "ends_at": None}]}]})
    assert spec.maintenance[0].ends_at == 1767225600.0
    assert spec.maintenance[1].starts_at == 1767225600.0 - 3600
    assert spec.maintenance[1].tags == ()


@pytest.mark.parametrize("doc, message", [
    ({}, "services: is required"),
    ({"services": [], "x": 1}, "x: unknown field"),
    ({"services": [{"name": "a", "colour": "red"}]}, "services[0].colour: unknown field"),
    ({"services": [{"name": "a b"}]}, "services[0].name: must be 1-64 letters"),
    ({"services": [{"name": "a"}, {"name": "a"}]}, "services[1].name: 'a' appears twice"),
    ({"services": [{"name": "a", "enabled": "yes"}]}, "services[0].enabled: must be true or false"),
    ({"services": [{"name": "a", "duplicate_window_seconds": -1}]}, "services[0].duplicate_window_seconds"),
    ({"services": [{"name": "a", "trigger": [{"urgency": "urgent"}]}]},
     "services[0].trigger[0].urgency: must be high or low"),
    ({"services": [{"name": "a", "trigger": [{}, {}, {"conditions": [
        {"json_key": "k", "contains": ["a", "b", "c", "x" * 201]}]}]}]},
     "services[0].trigger[2].conditions[0].contains[3]: longer than 200 characters"),
    ({"services": [{"name": "a", "resolve": [{"conditions": [{"json_key": "k", "contains": ["x"]}]}]}]},
     "services[0].resolve[0].incident_mapped_with: is required"),
    ({"services": [{"name": "a", "maintenance": [{"tags": [[]]}]}]},
     "services[0].maintenance[0].tags[0]: must be a non-empty list"),
    ({"services": [{"name": "a", "maintenance": [{"starts_at": "tomorrow"}]}]},
     "services[0].maintenance[0].starts_at: is not an ISO 8601 time"),
    ({"services": [{"name": "a", "maintenance": [
        {"starts_at": "2026-01-02T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}]}]},
     "services[0].maintenance[0].ends_at: must be after starts_at"),
])
def test_s34_faults_name_their_path(doc, message):
    with pytest.raises(SpecError) as err:
        parse_config(doc)
    assert str(err.value).startswith(message)


def test_engine_imports_no_framework():
    code = ("import sys, callgoose.engine; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'flask_sqlalchemy', 'flask_login', 'flask_wtf', 'sqlalchemy', 'werkzeug')]; "
            "print(','.join(bad))")
    root = pathlib.Path(__file__).parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root, env={"PYTHONPATH": str(root)})
    assert out.stdout.strip() == ""
