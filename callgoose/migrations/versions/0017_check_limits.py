"""Checking contact methods (issue 11): rate limits of codes and tests, a code's attempts,
and the provider ids of callbacks that acted (each acts once).

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rate_limits',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('tat', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limits'))
    )
    op.create_table('used_callbacks',
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('provider_id', name=op.f('pk_used_callbacks'))
    )
    with op.batch_alter_table('contact_methods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verify_attempts', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('contact_methods', schema=None) as batch_op:
        batch_op.drop_column('verify_attempts')
    op.drop_table('used_callbacks')
    op.drop_table('rate_limits')
