"""API tokens with scope (issue 19, item 6): ``api_tokens.scope`` is ingest, read or write.

Every existing token becomes an ingestion token, which keeps all it could do (send alerts and use
the whole JSON API).

Revision ID: 0031
Revises: 0030
"""
import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=16), server_default='ingest', nullable=False))


def downgrade():
    # The old schema knows only tokens that do everything: an API token would gain the right to
    # send alerts, so API tokens are revoked rather than widened.
    op.execute("UPDATE api_tokens SET revoked_at = created_at WHERE scope <> 'ingest' AND revoked_at IS NULL")
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('scope')
