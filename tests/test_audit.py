"""The audit ledger: append-only events, each holding the hash of the previous one. Editing, deleting or
reordering one row directly in the database is detected by `verify`, which names the first broken link."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from records import audit
from records import services as sv
from records.models import AuditEvent
from conftest import ROOT
from records_fixtures import (PASSWORD, add_people, backend, make_settings, pg_server,  # noqa: F401
                              quick_password_hashing, records, sign_in_from_threads, sqlite_records)


@pytest.fixture
def chain(sqlite_records):
    """Twelve events: five users added, then seven sign-ins."""
    people = add_people(sqlite_records)
    for _ in range(7):
        sv.authenticate(sqlite_records, "sam.staff", PASSWORD)
    return sqlite_records, people


def tamper(records, *statements: str) -> None:
    """What someone with write access to the database file could do: drop the guards, change rows."""
    with records.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
        for statement in statements:
            conn.execute(text(statement))


def verdict(records):
    with records.transaction() as session:
        return audit.verify(session, records.keys)


def test_an_untouched_chain_verifies(chain):
    records, people = chain
    result = sv.verify_audit(records, people.auditor)
    assert result.ok and result.events == 12 and result.broken_at is None
    assert str(result) == "audit chain intact: 12 events"


def test_each_event_holds_the_hash_of_the_one_before(chain):
    records, _ = chain
    with records.transaction() as session:
        rows = session.query(AuditEvent).order_by(AuditEvent.seq).all()
    assert rows[0].prev_hash == audit.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:]))


def test_the_database_itself_refuses_to_change_or_delete_an_event(chain):
    records, _ = chain
    for statement in ("UPDATE audit_events SET actor = 'someone' WHERE seq = 3", "DELETE FROM audit_events WHERE seq = 3"):
        with pytest.raises(Exception, match="append-only"):
            with records.db.engine.begin() as conn:
                conn.execute(text(statement))
    assert verdict(records).ok


@pytest.mark.parametrize("statements, broken_at, reason", [
    pytest.param(["UPDATE audit_events SET details = '{\"role\":\"staff\",\"username\":\"eve\"}' WHERE seq = 5"],
                 5, "edited", id="editing one row is detected at that row"),
    pytest.param(["UPDATE audit_events SET actor = 'mia.marketing' WHERE seq = 9"], 9, "edited",
                 id="editing the actor of a row is detected"),
    pytest.param(["DELETE FROM audit_events WHERE seq = 6"], 6, "missing",
                 id="deleting a row in the middle is detected"),
    pytest.param(["DELETE FROM audit_events WHERE seq = 6", "UPDATE audit_events SET seq = seq - 1 WHERE seq > 6"],
                 6, "does not link", id="deleting a row and renumbering the rest is detected"),
    pytest.param(["DELETE FROM audit_events WHERE seq >= 11"], 11, "cut off the end",
                 id="deleting the last rows is detected by the sealed head"),
    pytest.param(["UPDATE audit_events SET seq = -1 WHERE seq = 4", "UPDATE audit_events SET seq = 4 WHERE seq = 8",
                  "UPDATE audit_events SET seq = 8 WHERE seq = -1"], 4, "does not link",
                 id="reordering two rows is detected at the first of them"),
])
def test_tampering_is_detected_at_the_first_broken_link(chain, statements, broken_at, reason):
    records, _ = chain
    tamper(records, *statements)
    result = verdict(records)
    assert not result.ok and result.broken_at == broken_at
    assert reason in result.reason
    assert f"BROKEN at event {broken_at}" in str(result)


def test_an_edit_with_recomputed_hashes_is_still_caught_by_the_seals(chain):
    """Someone who knows the hashing scheme but not the installation key rewrites the chain from row 7."""
    records, _ = chain
    tamper(records)
    with records.db.engine.begin() as conn:
        rows = conn.execute(text("SELECT seq, at, actor, actor_id, action, subject_kind, subject_id, details, "
                                 "prev_hash FROM audit_events ORDER BY seq")).all()
        previous = None
        for row in rows:
            details = '{"forged":true}' if row.seq == 7 else row.details
            prev_hash = row.prev_hash if previous is None else previous
            digest = audit.event_hash(row.seq, row.at, row.actor, row.actor_id, row.action, row.subject_kind,
                                      row.subject_id, details, prev_hash)
            conn.execute(text("UPDATE audit_events SET details = :d, prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"d": details, "p": prev_hash, "h": digest, "s": row.seq})
            previous = digest
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": previous})
    result = verdict(records)
    assert not result.ok and result.broken_at == 7
    assert "seal" in result.reason


def test_appending_goes_on_after_verification_and_the_chain_stays_whole(chain):
    records, people = chain
    sv.authenticate(records, "mia.marketing", PASSWORD)
    assert verdict(records).events == 13


def test_concurrent_writers_on_separate_connections_extend_one_linear_chain(records):
    """On SQLite and on PostgreSQL: each writer locks the chain's head before it appends."""
    people = add_people(records)
    assert sign_in_from_threads(records, "sol.staff", threads=6, times=10) == []
    result = sv.verify_audit(records, people.auditor)
    assert result.ok and result.events == 5 + 60


