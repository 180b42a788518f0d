"""The schema: Alembic migrations, run programmatically on start, build exactly the models' tables on
SQLite (WAL mode) and on PostgreSQL; running them again changes nothing; data survives a restart."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from records import services as sv
from records.models import Base, current_revision
from records_fixtures import backend, make_settings, pg_server, quick_password_hashing, records  # noqa: F401


def test_migrations_build_exactly_the_models_tables(records):
    with records.db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert current_revision(records.db.engine) == "0008"
    assert set(inspect(records.db.engine).get_table_names()) >= {
        "users", "consents", "assets", "outputs", "releases", "audit_events", "audit_head", "installation",
        "alembic_version"}


def test_running_the_migrations_again_changes_nothing(records):
    records.db.migrate()
    records.db.migrate()
    assert current_revision(records.db.engine) == "0008"


def test_an_empty_installation_opens_with_a_sealed_empty_audit_chain(records):
    result = sv.verify_audit(records, sv.SYSTEM)
    assert result.ok and result.events == 0


def test_sqlite_runs_in_wal_mode_with_foreign_keys_enforced(tmp_path):
    records = sv.open_records(make_settings(tmp_path))
    try:
        with records.db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (records.settings.data_dir / "veil.db").is_file()
    finally:
        records.close()


def test_a_row_pointing_at_a_missing_user_is_refused_by_the_database(records):
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with records.db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO assets (id, kind, format, original_sha256, original_size, filename_warnings, "
                "uploaded_by, uploaded_at, delete_original_after) VALUES ('a1', 'image', 'jpeg', :h, 1, '[]', "
                "'no-such-user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"h": "0" * 64})
