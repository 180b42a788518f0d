"""`python -m records backup DIR` and `restore DIR`: a backup restored into an empty data folder with the
same key verifies its audit chain and reads back every record and blob; a tampered blob, manifest or
database, a wrong key, or a folder that is not empty is refused with the reason, and leaves nothing
half-restored; a backup taken while another process writes is consistent.

Everything is real: SQLite, the blob store, the key file, the services that build the records, and the
command line in a subprocess."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, inspect, text

from conftest import ROOT
from records import backup
from records.backup import create as backup_create
from records.backup import files as backup_files
from records.backup import manifest as backup_manifest
from records import services as sv
from records.audit import SYSTEM, Actor
from records.config import Settings
from records.crypto import Keys
from records.models import utcnow
from records_fixtures import (ORIGINAL_NAME, PATIENT_NAME, PATIENT_REF, People, add_people, consent_pdf,
                              grace_hopper_path, make_settings, pg_server, plain_photo,  # noqa: F401
                              quick_password_hashing, wait_for)

CLI = Actor(None, "cli:test", "admin")


@dataclass
class Clinic:
    settings: Settings
    people: People
    consent_id: str
    consent_pdf: bytes
    kept_asset_id: str        # an original still kept
    kept_original: bytes
    published: Path           # the released file, as posted
    output_id: str
    counts: dict


def build_clinic(base: Path, database_url: str | None = None) -> Clinic:
    """A small clinic's records made by the services: a confirmed consent, a photo processed, reviewed and
    released (its original deleted on release), two photos still waiting, a revoked consent."""
    settings = make_settings(base, database_url)
    records = sv.open_records(settings)
    try:
        people = add_people(records)
        pdf = consent_pdf()
        consent = sv.register_consent(records, people.staff, pdf, PATIENT_NAME, PATIENT_REF)
        sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed",
                         signature_attested=True)
        asset = sv.upload_media(records, people.staff, grace_hopper_path(), ORIGINAL_NAME, consent.id)
        output = sv.process(records, people.staff, asset.id)
        sv.mark_reviewed(records, people.staff2, output.id)
        sv.confirm_patient(records, people.staff2, asset.id)
        release = sv.request_release(records, people.staff, output.id, "instagram")
        assert sv.approve_release(records, people.marketing, release.id).allowed
        package = sv.export_package(records, people.marketing, [release.id], base / "export")
        kept = [sv.upload_media(records, people.staff, plain_photo(base / f"p{i}.jpg", seed=i), f"scan_{i}.jpg")
                for i in range(2)]
        other = sv.register_consent(records, people.staff, consent_pdf(extra="Second form."), "Other Person", "MRN-2")
        sv.revoke_consent(records, people.staff, other.id, "withdrawn")
        counts = {"consents": 2, "assets": 3, "outputs": 1, "releases": 1, "users": 5}
    finally:
        records.close()
    return Clinic(settings, people, consent.id, pdf, kept[0].id, (base / "p0.jpg").read_bytes(),
                  next(package.glob("*.jpg")), output.id, counts)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> Clinic:
    with pytest.MonkeyPatch.context() as patch:   # cheap argon2 for the five users, as records_fixtures does
        patch.setattr("records.users._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        return build_clinic(tmp_path_factory.mktemp("clinic"))


@pytest.fixture(scope="module")
def clinic_backup(clinic, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("backups") / "b1"
    backup.create_backup(clinic.settings, folder, CLI)
    return folder


def empty_installation(base: Path, key_file: Path, database_url: str | None = None) -> Settings:
    return make_settings(base, database_url).with_(key_file=key_file)


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name) if parent.is_dir() else []


def copy_tree(source: Path, target: Path) -> Path:
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)
    return target


# -- the round trip ------------------------------------------------------------------------------------------
def test_a_backup_restored_into_an_empty_data_folder_with_the_same_key_verifies_and_reads_back(
        clinic, clinic_backup, tmp_path):
    target = empty_installation(tmp_path, clinic.settings.key_file)
    summary = backup.restore_backup(clinic_backup, target, CLI)
    assert summary["counts"] == {**clinic.counts, "audit_events": summary["audit"]["events"], "blobs": 5}
    restored = sv.open_records(target, housekeep=False)
    try:
        people = clinic.people
        assert sv.verify_audit(restored, people.auditor).ok
        [last] = sv.audit_events(restored, people.auditor, limit=1)
        assert last["action"] == "backup.restored" and last["actor"] == "cli:test"
        assert last["details"]["backup_head_seq"] == summary["audit"]["head_seq"] == last["seq"] - 1
        found = sv.find_file(restored, people.auditor, clinic.published)
        assert found.exact and found.matches[0].output_id == clinic.output_id
        assert [c.id for c in sv.find_consents(restored, people.auditor, PATIENT_REF)] == [clinic.consent_id]
        assert sv.consent_details(restored, people.marketing, clinic.consent_id)["patient_name"] == PATIENT_NAME
        assert sv.view_consent_pdf(restored, people.auditor, clinic.consent_id) == clinic.consent_pdf
        assert sv.view_original(restored, people.staff, clinic.kept_asset_id) == clinic.kept_original
        assert sv.authenticate(restored, "sam.staff", "correct horse battery staple").username == "sam.staff"
    finally:
        restored.close()


def test_backup_is_audited_in_the_live_records_and_holds_what_the_manifest_says(clinic, clinic_backup):
    manifest = json.loads((clinic_backup / "manifest.json").read_text())
    assert manifest["format"] == "veil-backup-1" and manifest["database"] == {
        "kind": "sqlite", "file": "database/veil.db", "revision": "0008"}
    assert manifest["key"]["included"] is False
    assert len(bytes.fromhex(manifest["key"]["fingerprint"])) == 5 + 32   # Tink's key-id prefix and an HMAC tag
    assert manifest["audit"]["intact"] and manifest["problems"] == []
    listed = {p.relative_to(clinic_backup).as_posix() for p in clinic_backup.rglob("*") if p.is_file()}
    assert listed == set(manifest["files"]) | {"manifest.json"}
    live = sv.open_records(clinic.settings, housekeep=False)
    try:
        made = sv.audit_events(live, clinic.people.auditor, action="backup.created")
        assert made and made[-1]["details"]["audit_head_seq"] == manifest["audit"]["head_seq"]
        assert made[-1]["seq"] > manifest["audit"]["head_seq"]   # appended after the snapshot it describes
    finally:
        live.close()


def test_the_backup_is_private_holds_no_key_and_no_phi_in_clear(clinic, clinic_backup):
    assert stat.S_IMODE(clinic_backup.stat().st_mode) == 0o700
    key_material = json.loads(clinic.settings.key_file.read_text())
    needles = {"patient name": PATIENT_NAME.encode(), "patient reference": PATIENT_REF.encode(),
               "original file name": ORIGINAL_NAME.encode(),
               "original bytes": grace_hopper_path().read_bytes()[4096:4352],
               "kept original bytes": clinic.kept_original[2048:2304],
               **{f"{name} key": key_material[name].encode() for name in ("blob", "field", "mac")}}
    for path in clinic_backup.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
        if path.is_file():
            data = path.read_bytes()
            for what, needle in needles.items():
                assert needle not in data, f"{what} in {path}"


# -- the key -------------------------------------------------------------------------------------------------
def test_backup_verify_accepts_the_key_kept_offline_and_refuses_another(clinic, clinic_backup, tmp_path):
    offline = tmp_path / "usb" / "keyset.json"
    offline.parent.mkdir()
    offline.write_bytes(clinic.settings.key_file.read_bytes())
    offline.chmod(0o600)
    assert backup.verify_backup(clinic_backup, offline)["audit"]["intact"]
    other = tmp_path / "other" / "keyset.json"
    Keys.load_or_create(other)
    with pytest.raises(backup.BackupError, match="is not the key this backup was made with"):
        backup.verify_backup(clinic_backup, other)


def test_restore_with_a_wrong_key_is_refused_and_leaves_nothing(clinic_backup, tmp_path):
    other = tmp_path / "other-keys" / "keyset.json"
    Keys.load_or_create(other)
    target = empty_installation(tmp_path, other)
    with pytest.raises(backup.BackupError, match="is not the key this backup was made with"):
        backup.restore_backup(clinic_backup, target, CLI)
    assert not target.data_dir.exists() and leftovers(tmp_path) == []


def test_restore_without_the_key_file_in_place_says_to_copy_it_and_makes_no_new_key(clinic_backup, tmp_path):
    target = make_settings(tmp_path)
    with pytest.raises(backup.BackupError, match="copy the key file kept offline there"):
        backup.restore_backup(clinic_backup, target, CLI)
    assert not target.key_file.exists() and not target.data_dir.exists()


# -- tampering -----------------------------------------------------------------------------------------------
def _flip_a_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


def _first_blob(folder: Path) -> Path:
    return sorted((folder / "blobs").rglob("*/*"))[0]


def _edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _alter_database_and_its_hash(folder: Path) -> None:
    """What someone without the key can do: change the database and write its new hash into the manifest."""
    database = folder / "database" / "veil.db"
    _flip_a_byte(database, 5000)
    _edit_manifest(folder, lambda m: m["files"]["database/veil.db"].update(backup_files.digest_file(database)))


TAMPERING = {
    "a blob altered": (lambda f: _flip_a_byte(_first_blob(f), 100), "its SHA-256 or size differs from the manifest"),
    "a blob removed": (lambda f: _first_blob(f).unlink(), "missing from the backup"),
    "a file added, named like a patient's photo": (lambda f: (f / "blobs" / f"{PATIENT_NAME}.jpg").write_bytes(b"x"),
                                                   "1 file\\(s\\) not in the manifest"),
    "the database altered": (lambda f: _flip_a_byte(f / "database" / "veil.db", 5000),
                             "its SHA-256 or size differs from the manifest"),
    "the manifest's counts edited": (lambda f: _edit_manifest(f, lambda m: m["counts"].update(consents=99)),
                                     "its seal does not hold"),
    "the database and its hash in the manifest altered": (_alter_database_and_its_hash, "its seal does not hold"),
    "the manifest removed": (lambda f: (f / "manifest.json").unlink(), "missing; this folder is not a Veil backup"),
    "the manifest truncated": (lambda f: (f / "manifest.json").write_text('{"format": "veil-ba'),
                               "the manifest is damaged"),
}


@pytest.mark.parametrize("tampering", TAMPERING, ids=list(TAMPERING))
def test_a_tampered_backup_is_refused_with_the_reason_and_nothing_half_restored_remains(
        clinic, clinic_backup, tmp_path, tampering):
    alter, reason = TAMPERING[tampering]
    folder = copy_tree(clinic_backup, tmp_path / "copy")
    alter(folder)
    with pytest.raises(backup.BackupError, match=reason) as refused:
        backup.verify_backup(folder, clinic.settings.key_file)
    assert PATIENT_NAME not in str(refused.value)
    target = empty_installation(tmp_path / "site", clinic.settings.key_file)
    with pytest.raises(backup.BackupError, match=reason):
        backup.restore_backup(folder, target, CLI)
    assert not target.data_dir.exists() and leftovers(target.data_dir.parent) == []


def test_a_database_from_another_installation_is_refused_even_in_a_manifest_sealed_with_this_key(
        clinic, clinic_backup, tmp_path):
    """The checks after the manifest's: someone holding this key seals a manifest over another
    installation's database; restore opens it and finds the key does not belong to it."""
    stranger = make_settings(tmp_path / "elsewhere")
    sv.open_records(stranger).close()
    folder = copy_tree(clinic_backup, tmp_path / "copy")
    database = folder / "database" / "veil.db"
    database.unlink()
    backup_create.sqlite_snapshot(stranger.data_dir / "veil.db", database)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["database/veil.db"] = backup_files.digest_file(database)
    manifest["seal"] = Keys.load_or_create(clinic.settings.key_file).seal(backup_manifest.manifest_bytes(manifest))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    target = empty_installation(tmp_path / "site", clinic.settings.key_file)
    with pytest.raises(backup.BackupError, match="does not belong to the backup's database; nothing was restored"):
        backup.restore_backup(folder, target, CLI)
    assert not target.data_dir.exists() and leftovers(target.data_dir.parent) == []


