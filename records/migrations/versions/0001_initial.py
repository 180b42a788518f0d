"""Initial schema: users, consents, assets, outputs, releases, and the hash-chained audit log.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)
HASH = sa.String(64)
WHEN = sa.DateTime()   # records.models.UTCDateTime stores naive UTC in a plain DATETIME


def _user(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, ID, sa.ForeignKey("users.id"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.CheckConstraint("role IN ('staff', 'marketing', 'auditor', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "consents",
        sa.Column("id", ID, primary_key=True),
        sa.Column("pdf_sha256", HASH, nullable=False, index=True),
        sa.Column("pdf_blob", HASH),
        sa.Column("check_error", sa.Text()),
        sa.Column("text_source", sa.String(8), nullable=False),
        sa.Column("social_media", sa.String(16), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("excluded_platforms", sa.JSON(), nullable=False),
        sa.Column("identifiable", sa.String(24), nullable=False),
        sa.Column("expires", sa.Date()),
        sa.Column("has_expiry_event", sa.Boolean(), nullable=False),
        sa.Column("signed", sa.Boolean()),
        sa.Column("signature_valid", sa.Boolean()),
        sa.Column("analysis_enc", sa.LargeBinary()),
        sa.Column("patient_name_enc", sa.LargeBinary()),
        sa.Column("patient_ref_enc", sa.LargeBinary()),
        sa.Column("patient_key", sa.String(80), index=True),
        sa.Column("confirmed_social_media", sa.Boolean()),
        sa.Column("confirmed_platforms", sa.JSON()),
        sa.Column("confirmed_excluded", sa.JSON()),
        sa.Column("confirmed_identifiable", sa.String(24)),
        sa.Column("confirmed_expires", sa.Date()),
        sa.Column("signature_attested", sa.Boolean(), nullable=False),
        _user("confirmed_by"),
        sa.Column("confirmed_at", WHEN),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", WHEN),
        _user("status_changed_by"),
        sa.Column("status_note_enc", sa.LargeBinary()),
        sa.Column("superseded_by", ID, sa.ForeignKey("consents.id")),
        _user("registered_by", nullable=False),
        sa.Column("registered_at", WHEN, nullable=False),
        sa.Column("retain_until", WHEN, nullable=False),
        sa.CheckConstraint("status IN ('active', 'revoked', 'expired', 'superseded')", name="ck_consents_status"),
    )
    op.create_table(
        "assets",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("original_sha256", HASH, nullable=False, index=True),
        sa.Column("original_blob", HASH),
        sa.Column("original_size", sa.Integer(), nullable=False),
        sa.Column("original_name_enc", sa.LargeBinary()),
        sa.Column("filename_warnings", sa.JSON(), nullable=False),
        _user("uploaded_by", nullable=False),
        sa.Column("uploaded_at", WHEN, nullable=False),
        sa.Column("delete_original_after", WHEN, nullable=False),
        sa.Column("original_deleted_at", WHEN),
        sa.Column("consent_id", ID, sa.ForeignKey("consents.id"), index=True),
        _user("patient_confirmed_by"),
        sa.Column("patient_confirmed_at", WHEN),
    )
    op.create_table(
        "outputs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("asset_id", ID, sa.ForeignKey("assets.id"), nullable=False, index=True),
        sa.Column("parent_id", ID, sa.ForeignKey("outputs.id")),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64)),
        sa.Column("sha256", HASH, index=True),
        sa.Column("blob", HASH),
        sa.Column("size", sa.Integer()),
        sa.Column("phash", sa.String(32)),
        sa.Column("frame_hashes", sa.JSON()),
        sa.Column("profile_id", sa.String(64)),
        sa.Column("profile_sha256", HASH),
        sa.Column("keeps_faces", sa.Boolean(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("regions_added", sa.JSON(), nullable=False),
        sa.Column("regions_removed", sa.JSON(), nullable=False),
        sa.Column("frames", sa.Integer()),
        sa.Column("frames_with_regions", sa.Integer()),
        sa.Column("removed_tags", sa.JSON(), nullable=False),
        sa.Column("metadata_clean", sa.Boolean(), nullable=False),
        sa.Column("faces_left", sa.Integer()),
        sa.Column("error", sa.Text()),
        _user("created_by", nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        _user("reviewed_by"),
        sa.Column("reviewed_at", WHEN),
    )
    op.create_table(
        "releases",
        sa.Column("id", ID, primary_key=True),
        sa.Column("output_id", ID, sa.ForeignKey("outputs.id"), nullable=False, index=True),
        sa.Column("consent_id", ID, sa.ForeignKey("consents.id"), index=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _user("requested_by", nullable=False),
        sa.Column("requested_at", WHEN, nullable=False),
        _user("decided_by"),
        sa.Column("decided_at", WHEN),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("post_url", sa.Text()),
        sa.Column("takedown", sa.String(8)),
        sa.Column("takedown_at", WHEN),
        _user("takedown_by"),
        sa.CheckConstraint("status IN ('requested', 'released', 'refused', 'withdrawn')", name="ck_releases_status"),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("actor_id", ID),
        sa.Column("action", sa.String(48), nullable=False, index=True),
        sa.Column("subject_kind", sa.String(16)),
        sa.Column("subject_id", sa.String(64), index=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", HASH, nullable=False),
        sa.Column("hash", HASH, nullable=False),
        sa.Column("seal", sa.String(128), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", HASH, nullable=False),
        sa.Column("seal", sa.String(128), nullable=False),
    )
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("key_check", sa.String(128), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    _append_only("audit_events")


def _append_only(table: str) -> None:
    """The database itself refuses to change or remove audit events (the hash chain still catches anyone
    who drops these triggers first)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION veil_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$")
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION veil_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS veil_append_only()")
    for table in ("installation", "audit_head", "audit_events", "releases", "outputs", "assets", "consents", "users"):
        op.drop_table(table)
