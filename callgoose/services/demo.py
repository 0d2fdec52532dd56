"""``seed-demo``: fill a database with a realistic history, fast, for trying and measuring.

The mix follows what a small team's Callgoose sees in a month: a few services with
Alertmanager-style rules; calls spread over ``days`` (some older than the API log's
retention); per incident one call that opened it, repeats (other payloads for the same
alert) and replays (the same payload again), a resolving call for most; calls no rule
matched; payloads from 300 bytes to 20 KB, each distinct text stored once. Incidents are
mostly resolved, some acknowledged by a person, a few still open.

Rows are written in batches straight through the driver (one transaction a batch), as the
hot path writes them, so a million calls take minutes, not hours. Every row is what the
pipeline would have written: the incident list, the API log and its explanations read
them as they read real ones.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from dataclasses import dataclass

from .. import clock
from ..engine import mapping_key
from ..engine.lifecycle import RULES, Action, Status
from ..engine.outcome import Miss, ResolveHit, ServiceOutcome, TriggerHit, dump_all
from ..engine.words import Say
from ..extensions import db
from ..store.hotpath import Sql
from ..store.transactions import run_read, run_write, write
from .catalog import import_config
from .ingestion import (
    INSERT_CALL,
    INSERT_CALL_SERVICES,
    STORE_PAYLOAD,
    call_services,
    new_call_id,
)
from . import demo_people
from .demo_people import INSERT_PAGE
from .lifecycle import BUMP_COUNTER, INSERT_EVENT
from .tokens import create_token

DAY = 86400
TRIGGERED, ACKNOWLEDGED, RESOLVED = (s.value for s in Status)
BATCH = 5000
REPEAT_SHARE = 0.7  # of the calls beyond opening and resolving: repeats and replays; the rest match no rule
AREAS = ("checkout", "payments", "search", "auth", "mail", "db", "cache", "queue", "cdn", "billing",
         "reports", "mobile-api", "web", "cron", "storage", "dns", "vpn", "ci", "backups", "ml")
INSERT_INCIDENT = Sql("""
    INSERT INTO incidents (id, service_id, title, description, payload_digest, urgency, status, mapping_value,
        mapping_key, duplicate_count, first_repeat_at, version, rule_id, created_by_call, created_at,
        last_seen_at, acknowledged_at, resolved_at)
    VALUES (:id, :service_id, :title, NULL, :payload_digest, :urgency, :status, :mapping_value, :mapping_key,
        :duplicate_count, :first_repeat_at, :version, :rule_id, :created_by_call, :created_at, :last_seen_at,
        :acknowledged_at, :resolved_at)
""")
INSERT_MARKER = Sql("""
    INSERT INTO replay_markers (service_id, subject_key, payload_hash, seen_at) VALUES (:sid, :subject, :hash, :at)
    ON CONFLICT (service_id, subject_key) DO UPDATE SET payload_hash = excluded.payload_hash, seen_at = excluded.seen_at
