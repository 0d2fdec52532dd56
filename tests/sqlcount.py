"""SQL statements and commits per call through the real app (issue 22: the budget and its guard).

Shared by tests/test_hot_path_budget.py (which fails when a count grows) and bench/ingest.py
(which prints the counts beside its figures). It lives under tests/, beside servers.py and
helpers.py that bench/ imports already: it is measuring code, and nothing in the app imports it.

What is counted, per call, after a warm-up call on every path and token (so the spec cache is
full), with the tokens' once-a-minute ``last_used_at`` write kept out (their time is set an hour
ahead, so a slow run never counts it for one call and not the next):

- statements: every statement the database was sent, the transaction's ``BEGIN`` and ``COMMIT``
  (or ``ROLLBACK``) included; ``executemany`` counts one per row. SQLite: the driver's trace
  callback, which sees the raw-cursor SQL of the hot path as well as SQLAlchemy's. PostgreSQL:
  a psycopg connection subclass whose cursors count what they execute, and whose internal
  command path (``_exec_command``: psycopg's own ``BEGIN``, ``COMMIT``, ``ROLLBACK``) counts
  the rest. That is a private psycopg method: if a psycopg release renames it, the guard test
  sees no commit at all and says so.
- commits: the ``COMMIT`` statements among them (each one a durable write on SQLite,
  ``synchronous=FULL``; an autocommit read is not one).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

SERVICE = {  # bench/common.py's CONFIG: the service every other scenario runs on
    "name": "bench",
    "trigger": [{"conditions": [{"json_key": "status", "contains": ["firing"]}],
                 "title_from": "title", "map_incident_with": "id"}],
    "resolve": [{"conditions": [{"json_key": "status", "contains": ["resolved"]}],
                 "incident_mapped_with": "id"}],
}
SPLIT_SERVICE = {  # S38: an Alertmanager receiver, each element of alerts[] a payload of its own
    "name": "bench-split", "split_on": "alerts",
    "trigger": [{"conditions": [{"json_key": "status", "contains": ["firing"]}],
                 "title_from": "labels.alertname", "description_from": "annotations.description",
                 "map_incident_with": "fingerprint"}],
    "resolve": [{"conditions": [{"json_key": "status", "contains": ["resolved"]}],
                 "incident_mapped_with": "fingerprint"}],
}
CONFIG = {"services": [SERVICE, SPLIT_SERVICE]}
SPLIT_ALERTS = 50


def split_body(alerts: int = SPLIT_ALERTS) -> str:
    """An Alertmanager webhook body (version 4) with ``alerts`` distinct firing alerts; ``{n}``
    stands for the call's counter, so every call opens ``alerts`` new incidents."""
    group = {"alertname": "HighCPU", "job": "node", "env": "prod"}
    return json.dumps({
        "version": "4", "groupKey": '{}:{alertname="HighCPU"}', "truncatedAlerts": 0, "status": "firing",
        "receiver": "callgoose", "groupLabels": {"alertname": "HighCPU"}, "commonLabels": group,
        "commonAnnotations": {"summary": "CPU high"}, "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": "firing", "labels": {**group, "instance": f"db{i}:9100"},
                    "annotations": {"summary": "CPU high", "description": f"CPU above 90% on db{i} for 5 minutes"},
                    "startsAt": "2026-12-06T04:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph?g0.expr=cpu", "fingerprint": f"RUN-{{n}}-{i:02d}"}
                   for i in range(alerts)]}, separators=(",", ":"))


# name: (path, token kind, expected status, body template, what the answer's reason must say).
# ``{n}`` is the call's counter, RUN a run's mark; "dup" is opened before the duplicates.
SCENARIOS = {
    "new": ("/v1/process", "token", 201, '{"status":"firing","id":"new-RUN-{n}","title":"CPU high on db1"}', None),
    "replay": ("/v1/process", "token", 208, '{"status":"firing","id":"replay","title":"CPU high on db1"}', "replay"),
    "duplicate": ("/v1/process", "token", 208,
                  '{"status":"firing","id":"dup","title":"CPU high on db1","seq":"RUN-{n}"}', "duplicate of open"),
    "no rule": ("/v1/process", "token", 202, '{"status":"pending","id":"x-{n}","title":"CPU high on db1"}', None),
    "resolve": ("/v1/process", "token", 200, '{"status":"resolved","id":"open-{n}"}', None),
    "split": ("/v1/process", "split", 201, split_body(), None),
    "pagerduty": ("/v2/enqueue", "routing", 202,
                  '{"routing_key":"ROUTING","event_action":"trigger","dedup_key":"pd-RUN-{n}",'
                  '"payload":{"summary":"CPU high on db1","source":"db1","severity":"critical"}}', None),
}
OPENED_FIRST = ('{"status":"firing","id":"replay","title":"CPU high on db1"}',  # what replay repeats
                '{"status":"firing","id":"dup","title":"CPU high on db1","seq":"first"}')  # what duplicate repeats


@dataclass(frozen=True)
class Count:
    """Per call, averaged over the calls of one scenario."""

    statements: float
    commits: float


