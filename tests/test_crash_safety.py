"""Killing Veil (SIGKILL) in the middle of processing or releasing leaves no half-written record and no
orphan that trips the next run: the audit chain verifies, the interrupted action never happened or fully
happened, housekeeping removes what the dead process left (temporary and unreferenced blobs, its work
folder with a decrypted original), and doing the action again succeeds.

Each case runs the real service in a child process that stops at a chosen point and waits there to be
killed; the parent kills it, reopens the records and inspects them. Then, round after round, a child dies at
a seeded random call of processing or release, and each time the records are whole, housekeeping sweeps
what it left, and the next run takes the photo to its release."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from conftest import ROOT
from records import services as sv
from records_fixtures import (add_people, plain_photo, quick_password_hashing, register,  # noqa: F401
                              sqlite_records, wait_for)

CHILD = r"""
import json, os, sys, time
from pathlib import Path
point, marker, actor_json, target = sys.argv[1:5]
from records import audit, services as sv
from records.audit import Actor
from records.store import BlobStore

def halt(*_):
    Path(marker).write_text(point)
    time.sleep(600)

def halt_after(action):
    real = audit.append
    def append(session, keys, actor, name, *args, **details):
        event = real(session, keys, actor, name, *args, **details)   # flushed, not committed
        if name == action:
            halt()
        return event
    audit.append = append

if point == "process: output blob written, rows flushed, before commit":
    halt_after("output.created")
elif point == "process: output encrypted into a temporary file, before its rename":
    real_replace = os.replace
    def replace(src, dst):
        if Path(src).name.startswith(".tmp-"):
            halt()
        return real_replace(src, dst)
    os.replace = replace
elif point == "release: decision flushed, before commit":
    halt_after("release.allowed")
elif point == "release: committed, before the original's blob is deleted":
    BlobStore.delete = halt
records = sv.open_records(housekeep=False)
actor = Actor(**json.loads(actor_json))
if point.startswith("process"):
    sv.process(records, actor, target)
else:
    sv.approve_release(records, actor, target)
Path(marker).write_text("finished without stopping")
"""


def run_until_killed(records, point: str, actor, target: str, tmp_path: Path) -> None:
    marker = tmp_path / "reached"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VEIL_DATA_DIR": str(records.settings.data_dir),
           "VEIL_KEY_FILE": str(records.settings.key_file), "VEIL_DATABASE_URL": records.settings.database_url,
           "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, point, str(marker), json.dumps(asdict(actor)), target],
                             env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        reached = wait_for(marker, 180)
        assert reached and marker.read_text() == point, child.stderr.read() if child.poll() is not None else "stuck"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL


@pytest.fixture
def ready(sqlite_records, tmp_path):
    """A confirmed consent and an uploaded photo, in records a child process can open."""
    records = sqlite_records
    people = add_people(records)
    consent = register(records, people)
    asset = sv.upload_media(records, people.staff, plain_photo(tmp_path / "p.jpg"), "p.jpg", consent.id)
    sv.confirm_patient(records, people.staff, asset.id)
    return records, people, asset


def released_ready(records, people, asset):
    output = sv.mark_reviewed(records, people.staff, sv.process(records, people.staff, asset.id).id)
    return sv.request_release(records, people.staff, output.id, "instagram")


def blob_files(records) -> set[str]:
    return {p.name for p in records.store.root.glob("*/*")}


def referenced(records) -> set[str]:
    with records.db.sessions() as session:
        return sv.referenced_blobs(session)


def assert_tidy(records, people) -> None:
    """After housekeeping: the chain verifies, every blob file is referenced and every reference has its
    file, no temporary file and no work folder is left."""
    assert sv.verify_audit(records, people.auditor).ok
    assert blob_files(records) == referenced(records)
    assert not list(records.settings.work_dir.iterdir())


def test_killed_while_processing_before_the_commit_leaves_no_output_row_and_an_orphan_swept_later(ready, tmp_path):
    records, people, asset = ready
    before = blob_files(records)
    run_until_killed(records, "process: output blob written, rows flushed, before commit", people.staff, asset.id,
                     tmp_path)
    assert sv.list_outputs(records, people.staff) == []
    assert not sv.audit_events(records, people.admin, action="output.created")
    assert sv.verify_audit(records, people.auditor).ok
    assert len(blob_files(records) - before) == 1   # the dead run's encrypted output, referenced by nothing
    assert not list(records.settings.work_dir.iterdir())   # its decrypted original was gone before the commit
    report = sv.housekeeping(records, people.admin, grace_seconds=0)
    assert report["orphan_blobs"] == 1
    assert_tidy(records, people)
    output = sv.process(records, people.staff, asset.id)
    assert output.error is None and records.store.exists(output.sha256)


def test_killed_while_storing_the_output_leaves_a_temporary_file_that_does_not_trip_the_next_run(ready, tmp_path):
    records, people, asset = ready
    run_until_killed(records, "process: output encrypted into a temporary file, before its rename", people.staff,
                     asset.id, tmp_path)
    assert list(records.store.root.glob("*/.tmp-*"))
    assert sv.list_outputs(records, people.staff) == []
    output = sv.process(records, people.staff, asset.id)   # before any housekeeping: the leftover is harmless
    assert output.error is None and records.store.read_bytes(output.sha256)
    report = sv.housekeeping(records, people.admin, grace_seconds=0)
    assert report["temp_files"] == 1 and report["work_dirs"] == 1
    assert_tidy(records, people)


def test_killed_while_releasing_before_the_commit_leaves_the_request_undecided(ready, tmp_path):
    records, people, asset = ready
    request = released_ready(records, people, asset)
    run_until_killed(records, "release: decision flushed, before commit", people.marketing, request.id, tmp_path)
    [release] = sv.list_releases(records, people.auditor)
    assert release.status == "requested" and release.decided_at is None
    assert not sv.audit_events(records, people.admin, action="release.allowed")
    assert sv.list_assets(records, people.staff)[0].original_kept
    sv.housekeeping(records, people.admin, grace_seconds=0)
    assert_tidy(records, people)
    assert sv.approve_release(records, people.marketing, request.id).allowed


def test_killed_after_the_release_commits_leaves_only_the_originals_blob_which_housekeeping_removes(ready, tmp_path):
    records, people, asset = ready
    request = released_ready(records, people, asset)
    run_until_killed(records, "release: committed, before the original's blob is deleted", people.marketing,
                     request.id, tmp_path)
    assert [r.status for r in sv.list_releases(records, people.auditor)] == ["released"]
    assert not sv.list_assets(records, people.staff)[0].original_kept
    assert records.store.exists(asset.original_sha256)   # the dead process did not get to delete it
    assert sv.audit_events(records, people.admin, action="media.original_deleted")
    report = sv.housekeeping(records, people.admin, grace_seconds=0)
    assert report["orphan_blobs"] == 1 and not records.store.exists(asset.original_sha256)
    assert_tidy(records, people)


# -- SIGKILL at random points, repeated ------------------------------------------------------------------
# A child walks one photo through processing (process, confirm the review) and release (request, approve),
# counting every call made in Veil's own code (records/, deid/) and every C function those call directly
# (file writes, fsync, os.replace, the commit's driver call...). Each round draws, from a seeded generator,
# a phase and a call number in it; the child kills itself with SIGKILL at that call. The same seed gives the
# same rounds: VEIL_CRASH_SEED=<seed> VEIL_CRASH_ROUNDS=<n> reproduces a failure, and the assertion names
# the round, the phase and the call.
RANDOM_CHILD = r"""
import json, os, signal, sys, time
from pathlib import Path
phase, kill_at, marker, actors, asset_id = sys.argv[1:6]
kill_at = int(kill_at)
from records import services as sv
from records.audit import Actor
root = Path(sv.__file__).parents[2]   # records/services/__init__.py -> the repository
ours = (str(root / "records") + os.sep, str(root / "deid") + os.sep)
staff, marketing = (Actor(**a) for a in json.loads(actors))
records = sv.open_records(housekeep=False)
seen, current, state = {}, None, {}

