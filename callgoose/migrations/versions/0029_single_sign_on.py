"""Single sign-on (issue 19, item 3): the subject a user signed in as at an OpenID provider.

``sso_subject`` is the provider's issuer and the user's ``sub`` there (``<iss> <sub>``), kept
after the first sign-in matched the user by a verified email, so that a changed email at the
provider still finds the same user.

Revision ID: 0029
Revises: 0028
"""
import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sso_subject', sa.String(length=600), nullable=True))
        batch_op.create_unique_constraint('uq_users_sso_subject', ['sso_subject'])


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_sso_subject', type_='unique')
        batch_op.drop_column('sso_subject')
