"""Consents signed in Veil: the model form's version and text hash on each consent, and the installation's
own signing certificate (its key encrypted) on the installation row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consents", sa.Column("form_version", sa.String(32)))
    op.add_column("consents", sa.Column("form_sha256", sa.String(64)))
    op.add_column("installation", sa.Column("signing_cert", sa.LargeBinary()))
    op.add_column("installation", sa.Column("signing_key_enc", sa.LargeBinary()))


def downgrade() -> None:
    with op.batch_alter_table("installation") as batch:
        batch.drop_column("signing_key_enc")
        batch.drop_column("signing_cert")
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("form_sha256")
        batch.drop_column("form_version")
