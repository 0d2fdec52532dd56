"""Priorities P1-P5 (issue 20): ``priorities`` (what an admin changed from the defaults),
``incidents.priority`` with ``acknowledge_missed_at`` and ``resolve_missed_at`` (response
targets found missed, once each), and a trigger rule's ``priority``, ``priority_from`` and ``priority_map``.

Incidents opened before keep no priority (null); rules give one from their urgency.

Revision ID: 0032
Revises: 0031
"""
import sqlalchemy as sa
from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'priorities',
        sa.Column('priority', sa.String(length=2), nullable=False),
        sa.Column('label', sa.String(length=40), nullable=False),
        sa.Column('colour', sa.String(length=7), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=False),
        sa.Column('urgency', sa.String(length=8), nullable=False),
        sa.Column('acknowledge_minutes', sa.Integer(), nullable=True),
        sa.Column('resolve_minutes', sa.Integer(), nullable=True),
        sa.Column('on_missed_target', sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint('priority', name=op.f('pk_priorities')),
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('acknowledge_missed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('resolve_missed_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('priority_from', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('priority_map', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_column('priority_map')
        batch_op.drop_column('priority_from')
        batch_op.drop_column('priority')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('resolve_missed_at')
        batch_op.drop_column('acknowledge_missed_at')
        batch_op.drop_column('priority')
    op.drop_table('priorities')
