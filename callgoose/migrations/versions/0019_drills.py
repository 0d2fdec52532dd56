"""Fire drills (issue 17, item 6): drills on a recurrence, and each run with its incident and report.

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('drills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('at_time', sa.String(length=5), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('next_at', sa.DateTime(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_drills_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name=op.f('fk_drills_schedule_id_schedules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_drills_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drills'))
    )
    with op.batch_alter_table('drills', schema=None) as batch_op:
        batch_op.create_index('ix_drills_due', ['enabled', 'next_at'], unique=False)
    op.create_table('drill_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drill_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('deadline_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['drill_id'], ['drills.id'], name=op.f('fk_drill_runs_drill_id_drills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_drill_runs_incident_id_incidents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drill_runs'))
    )
    with op.batch_alter_table('drill_runs', schema=None) as batch_op:
        batch_op.create_index('ix_drill_runs_drill', ['drill_id', 'started_at'], unique=False)
        batch_op.create_index('ix_drill_runs_open', ['finished_at', 'deadline_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_drill_runs_incident_id'), ['incident_id'], unique=False)


def downgrade():
    with op.batch_alter_table('drill_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drill_runs_incident_id'))
        batch_op.drop_index('ix_drill_runs_open')
        batch_op.drop_index('ix_drill_runs_drill')
    op.drop_table('drill_runs')
    with op.batch_alter_table('drills', schema=None) as batch_op:
        batch_op.drop_index('ix_drills_due')
    op.drop_table('drills')