def _break_the_chain(settings: Settings, address: str) -> None:
    with sv.open_records(settings, housekeep=False).db.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_events_no_update"))
        connection.execute(text("UPDATE audit_events SET details = '{}' WHERE seq = 2"))


def _damage_a_blob(settings: Settings, address: str) -> None:
    _flip_a_byte(settings.blob_dir / address[:2] / address, 200)


def _lose_a_blob(settings: Settings, address: str) -> None:
    (settings.blob_dir / address[:2] / address).unlink()


DAMAGE = {"an audit event edited": (_break_the_chain, "audit chain BROKEN at event 2"),
          "a blob damaged in the store": (_damage_a_blob, "in the store, blob .* does not decrypt with this key"),
          "a blob lost from the store": (_lose_a_blob, "1 blob\\(s\\) the records name are not in the store")}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_backup_of_damaged_records_keeps_the_evidence_says_why_and_is_not_restored(tmp_path, damage):
    settings = make_settings(tmp_path / "site")
    records = sv.open_records(settings)
    admin = sv.add_user(records, SYSTEM, "admin", "correct horse battery staple", "admin")
    asset = sv.upload_media(records, admin, plain_photo(tmp_path / "p.jpg"), "p.jpg")
    records.close()
    harm, reason = DAMAGE[damage]
    harm(settings, asset.original_sha256)
    made = run_consent(settings, "backup", str(tmp_path / "evidence"))
    assert made.returncode == 1 and (tmp_path / "evidence" / "manifest.json").is_file()
    assert re.search(f"PROBLEM: .*{reason}", made.stdout), made.stdout
    target = empty_installation(tmp_path / "new", settings.key_file)
    with pytest.raises(backup.BackupError, match=f"made of damaged records.*{reason}"):
        backup.restore_backup(tmp_path / "evidence", target, CLI)
    assert not target.data_dir.exists()


