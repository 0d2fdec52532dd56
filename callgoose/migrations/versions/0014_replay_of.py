"""Replay (issue 10): a call made by replaying a stored call names it.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replay_of', sa.String(length=36), nullable=True))


def downgrade():
    with op.batch_alter_table('api_calls', schema=None) as batch_op:
        batch_op.drop_column('replay_of')
