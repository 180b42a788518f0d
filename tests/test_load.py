"""Several people processing at once on SQLite: staff and marketing users in several OS processes (spawned,
as separate server processes would be) and threads (as one server's sessions are) each take their own
photos from consent to release while auditors read the log, list records and look files up. Afterwards
every expected row exists exactly once and is complete, the audit chain verifies and holds exactly the
events the calls made, and no caller ever saw "database is locked" or any other error.

The scenario lives in benchmarks/load.py, which times it for several worker counts; here it runs untimed."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.load import Plan, check_records, prepare, run
from records import services as sv
from records.models import AuditEvent
from records.store import LOCK_NAME
from records_fixtures import (PASSWORD, add_people, plain_photo, processed, quick_password_hashing,  # noqa: F401
                              register, sqlite_records)


def _run(plan: Plan):
    before = prepare(plan)
    results = run(plan)
    return results, check_records(plan, results, before)


def test_parallel_processes_and_threads_lose_and_duplicate_no_record_and_never_surface_a_locked_database(tmp_path):
    plan = Plan(str(tmp_path), processes=3, threads=2, items=2)
    results, problems = _run(plan)
    errors = [e for r in results for e in r.errors]
    assert not [e for e in errors if "locked" in e.lower() or "OperationalError" in e], errors
    assert errors == []
    assert sorted(item["label"] for r in results for item in r.items) == sorted(
        f"LOAD-{p}-{t}-{i}" for p in range(3) for t in range(2) for i in range(2))
    assert problems == []
    assert all(r.events["lookup"] >= 3 for r in results)   # the readers really read while the others wrote


def test_a_photo_uploaded_again_while_its_first_copy_is_released_keeps_its_original(sqlite_records, tmp_path,
                                                                                      monkeypatch):
    """Blobs are shared by content. Releasing the first copy deletes its original once nothing references it;
    the second upload has already stored the same content but not yet committed its record. The release's
    clean-up (another person, another thread) must wait for that commit instead of deleting the file under it."""
    records = sqlite_records
    people = add_people(records)
    consent = register(records, people)
    photo = plain_photo(tmp_path / "p.jpg")
    first, output = processed(records, people, photo, consent_id=consent.id, original_name="p.jpg")
    request = sv.request_release(records, people.staff, output.id, "instagram")
    cleaning, decisions = threading.Event(), []
    real_deleting = records.store.deleting

    def deleting():
        cleaning.set()   # the release has committed and its clean-up now asks to delete
        return real_deleting()

    def release_meanwhile():
        decisions.append(sv.approve_release(records, people.marketing, request.id))

    real_put = records.store.put_file
    other = threading.Thread(target=release_meanwhile)

    def put_then_let_the_release_run(path):
        address = real_put(path)
        other.start()
        assert cleaning.wait(120), "the release never reached its clean-up"
        assert finished_or_waiting_for_a_lock(other, records.store.root / LOCK_NAME)
        return address

    monkeypatch.setattr(records.store, "deleting", deleting)
    monkeypatch.setattr(records.store, "put_file", put_then_let_the_release_run)
    second = sv.upload_media(records, people.staff, photo, "p-again.jpg", consent.id)
    other.join(120)
    monkeypatch.undo()
    assert decisions and decisions[0].allowed and not other.is_alive()
    assert second.original_sha256 == first.original_sha256
    assert records.store.exists(second.original_sha256), "the second upload's original was deleted under it"
    assert sv.process(records, people.staff, second.id).error is None
    sv.housekeeping(records, people.admin, grace_seconds=0)
    assert records.store.exists(second.original_sha256)


def test_reading_the_records_never_holds_a_writer_up(sqlite_records, monkeypatch):
    """Verifying the chain, paging the log and listing records read a snapshot without SQLite's write lock
    (the chain grows without end, and verifying it takes seconds): someone who signs in while each read is
    under way is written at once instead of queueing behind it, and the read still sees one consistent state."""
    records = sqlite_records
    people = add_people(records)
    real_reading, signed_in = records.db.reading, []

    @contextmanager
    def reading_while_someone_signs_in():
        with real_reading() as session:
            session.scalar(select(func.count()).select_from(AuditEvent))   # the read is under way
            sv.authenticate(records, people.staff.username, PASSWORD)     # a write on another connection
            signed_in.append(True)
            yield session

    monkeypatch.setattr(records.db, "reading", reading_while_someone_signs_in)
    assert sv.verify_audit(records, people.auditor).ok
    assert sv.audit_events(records, people.auditor, limit=10)
    for listing in (sv.list_consents, sv.list_assets, sv.list_outputs, sv.list_releases, sv.takedown_tasks):
        listing(records, people.marketing)
    sv.list_users(records, people.admin)
    monkeypatch.undo()
    assert len(signed_in) >= 9
    assert len(sv.audit_events(records, people.auditor, action="user.login")) == len(signed_in)
    assert sv.verify_audit(records, people.auditor).ok


def finished_or_waiting_for_a_lock(thread: threading.Thread, lock_file: Path, limit: float = 120) -> bool:
    """Wait until the thread has ended or the kernel lists it as blocked on a lock of `lock_file` (a "->" line
    of /proc/locks), so the interleaving above is the same on every run. A hang guard, not a measurement."""
    inode = f":{lock_file.stat().st_ino}"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not thread.is_alive():
            return True
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if "->" in fields and any(f.endswith(inode) and f.count(":") == 2 for f in fields):
                return True
        time.sleep(0.01)
    return False
