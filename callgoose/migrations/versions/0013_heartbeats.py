"""Heartbeats (issue 10): calls a service expects every N minutes, and where each stands.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('heartbeats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('every_seconds', sa.Integer(), nullable=False),
    sa.Column('grace_seconds', sa.Integer(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('last_ping_at', sa.DateTime(), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_heartbeats_incident_id_incidents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_heartbeats_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeats'))
    )
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_heartbeats_due_at'), ['due_at'], unique=False)
        batch_op.create_index('uq_heartbeats_service_name', ['service_id', 'name'], unique=True)



def downgrade():
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.drop_index('uq_heartbeats_service_name')
        batch_op.drop_index(batch_op.f('ix_heartbeats_due_at'))

    op.drop_table('heartbeats')
