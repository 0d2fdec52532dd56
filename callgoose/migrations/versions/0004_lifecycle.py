"""One change path: repeats are counted, not timeline rows; a version per incident and a
change counter for polling.

Revision ID: 0004
Revises: 0003

Each "duplicate" timeline row of an older database becomes part of its incident's count
(``duplicate_count`` already counted them): the earliest one's time is kept as
``first_repeat_at``, so the timeline can say "N repeats between t1 and t2".

The two unique constraints release 0.1 made without a name get the names of the models'
naming convention, so later revisions can alter them by name on both databases.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


RENAMED = (("users", "email"), ("api_tokens", "digest"))


def _name_unique_constraints(bind):
    for table, column in RENAMED:
        name = f"uq_{table}_{column}"
        if bind.dialect.name == "sqlite":  # unnamed: the batch copy reflects it under its new name
            with op.batch_alter_table(table, naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"},
                                      recreate="always") as batch:
                batch.drop_constraint(name, type_="unique")
                batch.create_unique_constraint(name, [column])
        else:
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {table}_{column}_key TO {name}")


def upgrade():
    _name_unique_constraints(op.get_bind())
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("first_repeat_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.execute("UPDATE incidents SET first_repeat_at = (SELECT min(e.at) FROM incident_events e "
               "WHERE e.incident_id = incidents.id AND e.kind = 'duplicate') "
               "WHERE duplicate_count > 0")
    op.execute("DELETE FROM incident_events WHERE kind = 'duplicate'")
    op.create_index("ix_incident_events_at", "incident_events", ["at"])
    op.create_index("ix_incidents_created", "incidents", ["created_at", "id"])
    op.create_table(
        "change_counters",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("shard", name="pk_change_counters"),
    )


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for table, column in RENAMED:
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT uq_{table}_{column} TO {table}_{column}_key")
    op.drop_table("change_counters")
    op.drop_index("ix_incidents_created", "incidents")
    op.drop_index("ix_incident_events_at", "incident_events")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("version")
        batch.drop_column("first_repeat_at")
