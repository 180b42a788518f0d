"""Encrypted, content-addressed blob storage; the key file; configuration.

Originals and consent PDFs are encrypted at rest with Tink's StreamingAead, under a key created 0600 on
first run outside the data folder; writes are atomic; leftovers of a crash are swept; PHI fields are
bound to their row.
"""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from dataclasses import fields

import pytest

from records.config import ConfigError, Settings, default_key_file, load_settings
from records.crypto import DecryptionError, KeyFileError, Keys
from records.models import field_context
from records.store import TEMP_PREFIX, BlobMissing, BlobStore, WorkDir, sweep_work
from records_fixtures import grace_hopper_path


@pytest.fixture
def keys(tmp_path) -> Keys:
    return Keys.load_or_create(tmp_path / "keys" / "keyset.json")


@pytest.fixture
def store(tmp_path, keys) -> BlobStore:
    return BlobStore(tmp_path / "blobs", keys)


def test_a_blob_is_stored_under_the_sha256_of_its_content_and_reads_back(store):
    data = grace_hopper_path().read_bytes()
    address = store.put_bytes(data)
    assert address == hashlib.sha256(data).hexdigest()
    assert store.path(address).parent.name == address[:2]
    assert store.read_bytes(address) == data


def test_the_stored_file_holds_ciphertext_not_the_original_bytes(store):
    data = grace_hopper_path().read_bytes()
    stored = store.path(store.put_bytes(data)).read_bytes()
    assert data[:4096] not in stored and data[20000:20512] not in stored
    assert b"JFIF" not in stored[:64]


def test_a_large_file_streams_through_several_segments(store, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    address = store.put_file(big)
    out = store.decrypt_to(address, tmp_path / "back.bin")
    assert out.read_bytes() == big.read_bytes()


def test_writing_leaves_no_temporary_file_and_rewriting_the_same_content_is_harmless(store):
    address = store.put_bytes(b"same content")
    assert store.put_bytes(b"same content") == address
    assert not list(store.root.glob(f"*/{TEMP_PREFIX}*"))
    assert store.read_bytes(address) == b"same content"


def test_a_changed_byte_in_a_blob_is_detected(store):
    address = store.put_bytes(b"x" * 5000)
    path = store.path(address)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DecryptionError, match="altered"):
        store.read_bytes(address)


def test_a_blob_moved_to_another_address_does_not_decrypt(store):
    first, second = store.put_bytes(b"first original"), store.put_bytes(b"second original")
    os.replace(store.path(first), store.path(second))
    with pytest.raises(DecryptionError):
        store.read_bytes(second)


def test_a_missing_blob_says_so(store):
    with pytest.raises(BlobMissing, match="not in the store"):
        store.read_bytes("ab" * 32)


def test_another_installations_key_cannot_read_the_blobs(tmp_path, store):
    address = store.put_bytes(b"patient photo")
    other = BlobStore(store.root, Keys.load_or_create(tmp_path / "other" / "keyset.json"))
    with pytest.raises(DecryptionError):
        other.read_bytes(address)


def test_sweep_removes_temporary_files_and_unreferenced_blobs_but_keeps_referenced_ones(store):
    kept, orphan = store.put_bytes(b"referenced"), store.put_bytes(b"orphan")
    temp = store.path(kept).parent / f"{TEMP_PREFIX}half-written"
    temp.write_bytes(b"partial ciphertext")
    report = store.sweep({kept}, grace_seconds=0)
    assert report.temp_files == 1 and report.orphan_blobs == [orphan]
    assert store.exists(kept) and not store.exists(orphan) and not temp.exists()


def test_sweep_spares_blobs_younger_than_the_grace_period(store):
    young = store.put_bytes(b"another process has not committed yet")
    assert store.sweep(set(), grace_seconds=3600).orphan_blobs == []
    assert store.exists(young)


def test_a_work_folder_of_a_live_process_is_kept_and_one_of_a_killed_process_is_swept(tmp_path):
    root = tmp_path / "work"
    live = WorkDir(root)
    (live.path / "original").write_bytes(b"decrypted original")
    # a process that made a work folder and was SIGKILLed while holding it
    script = ("import os,sys; from pathlib import Path; from records.store import WorkDir; "
              "w = WorkDir(Path(sys.argv[1])); (w.path / 'original').write_bytes(b'plain'); "
              "print(w.path, flush=True); os.kill(os.getpid(), 9)")
    child = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True)
    dead = child.stdout.strip()
    assert child.returncode == -9 and os.path.isdir(dead)
    assert sweep_work(root) == 1
    assert not os.path.exists(dead)
    assert (live.path / "original").exists()
    live.close()
    assert not live.path.exists()