def count(frame, event, arg):
    if event in ("call", "c_call") and frame.f_code.co_filename.startswith(ours):
        seen[current] = seen.get(current, 0) + 1
        if current == phase and seen[current] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

def processing():
    state["output"] = sv.process(records, staff, asset_id).id
    sv.mark_reviewed(records, staff, state["output"])

def releasing():
    release = sv.request_release(records, staff, state["output"], "instagram")
    assert sv.approve_release(records, marketing, release.id).allowed

Path(marker + ".ready").touch()
began = time.monotonic()
for current, step in (("process", processing), ("release", releasing)):
    sys.setprofile(count)
    try:
        step()
    finally:
        sys.setprofile(None)
Path(marker).write_text(json.dumps({**seen, "seconds": time.monotonic() - began}))
"""
CRASH_SEED = int(os.environ.get("VEIL_CRASH_SEED", "20261123"))
CRASH_ROUNDS = int(os.environ.get("VEIL_CRASH_ROUNDS", "10"))
# and rounds where the parent kills the child after a seeded random delay into its walk: such a kill can land
# anywhere, inside a C call too (a write of the WAL, an fsync, the engine's decoder)
TIMED_ROUNDS = int(os.environ.get("VEIL_CRASH_TIMED_ROUNDS", "4"))


def walk_and_maybe_die(records, people, asset_id: str, phase: str, kill_at: int, tmp_path: Path,
                       delay: float | None = None) -> dict | None:
    """Run the child, which kills itself at call `kill_at` of `phase`, or is killed `delay` seconds into its
    walk; returns the calls it counted per phase (and the walk's seconds) when it finished, None when killed."""
    marker = tmp_path / f"counted-{asset_id}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0",
           "VEIL_DATA_DIR": str(records.settings.data_dir), "VEIL_KEY_FILE": str(records.settings.key_file),
           "VEIL_DATABASE_URL": records.settings.database_url, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
    actors = json.dumps([asdict(people.staff), asdict(people.marketing)])
    child = subprocess.Popen([sys.executable, "-c", RANDOM_CHILD, phase, str(kill_at), str(marker), actors, asset_id],
                             env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        if delay is not None:
            assert wait_for(Path(f"{marker}.ready"), 180), "the child never started its walk"
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
        _, stderr = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if child.returncode == -signal.SIGKILL:
        return None
    assert child.returncode == 0, stderr[-3000:]
    return json.loads(marker.read_text())


def assert_whole(records) -> None:
    """No half-written record: each row is complete and backed by its blob, and the audit log tells the
    same story as the rows (an event for each thing that happened, none for what did not)."""
    from sqlalchemy import func, select

    from records.models import Asset, AuditEvent, Consent, Output, Release

    with records.db.sessions() as session:
        outputs = session.scalars(select(Output)).all()
        releases = session.scalars(select(Release)).all()
        assets = session.scalars(select(Asset)).all()
        consents = session.scalars(select(Consent)).all()
        events = dict(session.execute(select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all())
    for o in outputs:
        assert o.error is None and o.blob and o.sha256 == o.blob and o.name, f"output {o.id} half-written"
        assert records.store.exists(o.blob), f"output {o.id} names a blob that is not stored"
        assert o.asset_id in {a.id for a in assets}
    for r in releases:
        decided = (r.decided_by, r.decided_at, r.consent_id)
        if r.status == "requested":
            assert r.decided_by is None and r.decided_at is None, f"release {r.id} has half a decision"
        else:
            assert r.status == "released" and all(decided), f"release {r.id} lacks its approval fields"
    for a in assets:
        assert (a.original_blob is None) == (a.original_deleted_at is not None), f"asset {a.id} half-deleted"
        assert a.original_blob is None or records.store.exists(a.original_blob), f"asset {a.id} lost its original"
    assert all(records.store.exists(c.pdf_blob) for c in consents)
    assert events.get("output.created", 0) == len(outputs)
    assert events.get("output.reviewed", 0) == sum(o.reviewed_by is not None for o in outputs)
    assert events.get("release.requested", 0) == len(releases)
    assert events.get("release.allowed", 0) == sum(r.status == "released" for r in releases)
    assert events.get("media.original_deleted", 0) == sum(a.original_blob is None for a in assets)


def finish_the_walk(records, people, asset_id: str) -> None:
    """The next run picks up where the dead one stopped and takes the photo to a release."""
    outputs = [o for o in sv.list_outputs(records, people.staff, asset_id) if not o.superseded]
    output = outputs[-1] if outputs else sv.process(records, people.staff, asset_id)
    assert output.error is None
    if not output.reviewed:
        sv.mark_reviewed(records, people.staff, output.id)
    releases = [r for r in sv.list_releases(records, people.auditor) if r.output_id == output.id]
    release = releases[-1] if releases else sv.request_release(records, people.staff, output.id, "instagram")
    if release.status == "requested":
        assert sv.approve_release(records, people.marketing, release.id).allowed
    assert [r.status for r in sv.list_releases(records, people.auditor) if r.output_id == output.id] == ["released"]


def test_sigkill_at_random_points_of_processing_and_release_never_leaves_a_half_written_record(
        sqlite_records, tmp_path):
    records = sqlite_records
    people = add_people(records)
    consent = register(records, people)

    def new_photo(n: int) -> str:
        asset = sv.upload_media(records, people.staff, plain_photo(tmp_path / f"{n}.jpg", seed=n), f"{n}.jpg",
                                consent.id)
        sv.confirm_patient(records, people.staff, asset.id)
        return asset.id

    calls = walk_and_maybe_die(records, people, new_photo(0), "none", 0, tmp_path)   # how many calls each phase
    assert calls["process"] > 100 and calls["release"] > 20
    rng = random.Random(CRASH_SEED)
    print(f"crash seed {CRASH_SEED}, {CRASH_ROUNDS} + {TIMED_ROUNDS} rounds, calls per phase {calls}")
    killed = []
    for n in range(1, CRASH_ROUNDS + TIMED_ROUNDS + 1):
        phase, kill_at, delay = "process" if n % 2 else "release", 0, None
        if n <= CRASH_ROUNDS:
            kill_at = rng.randint(1, calls[phase])
            case = f"seed {CRASH_SEED} round {n}: SIGKILL at call {kill_at} of {calls[phase]} in {phase}"
        else:
            phase, delay = "none", rng.uniform(0, calls["seconds"])
            case = f"seed {CRASH_SEED} round {n}: SIGKILL {delay:.3f} s into a walk of about {calls['seconds']:.3f} s"
        asset_id = new_photo(n)
        if walk_and_maybe_die(records, people, asset_id, phase, kill_at, tmp_path, delay) is None:
            killed.append(case)
        try:
            assert sv.verify_audit(records, people.auditor).ok
            assert_whole(records)
            sv.housekeeping(records, people.admin, grace_seconds=0)
            assert_tidy(records, people)
            finish_the_walk(records, people, asset_id)
            assert_whole(records)
            assert_tidy(records, people)
        except AssertionError as exc:
            raise AssertionError(f"{case}: {exc}") from exc
    print("\n".join(killed))
    assert len(killed) >= CRASH_ROUNDS + TIMED_ROUNDS - 3   # nearly every round really died part-way
