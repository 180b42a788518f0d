"""Issue 2 in a real browser: upload a photo, see both images side by side, download a clean copy."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_support import ARTIFACTS, chromium_page, streamlit_app
from conftest import PLANTED
from deid.metadata import identifying_tags

pytestmark = pytest.mark.browser


def test_upload_photo_see_regions_and_download_a_clean_copy(planted_jpeg, tmp_path):
    bad = tmp_path / "scan_notes.jpg"
    bad.write_bytes(b"this is not a photo")
    with streamlit_app({"VEIL_DATA_DIR": str(tmp_path / "data")}) as url, chromium_page() as page:
        page.goto(url)
        page.get_by_text("De-identify photos").first.wait_for()
        page.locator("input[type=file]").set_input_files([str(planted_jpeg), str(bad)])
        page.get_by_role("button", name=re.compile(r"De-identify 2 file")).click()
        page.get_by_text("De-identified and verified").wait_for()
        page.get_by_text("not a photo or video format").wait_for()
        page.get_by_text(re.compile("file name contains a date")).first.wait_for()
        assert page.locator("img").count() >= 2
        page.screenshot(path=str(ARTIFACTS / "deidentify-results.png"), full_page=True)
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download").click()
        download = download_info.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
    assert re.fullmatch(r"[0-9a-f]{32}\.jpg", saved.name)
    assert identifying_tags(saved) == []
    assert all(value.encode() not in saved.read_bytes() for value in PLANTED.values())
