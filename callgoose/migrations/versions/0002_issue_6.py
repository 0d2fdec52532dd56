"""Issue 6: payloads stored once, sessions as rows, services that can be deleted.

- ``payloads(digest, text)``; ``api_calls.payload`` becomes ``payload_digest`` (the text moves,
  one copy per distinct text); incidents point at the payload that opened them, and a
  description equal to that payload (S22's default) is kept only there.
- ``user_sessions``: sessions and remember-me cookies of the previous release stop working
  (their id has no session part), so everyone signs in once more.
- ``services.deleted_at``; a service's name is unique among live services only.

Revision ID: 0002
Revises: 0001
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE_SERVICE_SQL = "deleted_at IS NULL"
BATCH = 2000
# SQLite's UNIQUE (name) has no name: batch mode names the reflected constraints by this.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _move_call_payloads(bind):
    calls = sa.table("api_calls", sa.column("id"), sa.column("payload"), sa.column("payload_digest"))
    payloads = sa.table("payloads", sa.column("digest"), sa.column("text"))
    last = ""
    while True:
        rows = bind.execute(sa.select(calls.c.id, calls.c.payload).where(calls.c.id > last)
                            .order_by(calls.c.id).limit(BATCH)).all()
        if not rows:
            return
        digests, updates = {}, []
        for call_id, text in rows:
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None
            if digest:
                digests[digest] = text
            updates.append({"call_id": call_id, "digest": digest})
        existing = {d for (d,) in bind.execute(sa.select(payloads.c.digest).where(
            payloads.c.digest.in_(list(digests))))} if digests else set()
        new = [{"digest": d, "text": t} for d, t in digests.items() if d not in existing]
        if new:
            bind.execute(payloads.insert(), new)
        bind.execute(calls.update().where(calls.c.id == sa.bindparam("call_id"))
                     .values(payload_digest=sa.bindparam("digest")), updates)
        last = rows[-1][0]


def upgrade():
    bind = op.get_bind()
    op.create_table(
        "payloads",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("api_calls") as batch:
        batch.add_column(sa.Column("payload_digest", sa.String(64), nullable=True))
    _move_call_payloads(bind)
    with op.batch_alter_table("api_calls") as batch:
        batch.drop_column("payload")
        batch.create_foreign_key("fk_api_calls_payload_digest_payloads", "payloads", ["payload_digest"], ["digest"])
        batch.create_index("ix_api_calls_payload_digest", ["payload_digest"])

    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("payload_digest", sa.String(64), nullable=True))
        batch.alter_column("description", existing_type=sa.Text(), nullable=True)
        batch.create_foreign_key("fk_incidents_payload_digest_payloads", "payloads", ["payload_digest"], ["digest"])
        batch.create_index("ix_incidents_payload_digest", ["payload_digest"])
    # The payload that opened each incident, while its call is still kept; S22's default
    # description (the whole payload) is then read from that one copy.
    op.execute("UPDATE incidents SET payload_digest = (SELECT c.payload_digest FROM api_calls c "
               "WHERE c.id = incidents.created_by_call) WHERE created_by_call IS NOT NULL")
    op.execute("UPDATE incidents SET description = NULL WHERE payload_digest IS NOT NULL AND "
               "description = (SELECT p.text FROM payloads p WHERE p.digest = incidents.payload_digest)")

    with op.batch_alter_table("services", naming_convention=NAMING) as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
        batch.drop_constraint("uq_services_name" if bind.dialect.name == "sqlite" else "services_name_key",
                              type_="unique")
    op.create_index("uq_services_live_name", "services", ["name"], unique=True,
                    sqlite_where=sa.text(LIVE_SERVICE_SQL), postgresql_where=sa.text(LIVE_SERVICE_SQL))

    op.create_table(
        "user_sessions",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])


def downgrade():
    raise NotImplementedError("restore the backup taken before the upgrade (docs: Upgrading)")
