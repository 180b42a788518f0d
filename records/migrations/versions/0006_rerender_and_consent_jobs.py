"""Re-renders after review and consent reading become jobs.

A re-render job names the output it replaces (`replaces_id`) and holds the reviewer's region edits
(`regions`: {"added": [...], "removed": [...]}, pixel boxes, no PHI). A consent job names a consent reading
(`reading_id`: the uploaded PDF's blob and its patient, encrypted, kept only until the job ends) and, once
read, the consent it registered (`consent_id`). The kinds 'rerender' and 'consent'.

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

ID = sa.String(32)
OLD_KINDS = "kind IN ('deid', 'housekeeping')"
NEW_KINDS = "kind IN ('deid', 'housekeeping', 'rerender', 'consent')"


def upgrade() -> None:
    op.create_table(
        "consent_readings",
        sa.Column("id", ID, primary_key=True),
        sa.Column("pdf_blob", sa.String(64), nullable=False),
        sa.Column("patient_name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("patient_ref_enc", sa.LargeBinary(), nullable=False),
        sa.Column("signed_in_veil", sa.JSON()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("replaces_id", ID, sa.ForeignKey("outputs.id", name="fk_jobs_replaces_id")))
        batch.add_column(sa.Column("regions", sa.JSON()))
        batch.add_column(sa.Column("reading_id", ID, sa.ForeignKey("consent_readings.id",
                                                                   name="fk_jobs_reading_id")))
        batch.add_column(sa.Column("consent_id", ID, sa.ForeignKey("consents.id", name="fk_jobs_consent_id")))
        batch.drop_constraint("ck_jobs_kind", type_="check")
        batch.create_check_constraint("ck_jobs_kind", NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind IN ('rerender', 'consent')")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("ck_jobs_kind", type_="check")
        batch.create_check_constraint("ck_jobs_kind", OLD_KINDS)
        for column in ("consent_id", "reading_id", "replaces_id"):
            batch.drop_constraint(f"fk_jobs_{column}", type_="foreignkey")
            batch.drop_column(column)
        batch.drop_column("regions")
    op.drop_table("consent_readings")