# -- folders that are not empty ------------------------------------------------------------------------------
def test_restore_refuses_a_data_folder_that_is_not_empty_and_leaves_it_as_it_was(clinic, clinic_backup, tmp_path):
    target = empty_installation(tmp_path, clinic.settings.key_file)
    target.data_dir.mkdir()
    (target.data_dir / "veil.db").write_bytes(b"someone's records")
    with pytest.raises(backup.BackupError, match="not empty \\(1 entry\\); restore only into an empty"):
        backup.restore_backup(clinic_backup, target, CLI)
    assert [p.name for p in target.data_dir.iterdir()] == ["veil.db"]
    assert (target.data_dir / "veil.db").read_bytes() == b"someone's records"


def test_backup_refuses_a_folder_that_is_not_empty_without_naming_its_files_and_writes_nothing_there(
        clinic, tmp_path):
    target = tmp_path / "b"
    target.mkdir()
    (target / f"{PATIENT_NAME}.jpg").write_text("keep me")
    with pytest.raises(backup.BackupError, match="not empty \\(1 entry\\)") as refused:
        backup.create_backup(clinic.settings, target, CLI)
    assert PATIENT_NAME not in str(refused.value)
    assert [p.name for p in target.iterdir()] == [f"{PATIENT_NAME}.jpg"] and leftovers(tmp_path) == []
    with pytest.raises(backup.BackupError, match="inside the data folder"):
        backup.create_backup(clinic.settings, clinic.settings.data_dir / "backups" / "b", CLI)
    assert not (clinic.settings.data_dir / "backups").exists()


