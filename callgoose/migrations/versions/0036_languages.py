"""Languages as BCP 47 codes (issue 21): the Portuguese catalogue is Brazil's, so "pt" is "pt-BR".

Revision ID: 0036
Revises: 0035
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.text("UPDATE users SET language = 'pt-BR' WHERE language = 'pt'"))


def downgrade():
    op.execute(sa.text("UPDATE users SET language = 'pt' WHERE language = 'pt-BR'"))
