"""Consents remember what identifies their document beyond its bytes, when it was signed, and whether it
follows a revocation of the same patient's consent that a person must look past.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Plain columns, no foreign keys: SQLite cannot add a constraint to a table that exists, and rebuilding the
# consents table (which other tables reference) to add one is not worth the risk for ids the services set.
COLUMNS = (
    sa.Column("text_key", sa.String(80)),             # keyed hash of the normalised text
    sa.Column("signed_on", sa.Date()),
    sa.Column("after_revocation_of", sa.String(32)),  # the patient's revoked consent this one must follow
    sa.Column("new_authorization_by", sa.String(32)),
    sa.Column("new_authorization_at", sa.DateTime()),
)


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("consents", column)
    op.create_index("ix_consents_text_key", "consents", ["text_key"])


def downgrade() -> None:
    op.drop_index("ix_consents_text_key", "consents")
    for column in reversed(COLUMNS):
        op.drop_column("consents", column.name)