# -- consistency while Veil writes ---------------------------------------------------------------------------
def test_a_blob_deleted_after_the_snapshot_is_handled_by_taking_the_snapshot_again(tmp_path, monkeypatch):
    settings = make_settings(tmp_path / "site")
    records = sv.open_records(settings)
    staff = sv.add_user(records, SYSTEM, "sam.staff", "correct horse battery staple", "admin")
    asset = sv.upload_media(records, staff, plain_photo(tmp_path / "p.jpg"), "p.jpg")
    real, snapshots = backup_create._snapshot, []

    def snapshot_then_retention_deletes_the_original(*args):
        facts = real(*args)
        snapshots.append(facts["referenced"])
        if len(snapshots) == 1:   # another session applies retention between the snapshot and the copy
            sv.housekeeping(records, SYSTEM, now=utcnow() + dt.timedelta(days=40))
        return facts

    monkeypatch.setattr(backup_create, "_snapshot", snapshot_then_retention_deletes_the_original)
    made = backup.create_backup(settings, tmp_path / "b", CLI)
    records.close()
    assert snapshots == [{asset.original_sha256}, set()] and made["problems"] == []
    assert backup.verify_backup(tmp_path / "b", settings.key_file)["counts"]["blobs"] == 0


WRITER = textwrap.dedent("""
    import datetime as dt, io, sys
    from pathlib import Path
    from PIL import Image
    from records import services as sv
    from records.audit import SYSTEM, Actor
    from records.models import utcnow
    ready, stop, staff = Path(sys.argv[1]), Path(sys.argv[2]), Actor(sys.argv[3], "sam.staff", "admin")
    records = sv.open_records(housekeep=False)
    i = 0
    while not stop.exists():
        buffer = io.BytesIO()
        Image.new("RGB", (48, 48), (i % 256, i // 256 % 256, 99)).save(buffer, "PNG")
        sv.upload_media(records, staff, buffer.getvalue(), f"photo-{i}.png")
        if i % 3 == 2:   # retention: originals forgotten and their blobs deleted while backups copy them
            sv.housekeeping(records, SYSTEM, now=utcnow() + dt.timedelta(days=40))
        i += 1
        ready.touch()
    records.close()
    print(i)
""")


