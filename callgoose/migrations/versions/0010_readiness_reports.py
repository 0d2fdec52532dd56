"""The readiness check's last result (issue 9): the front page reads it instead of checking again.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('readiness_reports',
                    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('inputs', sa.String(length=64), nullable=False),
                    sa.Column('computed_at', sa.DateTime(), nullable=False),
                    sa.Column('findings', sa.JSON(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_readiness_reports')))


def downgrade():
    op.drop_table('readiness_reports')
