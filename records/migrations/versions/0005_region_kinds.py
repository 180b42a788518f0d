"""Outputs remember what each of their regions covers (face, text, code, or drawn by hand), in the order of
`regions`; outputs made before are left without (None: not recorded), since only a new run could tell.

Revision ID: 0005
Revises: 0004
Create Date: 2026-02-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outputs", sa.Column("region_kinds", sa.JSON()))


def downgrade() -> None:
    op.drop_column("outputs", "region_kinds")
