"""Re-renders after review become jobs: a job may replace an output (`replaces_id`) with the reviewer's
region edits (`regions`: {"added": [...], "removed": [...]}, pixel boxes, no PHI); the kind 'rerender'.

Revision ID: 0006
Revises: 0005
Create Date: 2026-02-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('deid', 'housekeeping')"
NEW_KINDS = "kind IN ('deid', 'housekeeping', 'rerender')"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("replaces_id", sa.String(32), sa.ForeignKey("outputs.id",
                                                                               name="fk_jobs_replaces_id")))
        batch.add_column(sa.Column("regions", sa.JSON()))
        batch.drop_constraint("ck_jobs_kind", type_="check")
        batch.create_check_constraint("ck_jobs_kind", NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind = 'rerender'")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("ck_jobs_kind", type_="check")
        batch.create_check_constraint("ck_jobs_kind", OLD_KINDS)
        batch.drop_column("regions")
        batch.drop_constraint("fk_jobs_replaces_id", type_="foreignkey")
        batch.drop_column("replaces_id")