def test_backups_taken_while_another_process_writes_are_consistent(tmp_path):
    settings = make_settings(tmp_path / "site")
    records = sv.open_records(settings)
    staff = sv.add_user(records, SYSTEM, "sam.staff", "correct horse battery staple", "admin")
    records.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VEIL_DATA_DIR": str(settings.data_dir),
           "VEIL_KEY_FILE": str(settings.key_file)}
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(ready), str(stop), staff.id], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(ready), writer.stderr.read() if writer.poll() is not None else "the writer never started"
        made = [backup.create_backup(settings, tmp_path / f"b{i}", CLI) for i in range(3)]
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert int(out) > 3 and "locked" not in err
    assert [m["problems"] for m in made] == [[], [], []]
    heads = [m["audit"]["head_seq"] for m in made]
    assert heads == sorted(heads) and heads[0] < heads[-1], "the writer did not write during the backups"
    live = sv.open_records(settings, housekeep=False)
    try:
        chain = {e["seq"]: e["hash"] for e in sv.audit_events(live, SYSTEM)}
    finally:
        live.close()
    for i, manifest in enumerate(made):
        assert chain[manifest["audit"]["head_seq"]] == manifest["audit"]["head_hash"]   # a prefix of the live chain
        backup.verify_backup(tmp_path / f"b{i}", settings.key_file)
        backup.restore_backup(tmp_path / f"b{i}", empty_installation(tmp_path / f"r{i}", settings.key_file), CLI)


