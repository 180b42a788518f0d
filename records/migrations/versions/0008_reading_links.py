"""A consent reading remembers the media kept with it (Intake's "upload the consent PDF": the media are kept and
queued at once, the PDF is read by a worker), so that the worker links them to the consent it registers. Record
ids only; the row goes when the job ends.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consent_readings", sa.Column("link_assets", sa.JSON()))


def downgrade() -> None:
    op.drop_column("consent_readings", "link_assets")
