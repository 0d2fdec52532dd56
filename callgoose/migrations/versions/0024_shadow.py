"""A shadow run (issue 18): a service whose incidents open as usual and page nobody; each
incident keeps whether it opened in one.

Revision ID: 0024
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shadow', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shadow', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('shadow')
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('shadow')
