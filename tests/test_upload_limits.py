"""Upload limits and type checks, in the services (where they are enforced) and on the pages (where the browser
is told them); secrets, key file and data folder are never readable by other users."""
from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from records import services
from records.config import ConfigError, load_settings
from records.models import Asset, AuditEvent, Consent
from conftest import ROOT, grace_hopper_path
from deid.image import MAX_FILE_BYTES
from ui.views import upload_limits
from ui_fixtures import app, copy_installation, open_installation, texts, widget
from ui_fixtures import people_template  # noqa: F401  (pytest fixture)
from ui_fixtures import PATIENT, Veil, covered_consent_pdf

MB = 2 ** 20
FTYP_MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


@pytest.fixture
def small_limits(tmp_path, monkeypatch, people_template) -> Veil:
    """An installation whose limits are 1 MB per video and per consent PDF, and 2 files per batch."""
    template, actors = people_template
    copy_installation(template, tmp_path)
    for name, value in (("VEIL_MAX_VIDEO_MB", "1"), ("VEIL_MAX_PDF_MB", "1"), ("VEIL_MAX_BATCH_FILES", "2")):
        monkeypatch.setenv(name, value)
    records = open_installation(tmp_path, monkeypatch)
    yield Veil(records, actors["admin"], actors["staff"], actors["marketing"], actors["auditor"])
    records.close()


def _counts(veil: Veil) -> tuple:
    with veil.records.transaction() as session:
        rows = tuple(session.query(model).count() for model in (Asset, Consent, AuditEvent))
    return rows + (sorted(p.name for p in veil.records.settings.blob_dir.rglob("*") if p.is_file()),)


@pytest.mark.parametrize("what, upload", [
    ("video", lambda v: services.upload_media(v.records, v.staff, FTYP_MP4 + bytes(MB + MB // 2), "clip.mp4")),
    ("photo", lambda v: services.upload_media(v.records, v.staff, b"\xff\xd8\xff\xe0" + bytes(MAX_FILE_BYTES),
                                              "photo.jpg")),
    ("consent PDF", lambda v: services.register_consent(v.records, v.staff, b"%PDF-1.7\n" + bytes(MB + MB // 2),
                                                        *PATIENT)),
])
def test_an_upload_over_its_limit_is_refused_with_its_size_before_anything_is_stored(small_limits, what, upload):
    before = _counts(small_limits)
    with pytest.raises(services.WorkflowError) as refused:
        upload(small_limits)
    limit = 200 if what == "photo" else 1
    assert f"this {what} is" in str(refused.value) and f"over the {limit} MB limit for one {what}" in str(refused.value)
    assert _counts(small_limits) == before          # no row, no audit event, no blob


def test_an_upload_within_its_limit_is_kept(small_limits):
    asset = services.upload_media(small_limits.records, small_limits.staff, grace_hopper_path(), "photo.jpg")
    assert asset.kind == "image"


def test_a_limit_below_one_is_a_setting_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="VEIL_MAX_VIDEO_MB must be 1 or more"):
        load_settings(env={"VEIL_MAX_VIDEO_MB": "0"}, secrets_file=tmp_path / "none.toml")


def _uploader(at, label: str):
    return widget(at, "file_uploader", label).proto


def test_the_intake_uploaders_offer_only_photo_video_and_pdf_types_with_the_installations_limits(small_limits):
    at = app(small_limits.staff, "app_pages/intake.py").run()
    media, pdf = _uploader(at, "Photos and videos"), _uploader(at, "Consent PDF")
    assert {".jpg", ".png", ".heic", ".mp4", ".mov"} <= set(media.type)
    assert not {".pdf", ".gif", ".exe", ".zip"} & set(media.type)
    assert list(pdf.type) == [".pdf"]
    assert media.max_upload_size_mb == 200       # the larger of photos (the engine's 200 MB) and videos (1 MB)
    assert pdf.max_upload_size_mb == 1
    assert "videos up to 1 MB; at most 2 files at a time" in media.help


def test_a_batch_with_more_files_than_allowed_is_refused_with_the_reason(small_limits):
    at = app(small_limits.staff, "app_pages/intake.py").run()
    widget(at, "file_uploader", "Consent PDF").set_value(("consent.pdf", covered_consent_pdf(), "application/pdf"))
    photo = grace_hopper_path().read_bytes()
    widget(at, "file_uploader", "Photos and videos").set_value(
        [(f"photo{i}.jpg", photo, "image/jpeg") for i in range(3)])
    widget(at, "text_input", "Patient's name").input(PATIENT[0])
    at = widget(at.run(), "text_input", "Patient reference").input(PATIENT[1]).run()
    assert "3 files are more than the 2 one batch may hold" in texts(at)
    assert widget(at, "button", "Register and de-identify 3 file(s)").disabled


def test_the_pages_never_offer_more_than_the_servers_ceiling_for_one_upload():
    ceiling = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    settings = load_settings(env={"VEIL_MAX_VIDEO_MB": str(ceiling * 4)}, secrets_file=Path("/nonexistent"))
    limits = upload_limits(settings, ceiling)
    assert limits.video == ceiling and limits.media <= ceiling and limits.photo == MAX_FILE_BYTES // MB


# -- nothing readable by other users ----------------------------------------------------------------------
def test_a_settings_file_readable_by_other_users_is_refused_with_the_fix(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nclient_secret = "s3cret"\n')
    secrets.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by other users \(mode 644\); run `chmod 600"):
        load_settings(env={}, secrets_file=secrets)
    secrets.chmod(0o600)
    load_settings(env={}, secrets_file=secrets)


def test_the_data_folder_key_file_and_blobs_are_for_this_account_alone_even_if_made_open(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir(mode=0o755)
    (tmp_path / "data").chmod(0o755)             # someone made it before Veil's first start, open to all
    records = open_installation(tmp_path, monkeypatch)
    try:
        services.add_user(records, services.SYSTEM, "admin", "admin-password-1", "admin")
        modes = {p: stat.S_IMODE(p.stat().st_mode) for p in
                 (records.settings.data_dir, records.settings.key_file, records.settings.blob_dir)}
    finally:
        records.close()
    assert modes == {records.settings.data_dir: 0o700, records.settings.key_file: 0o600,
                     records.settings.blob_dir: 0o700}
