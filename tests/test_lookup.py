"""Look-up: given any file, find its output, release and consent, by SHA-256 or, for a copy a social
network resized and re-compressed, by perceptual hash; videos by the hashes of sampled frames."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image, ImageEnhance

from conftest import ROOT
from records import services as sv
from records_fixtures import (add_people, consent_pdf, grace_hopper_path, plain_photo, processed,
                              quick_password_hashing, reencode_like_a_social_network, register,  # noqa: F401
                              sqlite_records, synthetic_clip)


@pytest.fixture
def clinic(sqlite_records):
    return sqlite_records, add_people(sqlite_records)


def release(records, people, output_id, platform="instagram"):
    request = sv.request_release(records, people.staff, output_id, platform)
    decision = sv.approve_release(records, people.marketing, request.id)
    assert decision.allowed, decision.as_dict()
    return decision.release_id


def published_file(records, people, release_id, folder):
    package = sv.export_package(records, people.marketing, [release_id], folder)
    return next(p for p in package.iterdir() if p.name != "manifest.json")


def as_social_network_would(path, target, width=1080, quality=70):
    with Image.open(path) as img:
        height = round(img.height * width / img.width)
        img.convert("RGB").resize((width, height), Image.LANCZOS).save(target, "JPEG", quality=quality)
    return target


def test_the_exact_released_file_is_found_by_sha256_with_its_release_and_consent(clinic, tmp_path):
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, consent_id=consent.id)
    release_id = release(records, people, output.id)
    result = sv.find_file(records, people.auditor, published_file(records, people, release_id, tmp_path / "out"))
    assert result.exact
    match = result.matches[0]
    assert (match.what, match.how, match.distance, match.output_id) == ("output", "sha256", 0, output.id)
    assert match.consent["id"] == consent.id and match.consent["status"] == "active"
    assert match.releases[0]["id"] == release_id and match.releases[0]["platform"] == "instagram"


def test_a_released_jpeg_resized_to_1080_wide_and_recompressed_at_quality_70_is_found(clinic, tmp_path):
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, consent_id=consent.id)
    _, other = processed(records, people, plain_photo(tmp_path / "other.jpg", seed=3), consent_id=consent.id)
    release_id = release(records, people, output.id)
    posted = as_social_network_would(published_file(records, people, release_id, tmp_path / "out"),
                                     tmp_path / "downloaded_from_instagram.jpg")
    with Image.open(posted) as img:
        assert img.width == 1080
    result = sv.find_file(records, people.auditor, posted)
    assert not result.exact
    best = result.matches[0]
    assert best.output_id == output.id and best.how == "perceptual" and best.distance <= 6
    assert best.releases[0]["id"] == release_id and best.consent["id"] == consent.id
    assert other.id not in [m.output_id for m in result.matches]


def test_an_unrelated_photo_matches_nothing(clinic, tmp_path):
    records, people = clinic
    consent = register(records, people)
    processed(records, people, consent_id=consent.id)
    processed(records, people, plain_photo(tmp_path / "a.jpg", seed=1), consent_id=consent.id)
    from skimage import data

    stranger = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(stranger, "JPEG", quality=80)
    assert sv.find_file(records, people.auditor, stranger).matches == []


def test_before_and_after_shots_in_the_same_pose_are_both_ranked_with_their_distances(clinic, tmp_path):
    records, people = clinic
    consent = register(records, people)
    before = grace_hopper_path()
    with Image.open(before) as img:   # the same pose, the lower half treated (brighter, smoother)
        after_img = img.convert("RGB")
        lower = after_img.crop((0, 300, after_img.width, after_img.height))
        after_img.paste(ImageEnhance.Brightness(lower).enhance(1.6), (0, 300))
        after_img.save(tmp_path / "after.jpg", "JPEG", quality=92)
    _, out_before = processed(records, people, before, consent_id=consent.id)
    _, out_after = processed(records, people, tmp_path / "after.jpg", consent_id=consent.id)
    release_id = release(records, people, out_after.id)
    posted = as_social_network_would(published_file(records, people, release_id, tmp_path / "out"),
                                     tmp_path / "posted.jpg")
    result = sv.find_file(records, people.auditor, posted)
    ranked = [(m.output_id, m.distance) for m in result.matches]
    assert [output_id for output_id, _ in ranked] == [out_after.id, out_before.id]
    assert ranked[0][1] < ranked[1][1]


def test_a_video_reencoded_smaller_with_fewer_frames_is_found_by_its_sampled_frames(clinic, tmp_path):
    records, people = clinic
    consent = register(records, people)
    _, clip_out = processed(records, people, synthetic_clip(tmp_path / "clip.mp4", seed=1), consent_id=consent.id,
                            original_name="clip.mp4")
    _, other_out = processed(records, people, synthetic_clip(tmp_path / "other.mp4", seed=2), consent_id=consent.id,
                             original_name="other.mp4")
    assert clip_out.kind == "video" and clip_out.error is None, clip_out
    release_id = release(records, people, clip_out.id, "tiktok")
    published = published_file(records, people, release_id, tmp_path / "out")
    reposted = reencode_like_a_social_network(published, tmp_path / "reposted.mp4", scale=0.5, keep_every=2)
    result = sv.find_file(records, people.auditor, reposted)
    assert result.kind == "video" and not result.exact
    assert result.matches[0].output_id == clip_out.id
    assert result.matches[0].releases[0]["platform"] == "tiktok"
    assert other_out.id not in [m.output_id for m in result.matches]


def test_an_original_and_a_consent_pdf_are_found_too(clinic, tmp_path):
    records, people = clinic
    pdf = consent_pdf()
    consent = register(records, people, pdf)
    photo = plain_photo(tmp_path / "p.jpg", seed=5)
    asset, _ = processed(records, people, photo, consent_id=consent.id)
    found = sv.find_file(records, people.auditor, photo)
    assert [(m.what, m.asset_id) for m in found.matches if m.how == "sha256"] == [("original", asset.id)]
    (tmp_path / "c.pdf").write_bytes(pdf)
    found = sv.find_file(records, people.auditor, tmp_path / "c.pdf")
    assert [(m.what, m.consent_id) for m in found.matches] == [("consent_pdf", consent.id)]


def test_every_lookup_is_audited_by_the_files_hash(clinic, tmp_path):
    records, people = clinic
    photo = plain_photo(tmp_path / "q.jpg", seed=9)
    result = sv.find_file(records, people.auditor, photo)
    event = sv.audit_events(records, people.admin, action="lookup")[0]
    assert event["details"]["sha256"] == result.sha256 and event["actor"] == "ada.auditor"


def test_cli_lookup_prints_matches_as_json_and_fails_for_a_missing_file(clinic, tmp_path):
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, consent_id=consent.id)
    release_id = release(records, people, output.id)
    posted = as_social_network_would(published_file(records, people, release_id, tmp_path / "out"),
                                     tmp_path / "posted.jpg")
    settings = records.settings
    env = {**os.environ, "VEIL_DATA_DIR": str(settings.data_dir), "VEIL_KEY_FILE": str(settings.key_file),
           "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "records", "lookup", str(posted), "--json"], capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    [entry] = json.loads(run.stdout)
    assert entry["matches"][0]["output_id"] == output.id and entry["matches"][0]["how"] == "perceptual"
    human = subprocess.run([sys.executable, "-m", "records", "lookup", str(posted), str(tmp_path / "gone.jpg")],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert human.returncode == 1
    assert "perceptual distance" in human.stdout and "instagram released" in human.stdout
    assert "gone.jpg: file not found" in human.stdout
