"""Languages (issue 21): codes as BCP 47 (the Portuguese catalogue is Brazil's, so "pt" is
"pt-BR"), and timeline notes stored as a message id with values (incident_events.note_words,
engine.notes) beside their English text. Notes written before are read once, here, into ids
and values; the dashboard no longer parses English.

Revision ID: 0036
Revises: 0035
"""

import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

# How notes read until this revision (frozen here: engine.notes words them from now on).
_LEVEL = r"level (\d+)(?:, repeat (\d+))?: (\d+) notification\(s\) queued"
_FORMER = (
    (re.compile(r"^nobody on call in (.+)$", re.S), lambda m: ("nobody_on_call", {"schedule": m[1]})),
    (re.compile(r"^level (\d+) has no targets$"), lambda m: ("no_targets", {"num": int(m[1])})),
    (re.compile(r"^(.+) \(level (\d+)\) has no verified contact method for (\w+) urgency$", re.S),
     lambda m: ("no_method", {"name": m[1], "num": int(m[2]), "urgency": m[3]})),
    (re.compile(r"^escalation finished, nobody acknowledged$"), lambda m: ("exhausted", {})),
    (re.compile(r"^escalation requested now$"), lambda m: ("escalation_requested", {})),
    (re.compile("^paging again from " + _LEVEL + "$"),
     lambda m: ("paging_again", {"num": int(m[1]), "repeat": int(m[2] or 0), "sent": int(m[3])})),
    (re.compile("^escalated to " + _LEVEL + "$"),
     lambda m: ("escalated", {"num": int(m[1]), "repeat": int(m[2] or 0), "sent": int(m[3])})),
    (re.compile(r"^until (\d{4}-\d\d-\d\dT[\d:.]+Z)$"), lambda m: ("snoozed_until", {"time": m[1]})),
    (re.compile(r"^(acknowledge|resolve) target of (\d+) min missed(; the next level is paged now|"
                r"; the policy is paged again from level 1)?$"),
     lambda m: ("target_missed", {"target": m[1], "num": int(m[2]),
                                  "acted": None if not m[3] else "next_level" if "next" in m[3] else "repage"})),
    (re.compile(r"^service (.+) deleted$", re.S), lambda m: ("service_deleted", {"name": m[1]})),
    (re.compile(r"^from (\w+) to (\w+): (\d+) notification\(s\) queued$"),
     lambda m: ("urgency_changed", {"old": m[1], "new": m[2], "sent": int(m[3])})),
    (re.compile(r"^from (\w+) to (\w+)$"), lambda m: ("urgency_changed", {"old": m[1], "new": m[2], "sent": None})),
    (re.compile(r"^the drill ended: acknowledged$"), lambda m: ("drill_acknowledged", {})),
    (re.compile(r"^the drill's time is up$"), lambda m: ("drill_time_up", {})),
    (re.compile(r"^the drill was deleted$"), lambda m: ("drill_deleted", {})),
    (re.compile(r"^(.+)'s (.+?) was not answered \(([^()]*)\)(: next method now)?$", re.S),
     lambda m: ("not_answered", {"name": m[1], "channel": _CHANNELS.get(m[2], m[2].lower().replace(" ", "")), "method": m[2],
                                 "reason": m[3], "moved": bool(m[4])})),
)
_CHANNELS = {"phone call": "voice", "SMS": "sms", "email": "email", "mail": "email"}


def _words(kind, note):
    if kind == "comment" and note != "escalation requested now":
        return None  # a person's own words
    for pattern, read in _FORMER:
        found = pattern.match(note)
        if found:
            key, values = read(found)
            return json.dumps({"id": key, "values": values}, sort_keys=True)
    return None


def upgrade():
    op.execute(sa.text("UPDATE users SET language = 'pt-BR' WHERE language = 'pt'"))
    with op.batch_alter_table("incident_events") as batch:
        batch.add_column(sa.Column("note_words", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, kind, note FROM incident_events WHERE note IS NOT NULL")).fetchall()
    found = [{"id": row[0], "words": _words(row[1], row[2])} for row in rows]
    found = [row for row in found if row["words"] is not None]
    if found:
        connection.execute(sa.text("UPDATE incident_events SET note_words = :words WHERE id = :id"), found)


def downgrade():
    with op.batch_alter_table("incident_events") as batch:
        batch.drop_column("note_words")
    op.execute(sa.text("UPDATE users SET language = 'pt' WHERE language = 'pt-BR'"))
