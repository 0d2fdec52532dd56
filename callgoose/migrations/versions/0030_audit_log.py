"""The audit log (issue 19, item 5): hash-chained entries, and the chain's head row.

Revision ID: 0030
Revises: 0029
"""
import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade():
    op.create_table(
        'audit_entries',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor_kind', sa.String(length=16), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sa.String(length=254), nullable=True),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('subject_kind', sa.String(length=32), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=True),
        sa.Column('subject_name', sa.String(length=254), nullable=True),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=True),
        sa.Column('reverts', sa.Integer(), nullable=True),
        sa.Column('previous_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_entries_at', 'audit_entries', ['at'])
    op.create_index('ix_audit_entries_subject', 'audit_entries', ['subject_kind', 'subject_id'])
    head = op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('first_id', sa.Integer(), nullable=False),
        sa.Column('anchor_hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": GENESIS, "first_id": 1, "anchor_hash": GENESIS}])


def downgrade():
    op.drop_table('audit_head')
    op.drop_index('ix_audit_entries_subject', table_name='audit_entries')
    op.drop_index('ix_audit_entries_at', table_name='audit_entries')
    op.drop_table('audit_entries')
