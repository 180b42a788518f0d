"""Several people processing at once on SQLite: staff and marketing users in several OS processes (spawned,
as separate server processes would be) and threads (as one server's sessions are) each take their own
photos from consent to release while auditors read the log, list records and look files up. Afterwards
every expected row exists exactly once and is complete, the audit chain verifies and holds exactly the
events the calls made, and no caller ever saw "database is locked" or any other error.

The scenario lives in benchmarks/load.py, which times it for several worker counts; here it runs untimed."""
from __future__ import annotations

from benchmarks.load import Plan, check_records, prepare, run
from records_fixtures import quick_password_hashing  # noqa: F401  (the people are made in this process)


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
