"""Snooze (issue 20, item 3): ``incidents.snoozed_until``, with a partial index for the snooze job.

Revision ID: 0033
Revises: 0032
"""
import sqlalchemy as sa
from alembic import op

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snoozed_until', sa.DateTime(), nullable=True))
    op.create_index('ix_incidents_snoozed_until', 'incidents', ['snoozed_until'], unique=False,
                    sqlite_where=sa.text('snoozed_until IS NOT NULL'),
                    postgresql_where=sa.text('snoozed_until IS NOT NULL'))


def downgrade():
    # A snoozed incident stays acknowledged: nobody is paged again when its time is up.
    op.drop_index('ix_incidents_snoozed_until', table_name='incidents')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('snoozed_until')