def test_failed_sign_ins_are_recorded_without_the_password(sqlite_records):
    people = add_people(sqlite_records)
    with pytest.raises(PermissionError):
        sv.authenticate(sqlite_records, "sam.staff", "not the password at all")
    events = sv.audit_events(sqlite_records, people.auditor, action="user.login_failed")
    assert len(events) == 1 and events[0]["details"] == {"username": "sam.staff"}


def test_the_log_is_read_a_page_at_a_time_and_whole_without_paging(chain):
    records, people = chain
    whole = sv.audit_events(records, people.auditor)
    assert [e["seq"] for e in whole] == list(range(12, 0, -1))
    pages = [sv.audit_events(records, people.auditor, limit=5, offset=start) for start in (0, 5, 10)]
    assert [[e["seq"] for e in page] for page in pages] == [[12, 11, 10, 9, 8], [7, 6, 5, 4, 3], [2, 1]]
    oldest = sv.audit_events(records, people.auditor, limit=2, offset=5, newest_first=False, action="user.login")
    assert [e["seq"] for e in oldest] == [11, 12]
    assert [e["seq"] for e in sv.audit_events(records, people.auditor, offset=9)] == [3, 2, 1]
    with pytest.raises(sv.WorkflowError, match="zero or more"):
        sv.audit_events(records, people.auditor, limit=5, offset=-1)


def test_the_log_is_filtered_by_several_actions_and_a_subject_prefix_and_counted_in_the_database(chain):
    records, people = chain
    whole = sv.audit_events(records, people.auditor)
    total, actions = sv.audit_summary(records, people.auditor)
    assert total == len(whole) and actions == sorted({e["action"] for e in whole})
    picked = actions[:2]
    matching = [e for e in whole if e["action"] in picked]
    assert sv.audit_events(records, people.auditor, actions=picked) == matching
    assert sv.audit_summary(records, people.auditor, actions=picked)[0] == len(matching)
    subject = next(e["subject_id"] for e in whole if e["subject_id"])
    prefixed = sv.audit_events(records, people.auditor, subject_prefix=subject[:6])
    assert prefixed and all(e["subject_id"].startswith(subject[:6]) for e in prefixed)
    assert sv.audit_summary(records, people.auditor, subject_prefix="%")[0] == 0   # a wildcard is a character


def test_only_auditors_and_admins_verify_the_chain(chain):
    records, people = chain
    with pytest.raises(PermissionError, match="may not verify audit"):
        sv.verify_audit(records, people.staff)


def _cli(tmp_path, *args):
    settings = make_settings(tmp_path)
    env = {**os.environ, "VEIL_DATA_DIR": str(settings.data_dir), "VEIL_KEY_FILE": str(settings.key_file),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "records", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path)


def test_cli_audit_verify_exits_0_when_intact_and_1_naming_the_broken_event(chain, tmp_path):
    records, _ = chain
    intact = _cli(tmp_path, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout
    tamper(records, "UPDATE audit_events SET action = 'user.nothing' WHERE seq = 2")
    broken = _cli(tmp_path, "audit", "verify", "--json")
    assert broken.returncode == 1
    assert '"broken_at": 2' in broken.stdout


def test_cli_names_a_key_file_that_others_can_read_instead_of_showing_a_traceback(chain, tmp_path):
    records, _ = chain
    records.settings.key_file.chmod(0o644)
    run = _cli(tmp_path, "audit", "verify")
    assert run.returncode == 1
    assert "audit: " in run.stderr and "chmod 600" in run.stderr and "Traceback" not in run.stderr