class Counter:
    """Counts the statements and commits of an app's engine (attach before its first connection)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.statements = 0
        self.commits = 0

    def reset(self) -> None:
        with self._lock:
            self.statements = self.commits = 0

    def saw(self, sql, rows: int = 1) -> None:
        text = sql.decode() if isinstance(sql, bytes) else str(sql)
        with self._lock:
            self.statements += rows
            if text.lstrip().upper().startswith(("COMMIT", "END")):
                self.commits += 1

    def attach(self, engine) -> None:
        """Count every connection ``engine`` opens from now on (call ``engine.dispose()`` first)."""
        from sqlalchemy import event

        if engine.dialect.name == "sqlite":
            @event.listens_for(engine, "connect")
            def trace(dbapi_conn, _record):
                dbapi_conn.set_trace_callback(self.saw)
        else:
            connection_class = _counting_psycopg(self)

            @event.listens_for(engine, "do_connect")
            def connect(_dialect, _record, cargs, cparams):
                return connection_class.connect(*cargs, **cparams)


def _counting_psycopg(counter: Counter):
    import psycopg

    class CountingCursor(psycopg.Cursor):
        def execute(self, query, params=None, **kw):
            counter.saw(query)
            return super().execute(query, params, **kw)

        def executemany(self, query, params_seq, **kw):
            params_seq = list(params_seq)
            counter.saw(query, len(params_seq))
            return super().executemany(query, params_seq, **kw)

    class CountingConnection(psycopg.Connection):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self.cursor_factory = CountingCursor

        def _exec_command(self, command, *args, **kw):  # psycopg's own BEGIN, COMMIT, ROLLBACK
            counter.saw(command.as_string(self) if hasattr(command, "as_string") else command)
            return super()._exec_command(command, *args, **kw)

    return CountingConnection


@dataclass(frozen=True)
class Tokens:
    token: str  # scoped to the bench service
    split: str  # scoped to the split service
    routing: str  # a PagerDuty routing key for the bench service

    def credential(self, kind: str) -> str:
        return getattr(self, kind)


def prepare(app) -> Tokens:
    """Save CONFIG's services and make their tokens (in ``app``'s database, whose tables exist)."""
    from sqlalchemy import select

    from callgoose import clock
    from callgoose.extensions import db
    from callgoose.services.catalog import import_config
    from callgoose.services.tokens import ROUTING_KEY, create_token
    from callgoose.store.models import Service

    with app.app_context():
        import_config(CONFIG, clock.now())
        ids = dict(db.session.execute(select(Service.name, Service.id)).all())
        _, token = create_token("bench", ids[SERVICE["name"]], clock.now())
        _, split = create_token("bench-split", ids[SPLIT_SERVICE["name"]], clock.now())
        _, routing = create_token("bench-pagerduty", ids[SERVICE["name"]], clock.now(), ROUTING_KEY)
        db.session.commit()
    return Tokens(token, split, routing)


def request_for(name: str, tokens: Tokens, n, run: str = "c") -> tuple[str, str, dict]:
    """(path, body, headers) of call ``n`` of scenario ``name``."""
    path, kind, _, body, _ = SCENARIOS[name]
    body = body.replace("RUN", run).replace("{n}", str(n)).replace("ROUTING", tokens.routing)
    headers = {"Content-Type": "application/json"}
    if kind != "routing":
        headers["Authorization"] = f"Bearer {tokens.credential(kind)}"
    return path, body, headers


def count_calls(app, calls: int = 20) -> dict[str, Count]:
    """Statements and commits per call of every scenario, through ``app``'s test client.

    ``app`` has its tables and nothing else. Every answer is checked (status, and for replay and
    duplicate what the reason says), so a count is never that of a call that went elsewhere.
    """
    from sqlalchemy import update

    from callgoose import clock
    from callgoose.extensions import db
    from callgoose.store.models import ApiToken

    tokens = prepare(app)
    counter = Counter()
    with app.app_context():
        db.engine.dispose()  # connections opened from now on are counted
        counter.attach(db.engine)
    client = app.test_client()

    def post(name: str, n) -> None:
        path, body, headers = request_for(name, tokens, n)
        answer = client.post(path, data=body, headers=headers)
        expected, must_say = SCENARIOS[name][2], SCENARIOS[name][4]
        said = (answer.get_json(silent=True) or {}).get("reason") or ""
        if answer.status_code != expected or (must_say and must_say not in said):
            raise AssertionError(f"{name}: call {n} answered {answer.status_code} {answer.get_data(as_text=True)[:300]}"
                                 f" (expected {expected}{f', saying {must_say!r}' if must_say else ''})")

    # Warm-up: every path and token once; open what replay and duplicate repeat.
    client.post("/v1/process", data=OPENED_FIRST[0], headers=request_for("new", tokens, 0)[2])
    client.post("/v1/process", data=OPENED_FIRST[1], headers=request_for("new", tokens, 0)[2])
    post("replay", "warm-up")
    for name in ("new", "no rule", "split", "pagerduty"):
        post(name, "warm-up")
    for i in range(calls):  # what resolve resolves (not counted)
        client.post("/v1/process", data=f'{{"status":"firing","id":"open-{i}","title":"t"}}',
                    headers=request_for("new", tokens, 0)[2])

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(update(ApiToken).values(last_used_at=clock.to_db(clock.now() + 3600)))

    per_call = {}
    for name in SCENARIOS:
        n = max(2, calls // 4) if name == "split" else calls  # a split call opens 50 incidents
        counter.reset()
        for i in range(n):
            post(name, i)
        per_call[name] = Count(counter.statements / n, counter.commits / n)
    with app.app_context():
        db.engine.dispose()
    return per_call
