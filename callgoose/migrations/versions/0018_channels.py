"""The channel registry (issue 17): a contact method's fields beyond its address (an access
token, a device) and channel names up to 16 characters ("mattermost").

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contact_methods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('options', sa.JSON(), nullable=True))
        batch_op.alter_column('channel', existing_type=sa.String(length=8), type_=sa.String(length=16),
                              existing_nullable=False)
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('channel', existing_type=sa.String(length=8), type_=sa.String(length=16),
                              existing_nullable=False)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('channel', existing_type=sa.String(length=16), type_=sa.String(length=8),
                              existing_nullable=False)
    with op.batch_alter_table('contact_methods', schema=None) as batch_op:
        batch_op.alter_column('channel', existing_type=sa.String(length=16), type_=sa.String(length=8),
                              existing_nullable=False)
        batch_op.drop_column('options')
