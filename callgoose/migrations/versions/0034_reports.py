"""Pay rates for the hours-on-call report (issue 20, item 4): ``pay_rates``, an hourly rate (and
a holiday rate) per person, per schedule, or per person on one schedule.

Revision ID: 0034
Revises: 0033
"""
import sqlalchemy as sa
from alembic import op

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pay_rates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('schedule_id', sa.Integer(), nullable=True),
        sa.Column('rate', sa.Float(), nullable=False),
        sa.Column('holiday_rate', sa.Float(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_pay_rates_user_id_users', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name='fk_pay_rates_schedule_id_schedules',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_pay_rates'),
    )
    op.create_index('uq_pay_rates_subject', 'pay_rates', ['user_id', 'schedule_id'], unique=True)


def downgrade():
    op.drop_index('uq_pay_rates_subject', table_name='pay_rates')
    op.drop_table('pay_rates')
