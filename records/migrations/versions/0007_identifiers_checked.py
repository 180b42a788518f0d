"""Outputs remember which consent's patient identifiers (name words, reference) their pixels were read for,
so that the release gate can tell an output checked against the consent now linked to its media from one
rendered before that consent was linked. Outputs made before are left without (None: not known), so the gate
asks for them to be read again: fail closed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outputs", sa.Column("identifiers_consent_id", sa.String(32)))


def downgrade() -> None:
    op.drop_column("outputs", "identifiers_consent_id")
