"""Issue 6 E: property-based tests.

1. The real pipeline (engine + SQL, on SQLite and PostgreSQL) against a small reference model of
   S24-S29 over random sequences of triggers, resolves, replays, maintenance and clock steps.
2. Arbitrary bytes, JSON and rule texts never raise and never give a value a database refuses.
"""

from __future__ import annotations

import hashlib
import itertools
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from callgoose.engine import Payload, SpecError
from callgoose.engine.rules import build_resolve, build_trigger

WINDOW = 300
HOSTS = ("h1", "h2", "h3")
_names = itertools.count()

send = st.tuples(st.just("send"), st.sampled_from(HOSTS), st.sampled_from(["down", "up", "other"]),
                 st.integers(0, 1))
step = st.tuples(st.just("step"), st.sampled_from([0, 1, WINDOW - 1, WINDOW, WINDOW + 1, 5000]))
maintenance = st.tuples(st.just("maintenance"), st.booleans())
operations = st.lists(st.one_of(send, send, send, step, maintenance), min_size=1, max_size=25)


class Model:
    """S24-S29 for one service, one trigger rule (state down, map host), one resolve rule (state up)."""

    def __init__(self):
        self.active: set[str] = set()
        self.markers: dict[str, tuple[str, float]] = {}
        self.maintenance = False

    def send(self, host: str, state: str, body: str, now: float) -> int:
        if self.maintenance or state == "other":
            return 202  # S29: nothing done, nothing remembered; or no rule held (not remembered)
        digest = hashlib.sha256(body.encode()).hexdigest()
        marker = self.markers.get(host)
        self.markers[host] = (digest, now)  # a replay slides the window; anything else replaces it
        if marker is not None and marker[0] == digest and now - marker[1] < WINDOW:
            return 208  # S27
        if state == "up":
            if host in self.active:
                self.active.discard(host)
                return 200
            return 202
        if host in self.active:
            return 208  # S26
        self.active.add(host)
        return 201


def body_for(host: str, state: str, variant: int) -> str:
    return json.dumps({"host": host, "state": state, "variant": variant})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
@example(ops=[("send", "h1", "down", 0), ("step", WINDOW), ("send", "h1", "down", 0)])  # the window's edge
@example(ops=[("send", "h1", "down", 0), ("step", WINDOW - 1), ("send", "h1", "down", 0),
              ("step", WINDOW - 1), ("send", "h1", "down", 0)])  # the window slides
@example(ops=[("send", "h1", "down", 0), ("send", "h1", "up", 0), ("send", "h1", "down", 0)])  # a flap
@example(ops=[("send", "h1", "down", 0), ("maintenance", True), ("send", "h1", "up", 0),
              ("maintenance", False), ("send", "h1", "up", 0)])
def test_pipeline_agrees_with_the_reference_model(dbapp, ops):
    from callgoose.extensions import db
    from callgoose.services import catalog
    from callgoose.services.catalog import (
        end_maintenance,
        import_config,
        start_maintenance,
    )
    from callgoose.services.ingestion import open_call, process_call
    from callgoose.services.tokens import create_token
    from callgoose.store.models import Service

    name = f"prop-{next(_names)}"
    with dbapp.app_context():
        import_config({"services": [{
            "name": name, "duplicate_window_seconds": WINDOW,
            "trigger": [{"conditions": [{"json_key": "state", "contains": ["down"]}], "map_incident_with": "host"}],
            "resolve": [{"conditions": [{"json_key": "state", "contains": ["up"]}], "incident_mapped_with": "host"}],
        }]}, 0)
        service = catalog.find_service(name)
        _, token = create_token(name, service.id, 0)
        db.session.commit()
        service_id = service.id
    model = Model()
    now = 1_800_000_000.0
    cache = dbapp.extensions["callgoose_specs"]
    for op in ops:
        if op[0] == "step":
            now += op[1]
        elif op[0] == "maintenance":
            with dbapp.app_context():
                service = db.session.get(Service, service_id)
                if op[1]:
                    start_maintenance(service, (), None, now - 1, origin="api")
                else:
                    end_maintenance(service)
                db.session.commit()
            model.maintenance = op[1]
        else:
            _, host, state, variant = op
            body = body_for(host, state, variant)
            with dbapp.app_context():
                info, specs = open_call(db.engine, cache, token)
                result = process_call(db.engine, info, specs, body.encode(), "application/json", None, now, WINDOW)
            assert result.status == model.send(host, state, body, now), (op, ops)
        with dbapp.app_context():
            rows = db.session.execute(db.text(
                "SELECT mapping_value FROM incidents WHERE service_id = :s AND status IN ('triggered', 'acknowledged')"),
                {"s": service_id}).all()
        assert sorted(r[0] for r in rows) == sorted(model.active)  # at most one active per mapping value


# -- arbitrary input never breaks the engine or the database ------------------------------------

def storable(text: str) -> bool:
    text.encode("utf-8")  # no lone surrogate
    return "\x00" not in text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20)
keys = st.text(st.sampled_from("ab.0[]\x00\udc00 "), max_size=8)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300), content_type=st.one_of(st.none(), st.text(max_size=40),
                                                           st.sampled_from(["application/json; charset=utf-16",
                                                                            "text/plain; charset=base64"])),
       key=keys)
def test_any_bytes_give_a_storable_payload(raw, content_type, key):
    payload = Payload.from_body(raw, content_type)
    assert storable(payload.text)
    value = payload.value(key)
    assert value is None or storable(value)


@settings(max_examples=300, deadline=None)
@given(value=json_values, key=keys)
def test_any_json_gives_storable_values(value, key):
    text = json.dumps(value, ensure_ascii=bool(hash(key) % 2))
    payload = Payload.from_text(text)
    assert storable(payload.text)
    found = payload.value(key)
    assert found is None or storable(found)


@settings(max_examples=300, deadline=None)
@given(doc=st.one_of(json_values, st.fixed_dictionaries({
    "conditions": st.lists(st.fixed_dictionaries({"json_key": st.one_of(st.text(), json_values),
                                                  "contains": st.one_of(st.lists(st.text(), max_size=3), json_values),
                                                  "mode": st.sampled_from(["all", "any", "none", "x"])}),
                           max_size=3),
    "title_from": st.one_of(st.none(), st.text()), "map_incident_with": st.one_of(st.none(), st.text()),
    "incident_mapped_with": st.text()})))
def test_any_rule_text_builds_storably_or_is_refused_with_a_path(doc):
    for builder, fields in ((build_trigger, ("title_from", "map_incident_with")), (build_resolve, ())):
        candidate = dict(doc) if isinstance(doc, dict) else doc
        if builder is build_trigger and isinstance(candidate, dict):
            candidate.pop("incident_mapped_with", None)
        try:
            rule = builder(candidate, "rule")
        except SpecError as exc:
            assert exc.path.startswith("rule")
            continue
        for condition in rule.conditions:
            assert storable(condition.json_key) and all(storable(i) for i in condition.contains)
        for name in fields:
            value = getattr(rule, name)
            assert value is None or storable(value)