""")
NEXT_INCIDENT_ID = Sql("SELECT coalesce(max(id), 0) + 1 FROM incidents")
SERVICE_IDS = Sql("SELECT id, name FROM services WHERE name LIKE 'demo-%' AND deleted_at IS NULL ORDER BY id")
ADVANCE_SEQUENCE = Sql("SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT max(id) FROM incidents))")


def _rules(name: str) -> dict:
    return {"name": name,
            "trigger": [{"urgency": "high", "conditions": [{"json_key": "status", "contains": ["firing"]},
                                                           {"json_key": "commonLabels.severity",
                                                            "contains": ["critical", "page"], "mode": "any"}],
                         "title_from": "commonAnnotations.summary", "map_incident_with": "groupKey"},
                        {"urgency": "low", "conditions": [{"json_key": "status", "contains": ["firing"]}],
                         "title_from": "commonAnnotations.summary", "map_incident_with": "groupKey"}],
            "resolve": [{"conditions": [{"json_key": "status", "contains": ["resolved"]}],
                         "incident_mapped_with": "groupKey"}]}


@dataclass
class SeedResult:
    services: int = 0
    incidents: int = 0
    calls: int = 0
    payloads: int = 0
    token: str = ""


class _Writer:
    """Rows waiting for their batch; a batch is one write transaction."""

    def __init__(self, engine, progress):
        self.engine = engine
        self.progress = progress
        self.rows: dict[str, list[dict]] = {"payloads": [], "incidents": [], "calls": [], "links": [], "events": [],
                                            "markers": [], "pages": []}
        self.calls = 0
        self.payloads = 0
        self.changes = 0
        self.seen_payloads: set[str] = set()

    def payload(self, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest not in self.seen_payloads:
            self.seen_payloads.add(digest)
            self.rows["payloads"].append({"digest": digest, "text": text})
            self.payloads += 1
        return digest

    def call(self, row: dict) -> None:
        self.rows["calls"].append(row)
        self.rows["links"].extend(call_services(row["id"], row["received_at"], [int(row["services"].strip(","))]))
        self.calls += 1

    def maybe_flush(self) -> None:
        """Write the batch once it is full (between incidents, so that rows and their parents go together)."""
        if len(self.rows["calls"]) >= BATCH:
            self.flush()

    def flush(self) -> None:
        rows, self.rows = self.rows, {name: [] for name in self.rows}
        changes, self.changes = self.changes, 0

        def work(cursor):
            for sql, name in ((STORE_PAYLOAD, "payloads"), (INSERT_INCIDENT, "incidents"), (INSERT_CALL, "calls"),
                              (INSERT_CALL_SERVICES, "links"), (INSERT_EVENT, "events"), (INSERT_MARKER, "markers"),
                              (INSERT_PAGE, "pages")):
                if rows[name]:
                    cursor.executemany(sql, rows[name])
            if changes:
                cursor.execute(BUMP_COUNTER, {"shard": 0, "n": changes})
        run_write(self.engine, work)
        if self.progress:
            self.progress(self.calls)


def _alert(service: str, key: str, status: str, summary: str, size: int, n: int) -> str:
    """An Alertmanager-style payload of about ``size`` bytes; ``n`` makes repeats differ."""
    doc = {"version": "4", "status": status, "receiver": "callgoose", "groupKey": key,
           "commonLabels": {"alertname": summary.split(" ")[0], "service": service,
                            "severity": "critical" if n % 3 else "warning"},
           "commonAnnotations": {"summary": summary, "description": f"observation {n}"},
           "alerts": [{"status": status, "startsAt": "2026-11-01T10:00:00Z",
                       "generatorURL": f"http://prometheus.local/graph?g0.expr={key}"}]}
    text = json.dumps(doc, separators=(",", ":"))
    if len(text) < size:  # big payloads carry many labels, like a real alert group
        doc["alerts"][0]["labels"] = {f"label_{i}": f"value-{n}-{i:04d}" for i in range((size - len(text)) // 28)}
        text = json.dumps(doc, separators=(",", ":"))
    return text


def _size(rng: random.Random) -> int:
    pick = rng.random()
    return 300 if pick < 0.6 else 2000 if pick < 0.95 else 20000


def seed(engine, now: float, *, calls: int, incidents: int, days: int = 35, seed_value: int = 7,
         progress=None) -> SeedResult:
    """Add ``incidents`` incidents and ``calls`` calls (at least two per incident) to the database."""
    if incidents < 1 or calls < 2 * incidents:
        raise ValueError("seed-demo needs at least one incident and two calls per incident")
    rng = random.Random(seed_value)
    people_rng = random.Random(seed_value + 1)  # the people's part (issue 20) leaves the rest as it was
    result = SeedResult()
    names = [f"demo-{area}" for area in AREAS]
    start = now - days * DAY
    import_config({"services": [_rules(n) for n in names], **demo_people.document(start, now)}, now)
    def new_token():
        token, plaintext = create_token(f"demo {secrets.token_hex(3)}", None, now)
        db.session.flush()
        return token.id, plaintext
    # The id is read inside the transaction: reading it afterwards would begin a read that
    # stays open through the whole seeding, and on SQLite no checkpoint could then shrink
    # the write-ahead log (measured: 6.6 GB of WAL a third of the way through).
    token_id, result.token = write(new_token)
    services, first_id = run_read(engine, lambda cursor: (cursor.execute(SERVICE_IDS).fetchall(),
                                                          cursor.execute(NEXT_INCIDENT_ID).fetchone()[0]))
    result.services = len(services)
    writer = _Writer(engine, progress)
    spare = calls - 2 * incidents  # calls beyond an opening and a resolving one per incident
    pager = run_read(engine, lambda cursor: demo_people.Pager(cursor, start, now))

    def call_row(at: float, sid: int, name: str, status: int, digest: str | None, size: int, outcome) -> dict:
        return {"id": new_call_id(at), "received_at": clock.to_db(at), "token_id": token_id, "token_name": "demo",
                "source": "prometheus", "content_type": "application/json", "size": size, "payload_digest": digest,
                "status": status, "results": json.dumps(dump_all([outcome])), "services": f",{sid},", "error": None,
                "replay_of": None}

    for n in range(incidents):
        sid, name = services[rng.randrange(len(services))]
        incident_id = first_id + n
        opened = start + (days * DAY - 3600) * (n / incidents) + rng.random() * 60
        key = f"{{}}:{{alertname=\"{name}-{incident_id}\"}}"
        summary = f"{rng.choice(('HighCPU', 'DiskFull', 'Latency', 'ErrorRate', 'Down'))} on {name} #{n}"
        size = _size(rng)
        text = _alert(name, key, "firing", summary, size, 0)
        digest = writer.payload(text)
        trigger = TriggerHit(0, None, key)
        open_call = call_row(opened, sid, name, 201, digest, len(text),
                             ServiceOutcome(name, sid, 201, trigger=trigger, incident=incident_id, created=True))
        writer.call(open_call)
        writer.rows["events"].append({"incident_id": incident_id, "at": clock.to_db(opened), "kind": RULES[Action.OPEN].event,
                                      "api_call_id": open_call["id"], "user_id": None, "actor": None, "note": None, "note_words": None})
        # Repeats and replays: a share of the spare calls, more for some incidents than others.
        extra = min(spare, int(rng.expovariate(1.0) * REPEAT_SHARE * (calls - 2 * incidents) / incidents))
        spare -= extra
        repeats, last, first_repeat, replays = 0, opened, None, 0
        for i in range(extra):
            at = opened + 30 * (i + 1) + rng.random()
            if i % 2 and repeats:  # the same payload again: a replay (S27)
                writer.call(call_row(at, sid, name, 208, digest, len(text),
                                     ServiceOutcome(name, sid, 208, trigger=trigger, replay=True)))
                replays += 1
            else:
                text = _alert(name, key, "firing", summary, size, i + 1)
                digest = writer.payload(text)
                writer.call(call_row(at, sid, name, 208, digest, len(text),
                                     ServiceOutcome(name, sid, 208, trigger=trigger, incident=incident_id)))
                repeats += 1
                first_repeat = first_repeat or at
            last = at
        roll = rng.random()
        status = RESOLVED if roll < 0.9 else ACKNOWLEDGED if roll < 0.96 else TRIGGERED
        if opened > now - 6 * 3600 and roll < 0.95:  # the latest hours: mostly still open
            status = TRIGGERED
        acknowledged_at = resolved_at = None
        version = 1 + repeats
        low = people_rng.random() < 0.3  # the catch-all rule held: low urgency, nobody paged
        ack_event = None
        if status in (ACKNOWLEDGED, RESOLVED) and rng.random() < 0.5:
            acknowledged_at = last + 60
            ack_event = {"incident_id": incident_id, "at": clock.to_db(acknowledged_at),
                         "kind": RULES[Action.ACKNOWLEDGE].event, "api_call_id": None, "user_id": None,
                         "actor": "oncall@example.com", "note": None, "note_words": None}
            writer.rows["events"].append(ack_event)
            version += 1
        closing = None
        if status == RESOLVED:
            resolved_at = last + 120 + rng.random() * 3600
            closing = _alert(name, key, "resolved", summary, 300, 0)
            done_digest = writer.payload(closing)
            resolve_call = call_row(resolved_at, sid, name, 200, done_digest, len(closing), ServiceOutcome(
                name, sid, 200, resolves=(ResolveHit(0, None, key),), resolved_incidents=(incident_id,)))
            writer.call(resolve_call)
            writer.rows["events"].append({"incident_id": incident_id, "at": clock.to_db(resolved_at),
                                          "kind": RULES[Action.RESOLVE].event, "api_call_id": resolve_call["id"], "user_id": None,
                                          "actor": None, "note": None, "note_words": None})
            version += 1
        else:  # a call that matched no rule takes the place of the resolving one
            at = last + 90
            miss = Miss("trigger", 0, 0, "status", Say('value does not contain "%(item)s"', item="firing"))
            noise = '{"status":"pending","groupKey":"%s"}' % key
            writer.call(call_row(at, sid, name, 202, writer.payload(noise), len(noise),
                                 ServiceOutcome(name, sid, 202, misses=(miss,))))
        if not low:
            paged, pages = pager.pages(incident_id, opened, acknowledged_at, resolved_at)
            writer.rows["pages"].extend(pages)
            if ack_event is not None and paged is not None:  # the person paged acknowledged it
                ack_event["user_id"], ack_event["actor"] = paged, pager.emails[paged]
        writer.rows["incidents"].append({
            "id": incident_id, "service_id": sid, "title": summary, "payload_digest": open_call["payload_digest"],
            "rule_id": pager.rule(sid, low), "urgency": "low" if low else "high", "status": status,
            "mapping_value": key, "mapping_key": mapping_key(key),
            "duplicate_count": repeats, "first_repeat_at": clock.to_db(first_repeat) if first_repeat else None,
            "version": version, "created_by_call": open_call["id"], "created_at": clock.to_db(opened),
            "last_seen_at": clock.to_db(last), "acknowledged_at": clock.to_db(acknowledged_at),
            "resolved_at": clock.to_db(resolved_at)})
        if last > now - 3 * 3600:  # S27 markers of the recent subjects
            writer.rows["markers"].append({"sid": sid, "subject": mapping_key(key),
                                           "hash": hashlib.sha256((closing or text).encode()).hexdigest(),
                                           "at": clock.to_db(resolved_at or last)})
        writer.changes += version
        writer.maybe_flush()
    # Whatever is left: calls that matched no rule, spread over the whole period.
    while writer.calls < calls:
        at = start + rng.random() * days * DAY
        sid, name = services[rng.randrange(len(services))]
        noise = '{"status":"pending","check":"%s-%d"}' % (name, rng.randrange(5000))
        writer.call(call_row(at, sid, name, 202, writer.payload(noise), len(noise), ServiceOutcome(
            name, sid, 202, misses=(Miss("trigger", 0, 0, "status", Say('value does not contain "%(item)s"', item="firing")),))))
        writer.maybe_flush()
    writer.flush()
    if engine.dialect.name == "postgresql":
        run_write(engine, lambda cursor: cursor.execute(ADVANCE_SEQUENCE))
    result.incidents, result.calls, result.payloads = incidents, writer.calls, writer.payloads
    return result