# -- the command line ----------------------------------------------------------------------------------------
def run_consent(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VEIL_DATA_DIR": str(settings.data_dir),
           "VEIL_KEY_FILE": str(settings.key_file)}
    env.pop("VEIL_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "records", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def test_the_command_line_backs_up_verifies_and_restores_and_refuses_in_one_line(clinic, tmp_path):
    folder = tmp_path / "nightly"
    made = run_consent(clinic.settings, "backup", str(folder))
    assert made.returncode == 0, made.stderr
    assert f"backup written to {folder}" in made.stdout and "key file is not in the backup" in made.stdout
    checked = run_consent(clinic.settings, "backup", "verify", str(folder), "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["audit"]["intact"] is True
    target = empty_installation(tmp_path / "new", clinic.settings.key_file)
    restored = run_consent(target, "restore", str(folder))
    assert restored.returncode == 0, restored.stderr
    assert run_consent(target, "audit", "verify").stdout.startswith("audit chain intact")
    again = run_consent(target, "restore", str(folder))
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip() == (f"restore: {target.data_dir}: not empty (2 entries); restore only "
                                    "into an empty data folder; move the current one aside first")
    occupied = run_consent(clinic.settings, "backup", str(folder))
    assert occupied.returncode == 1 and "Traceback" not in occupied.stderr
    assert occupied.stderr.startswith(f"backup: {folder}: not empty (3 entries)")



def test_backup_verify_without_a_folder_is_refused_rather_than_taken_as_a_backup_into_verify(clinic):
    refused = run_consent(clinic.settings, "backup", "verify")
    assert refused.returncode == 2 and "give the backup folder to check" in refused.stderr
    assert not (ROOT / "verify").exists()


# -- PostgreSQL ----------------------------------------------------------------------------------------------
def test_a_postgresql_backup_restores_into_an_empty_database_in_one_transaction(pg_server, tmp_path, monkeypatch):
    settings = make_settings(tmp_path / "site", pg_server.url(pg_server.new_database()))
    records = sv.open_records(settings)
    people = add_people(records)
    pdf = consent_pdf()
    consent = sv.register_consent(records, people.staff, pdf, PATIENT_NAME, PATIENT_REF)
    records.close()
    with monkeypatch.context() as patch:
        patch.setenv("PATH", str(tmp_path / "nothing"))
        with pytest.raises(backup.BackupError, match="pg_dump is not on PATH.*nothing was written"):
            backup.create_backup(settings, tmp_path / "b", CLI)
    assert not (tmp_path / "b").exists() and leftovers(tmp_path) == []
    made = backup.create_backup(settings, tmp_path / "b", CLI)
    assert made["database"]["kind"] == "postgresql" and made["counts"]["blobs"] == 1
    with pytest.raises(backup.BackupError, match="already holds"):
        backup.restore_backup(tmp_path / "b", empty_installation(tmp_path / "x", settings.key_file,
                                                                 settings.database_url), CLI)
    other = empty_installation(tmp_path / "new", settings.key_file, pg_server.url(pg_server.new_database()))
    backup.restore_backup(tmp_path / "b", other, CLI)
    restored = sv.open_records(other, housekeep=False)
    try:
        assert sv.verify_audit(restored, people.auditor).ok
        assert sv.view_consent_pdf(restored, people.auditor, consent.id) == pdf
        assert sv.audit_events(restored, people.auditor, limit=2)[1]["action"] == "backup.restored"
    finally:
        restored.close()


def test_a_postgresql_dump_whose_chain_fails_after_loading_leaves_the_database_empty(pg_server, tmp_path):
    """The last check, after the dump is loaded: a backup forged by someone holding the key (the manifest
    re-sealed over an edited audit event) is rolled back with the transaction that loaded it."""
    settings = make_settings(tmp_path / "site", pg_server.url(pg_server.new_database()))
    records = sv.open_records(settings)
    add_people(records)
    records.close()
    folder = tmp_path / "b"
    backup.create_backup(settings, folder, CLI)
    dump = folder / "database" / "veil.sql"
    dump.write_text(dump.read_text().replace('"role":"staff"', '"role":"admin"', 1))
    keys = Keys.load_or_create(settings.key_file)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["database/veil.sql"] = backup_files.digest_file(dump)
    manifest["seal"] = keys.seal(backup_manifest.manifest_bytes(manifest))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    target = empty_installation(tmp_path / "new", settings.key_file, pg_server.url(pg_server.new_database()))
    with pytest.raises(backup.BackupError, match="audit chain BROKEN at event 2"):
        backup.restore_backup(folder, target, CLI)
    engine = create_engine(target.database_url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
    assert not target.data_dir.exists() and leftovers(target.data_dir.parent) == []