# -- keys ---------------------------------------------------------------------------------------------
def test_the_key_file_is_created_owner_only_in_a_private_folder(tmp_path):
    path = tmp_path / "cfg" / "veil" / "keyset.json"
    Keys.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_same_key_file_opens_again_and_decrypts_what_it_encrypted(tmp_path):
    path = tmp_path / "keyset.json"
    sealed = Keys.load_or_create(path).encrypt_text("Rosalind", "veil/consents/patient_name/1")
    assert Keys.load_or_create(path).decrypt_text(sealed, "veil/consents/patient_name/1") == "Rosalind"


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "keyset.json"
    Keys.load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        Keys.load_or_create(path)


def test_a_file_that_is_not_a_veil_key_file_is_refused(tmp_path):
    path = tmp_path / "keyset.json"
    path.write_text('{"hello": 1}')
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a Veil key file"):
        Keys.load_or_create(path)


def test_an_encrypted_field_copied_into_another_row_does_not_decrypt(keys):
    sealed = keys.encrypt_text("Rosalind", field_context("consents", "patient_name", "row-1"))
    with pytest.raises(DecryptionError):
        keys.decrypt_text(sealed, field_context("consents", "patient_name", "row-2"))
    with pytest.raises(DecryptionError):
        keys.decrypt_text(sealed, field_context("consents", "patient_ref", "row-1"))


def test_blind_indexes_match_equal_references_regardless_of_case_and_spacing(keys):
    assert keys.blind_index("MRN 0047711", "patient") == keys.blind_index(" mrn  0047711 ", "patient")
    assert keys.blind_index("MRN 0047711", "patient") != keys.blind_index("MRN 0047712", "patient")
    assert "0047711" not in keys.blind_index("MRN 0047711", "patient")


# -- configuration ------------------------------------------------------------------------------------------
def test_defaults_need_no_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={"HOME": str(tmp_path / "home")}, secrets_file=tmp_path / "none.toml")
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'veil.db'}"
    assert settings.key_file == tmp_path / "home" / ".config" / "veil" / "keyset.json"
    assert settings.two_person_rule is True


def test_the_default_key_file_follows_xdg_config_home_and_lies_outside_the_data_folder(tmp_path):
    key = default_key_file({"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)})
    assert key == tmp_path / "xdg" / "veil" / "keyset.json"


def test_environment_overrides_streamlit_secrets_which_override_defaults(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'VEIL_DATA_DIR = "{tmp_path / "from-secrets"}"\nVEIL_KEY_FILE = "{tmp_path / "k.json"}"\n'
                       'VEIL_TWO_PERSON_RULE = "false"\n')
    secrets.chmod(0o600)                           # it may hold secrets: one readable by others is refused
    from_secrets = load_settings(env={}, secrets_file=secrets)
    assert from_secrets.data_dir == tmp_path / "from-secrets"
    assert from_secrets.key_file == tmp_path / "k.json"
    assert from_secrets.two_person_rule is False
    from_env = load_settings(env={"VEIL_DATA_DIR": str(tmp_path / "from-env")}, secrets_file=secrets)
    assert from_env.data_dir == tmp_path / "from-env"


def test_an_unusable_setting_is_named(tmp_path):
    with pytest.raises(ConfigError, match="VEIL_ORIGINAL_RETENTION_DAYS"):
        load_settings(env={"VEIL_ORIGINAL_RETENTION_DAYS": "soon"}, secrets_file=tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="VEIL_TWO_PERSON_RULE"):
        load_settings(env={"VEIL_TWO_PERSON_RULE": "maybe"}, secrets_file=tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="VEIL_SESSION_TIMEOUT_MINUTES must be 1 or more"):
        load_settings(env={"VEIL_SESSION_TIMEOUT_MINUTES": "0"}, secrets_file=tmp_path / "none.toml")


def test_every_tunable_policy_is_read_from_its_variable(tmp_path):
    """Each policy's default is written once, in Settings; each is read from its own variable."""
    none = tmp_path / "none.toml"
    defaults = load_settings(env={}, secrets_file=none)
    tunables = [f for f in fields(Settings) if "variable" in f.metadata]
    assert {f.name for f in tunables} >= {"two_person_rule", "max_video_mb", "session_timeout_minutes"}
    for f in tunables:
        assert getattr(defaults, f.name) == f.default
        changed = str(not f.default).lower() if isinstance(f.default, bool) else str(f.default + 7)
        assert getattr(load_settings(env={f.metadata["variable"]: changed}, secrets_file=none), f.name) != f.default


def test_verify_checks_a_blob_without_keeping_it_and_names_the_damage(tmp_path):
    store = BlobStore(tmp_path / "blobs", Keys.load_or_create(tmp_path / "keys" / "k.json"))
    address = store.put_bytes(b"a consent PDF's bytes")
    store.verify(address)                                     # whole: nothing raised, nothing written
    assert sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file() and p.name[0] != ".") == [address]
    damaged = bytearray(store.path(address).read_bytes())
    damaged[-5] ^= 0xFF
    store.path(address).write_bytes(damaged)
    with pytest.raises(DecryptionError, match="was altered"):
        store.verify(address)
    store.path(address).unlink()
    with pytest.raises(BlobMissing):
        store.verify(address)
