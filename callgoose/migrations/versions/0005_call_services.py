"""Indexes for the API log's filters: by status and token on api_calls, and a table of calls by service.

Revision ID: 0005
Revises: 0004

Filled from ``api_calls.services`` (",1,3,") in batches, so a big log upgrades without
holding everything in memory.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
BATCH = 5000


def upgrade():
    op.create_index("ix_api_calls_status_received", "api_calls", ["status", "received_at"])
    op.create_index("ix_api_calls_token_received", "api_calls", ["token_id", "received_at"])
    table = op.create_table(
        "api_call_services",
        sa.Column("service_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("service_id", "received_at", "call_id", name="pk_api_call_services"),
    )
    calls = sa.table("api_calls", sa.column("id"), sa.column("received_at", sa.DateTime()), sa.column("services"))
    bind = op.get_bind()
    last = ""
    while True:
        rows = bind.execute(sa.select(calls.c.id, calls.c.received_at, calls.c.services)
                            .where(calls.c.id > last).order_by(calls.c.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1][0]
        links = [{"service_id": int(sid), "received_at": at, "call_id": call_id}
                 for call_id, at, services in rows for sid in dict.fromkeys((services or "").split(","))
                 if sid.isdigit()]
        if links:
            op.bulk_insert(table, links)


def downgrade():
    op.drop_table("api_call_services")
    op.drop_index("ix_api_calls_token_received", "api_calls")
    op.drop_index("ix_api_calls_status_received", "api_calls")
