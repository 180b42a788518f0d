"""The multi-clinic path on a real PostgreSQL server (Debian's postgresql 15), started by the fixtures on
loopback under an unprivileged user: concurrent starts migrate once, and the database refuses to change
audit events. (The registry, journey, user, schema and concurrent audit-writer tests run here too,
parametrized over both backends.)"""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import text

from conftest import ROOT
from records import audit
from records import services as sv
from records.models import Database, current_revision
from records_fixtures import add_people, make_settings, pg_server, quick_password_hashing  # noqa: F401


@pytest.fixture
def pg_records(pg_server, tmp_path):
    records = sv.open_records(make_settings(tmp_path, pg_server.url(pg_server.new_database())))
    yield records
    records.close()


def test_the_server_runs_on_loopback_as_an_unprivileged_user(pg_server, pg_records):
    pid = int((pg_server.root / "cluster" / "postmaster.pid").read_text().split()[0])
    uid = int(next(line for line in open(f"/proc/{pid}/status") if line.startswith("Uid:")).split()[1])
    assert uid != 0
    with pg_records.db.engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW listen_addresses").scalar() == "127.0.0.1"
        assert connection.exec_driver_sql("SELECT version()").scalar().startswith("PostgreSQL 15")


def test_two_instances_starting_together_migrate_the_database_once(pg_server):
    url = pg_server.url(pg_server.new_database())
    script = "import sys; from records.models import Database; Database(sys.argv[1]).migrate()"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    starts = [subprocess.Popen([sys.executable, "-c", script, url], env=env, stderr=subprocess.PIPE, text=True)
              for _ in range(3)]
    results = [(p.wait(), p.stderr.read()) for p in starts]
    assert [code for code, _ in results] == [0, 0, 0], results
    # and threads of one process (Streamlit sessions) starting together
    databases = [Database(url) for _ in range(3)]
    errors = []

    def start(db):
        try:
            db.migrate()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in databases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert current_revision(databases[0].engine) == "0008"
        with databases[0].engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        for db in databases:
            db.dispose()


def test_postgresql_refuses_to_change_or_delete_audit_events_and_verify_catches_who_forces_it(pg_records):
    people = add_people(pg_records)
    for statement in ("UPDATE audit_events SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_events WHERE seq = 2"):
        with pytest.raises(Exception, match="append-only"):
            with pg_records.db.engine.begin() as connection:
                connection.execute(text(statement))
    with pg_records.db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        connection.execute(text("UPDATE audit_events SET details = '{}' WHERE seq = 3"))
    result = sv.verify_audit(pg_records, people.auditor)
    assert not result.ok and result.broken_at == 3


def test_the_key_check_and_chain_head_live_in_the_database_not_the_data_folder(pg_records, tmp_path):
    settings = pg_records.settings
    assert not (settings.data_dir / "veil.db").exists()
    with pg_records.transaction() as session:
        assert audit.verify(session, pg_records.keys).ok
    # the same database opened from another machine's data folder with the same key works
    other = sv.open_records(make_settings(tmp_path / "second-workstation", settings.database_url)
                            .with_(key_file=settings.key_file))
    other.close()
    assert os.path.exists(settings.key_file)
