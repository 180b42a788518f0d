"""The presentation helpers the pages share: badges, highlighted evidence, the drawn rectangle, exports."""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from types import SimpleNamespace

from ui.views import brushed_box, consent_state, events_csv, events_json, highlight, zip_folder

TODAY = dt.date(2026, 5, 1)


def _consent(status="active", ends=None):
    return SimpleNamespace(status=status, effective_expiry=ends)


def test_badges_follow_status_and_the_end_date():
    assert consent_state(_consent(), TODAY) == "active"
    assert consent_state(_consent(ends="2026-12-31"), TODAY) == "active"
    assert consent_state(_consent(ends="2026-05-31"), TODAY) == "expiring"
    assert consent_state(_consent(ends="2026-05-01"), TODAY) == "expired"
    assert consent_state(_consent("expired"), TODAY) == "expired"
    assert consent_state(_consent("revoked", "2026-05-31"), TODAY) == "revoked"
    assert consent_state(_consent("superseded"), TODAY) == "superseded"


def test_evidence_keeps_its_words_and_highlights_the_ones_the_verdict_rests_on():
    text = highlight("I do not authorize posting on TikTok [see 2*3].")
    assert ":orange-background[**not**]" in text and ":orange-background[**TikTok**]" in text
    assert "\\[see 2\\*3\\]" in text            # quoted text cannot inject Markdown or directives


def test_a_dragged_rectangle_becomes_whole_pixels_clipped_to_the_picture():
    selection = {"draw": {"x0": [120.7, -5.0], "y0": [30.2, 640.0]}}
    assert brushed_box(selection, "draw", 512, 600) == [0, 30, 121, 600]
    assert brushed_box({"draw": {}}, "draw", 512, 600) is None
    assert brushed_box(None, "draw", 512, 600) is None
    assert brushed_box({"draw": {"x0": [10, 10], "y0": [1, 5]}}, "draw", 512, 600) is None


def test_exports_hold_every_event(tmp_path):
    events = [{"seq": 1, "at": "2026-05-01T10:00:00", "actor": "sam", "action": "media.uploaded",
               "subject_kind": "asset", "subject_id": "a1", "details": {"kind": "image"}, "hash": "ab"}]
    assert events_csv(events).splitlines()[1] == \
        '1,2026-05-01T10:00:00,sam,media.uploaded,asset,a1,"{""kind"": ""image""}",ab'
    assert json.loads(events_json(events)) == events
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "abc.jpg").write_bytes(b"x")
    with zipfile.ZipFile(io.BytesIO(zip_folder(tmp_path))) as archive:
        assert sorted(archive.namelist()) == ["abc.jpg", "manifest.json"]
