"""Jobs: work done by worker processes (de-identification, housekeeping), one row each.

Revision ID: 0004
Revises: 0003
Create Date: 2026-02-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(32)
WHEN = sa.DateTime()


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner_id", ID, sa.ForeignKey("users.id")),
        sa.Column("asset_id", ID, sa.ForeignKey("assets.id"), index=True),
        sa.Column("profile", sa.String(64)),
        sa.Column("output_id", ID, sa.ForeignKey("outputs.id")),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(80)),
        sa.Column("error", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("worker", sa.String(80)),
        sa.Column("created_at", WHEN, nullable=False, index=True),
        sa.Column("started_at", WHEN),
        sa.Column("heartbeat_at", WHEN),
        sa.Column("finished_at", WHEN),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed', 'cancelled')", name="ck_jobs_state"),
        sa.CheckConstraint("kind IN ('deid', 'housekeeping')", name="ck_jobs_kind"),
    )


def downgrade() -> None:
    op.drop_table("jobs")
