"""Email intake (issue 10): each token has an intake address; live tokens get one now.

Revision ID: 0012
Revises: 0011
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # as services.tokens.INTAKE_ALPHABET


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intake_id', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_api_tokens_intake_id'), ['intake_id'])
    conn = op.get_bind()
    tokens = sa.table('api_tokens', sa.column('id', sa.Integer), sa.column('intake_id', sa.String),
                      sa.column('revoked_at', sa.DateTime))
    for (token_id,) in conn.execute(sa.select(tokens.c.id).where(tokens.c.revoked_at.is_(None))).all():
        conn.execute(tokens.update().where(tokens.c.id == token_id)
                     .values(intake_id="".join(secrets.choice(ALPHABET) for _ in range(20))))


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_api_tokens_intake_id'), type_='unique')
        batch_op.drop_column('intake_id')
