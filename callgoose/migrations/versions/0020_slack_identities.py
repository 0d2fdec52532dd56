"""Slack buttons (issue 17): the Slack accounts linked to Callgoose users, so that a press
acts as whoever pressed it.

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('slack_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=64), nullable=False),
    sa.Column('slack_user_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('linked_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_slack_identities_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slack_identities'))
    )
    with op.batch_alter_table('slack_identities', schema=None) as batch_op:
        batch_op.create_index('uq_slack_identities_team_user', ['team_id', 'slack_user_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_slack_identities_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('slack_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slack_identities_user_id'))
        batch_op.drop_index('uq_slack_identities_team_user')
    op.drop_table('slack_identities')
