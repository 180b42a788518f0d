"""Issue 14's review in Chromium: a photo with a T-shirt slogan shows its text region in the text colour,
named in words beside the face's; the reviewer removes it (it stays readable on the re-rendered output) and
then draws it again as writing, and the re-render covers it as text. Screenshots go to
test-artifacts/review/."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from browser_support import ARTIFACTS, chromium_page, streamlit_app
from records import services
from records.audit import SYSTEM
from review_fixtures import labelled_photo, region_over
from test_browser_journey import VIEWPORT, Journey
from ui.views import REGION_COLOURS
from ui_fixtures import PASSWORDS, PATIENT, covered_consent_pdf, open_installation

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 512, 600   # grace_hopper


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])


def _edge_pixels(page, box: list[int], colour: str) -> int:
    """How many pixels of `colour` lie on the top edge of `box` (image px) as the picture is drawn."""
    picture = page.locator('[data-testid="stVegaLiteChart"] svg.marks image').first
    seen = page.screenshot(clip=picture.bounding_box())
    shown = np.asarray(Image.open(io.BytesIO(seen)).convert("RGB")).astype(int)
    scale = shown.shape[1] / WIDTH
    x0, y0, x1 = (round(v * scale) for v in box[:3])
    band = shown[max(0, y0 - 6):y0 + 6, x0 + 8:x1 - 8]
    return int((np.abs(band - _rgb(colour)).sum(axis=2) < 60).sum())


def _drag(page, start: tuple[int, int], end: tuple[int, int]) -> None:
    """Drag a rectangle on the review picture from `start` to `end`, in image pixels of the picture itself
    (the <image> the chart draws; the chart's own box may be larger)."""
    picture = page.locator('[data-testid="stVegaLiteChart"] svg.marks image').first
    picture.scroll_into_view_if_needed()
    shown = picture.bounding_box()
    at = [(shown["x"] + x * shown["width"] / WIDTH, shown["y"] + y * shown["height"] / HEIGHT)
          for x, y in (start, end)]
    page.mouse.move(*at[0])
    page.mouse.down()
    page.mouse.move(*at[1], steps=12)
    page.mouse.up()


def _newest(records, actor, asset_id):
    return [o for o in services.list_outputs(records, actor, asset_id) if not o.superseded][-1]


def test_a_text_region_is_shown_in_its_colour_removed_and_drawn_again_as_text(tmp_path, monkeypatch):
    records = open_installation(tmp_path, monkeypatch)
    admin = services.add_user(records, SYSTEM, "admin", PASSWORDS["admin"], "admin")
    sam = services.add_user(records, admin, "sam", PASSWORDS["sam"], "staff")
    consent = services.register_consent(records, sam, covered_consent_pdf(), *PATIENT)
    photo, slogan = labelled_photo(tmp_path / "shirt.png")
    asset = services.upload_media(records, sam, photo, "shirt.png", consent.id)
    output = services.process(records, sam, asset.id)
    number = region_over(output, slogan)
    box = output.regions[number - 1]
    with streamlit_app(tmp_path) as url, chromium_page(VIEWPORT) as page:
        you = Journey(page, ARTIFACTS / "review")
        try:
            page.goto(url)
            you.sign_in("sam")
            you.go("Review")
            you.see("Text or code found")                 # the legend says in words what each colour is
            you.see(f"#{number} · text")                  # the slogan's card, its crop beside the choice
            assert _edge_pixels(page, box, REGION_COLOURS["text"]) > 20
            assert _edge_pixels(page, output.regions[0], REGION_COLOURS["face"]) > 20
            you.shot("review-text-region-in-its-colour")

            you.tick(f"Remove #{number} (text)")
            assert _edge_pixels(page, box, REGION_COLOURS["to remove"]) > 5
            you.click("Re-render with these changes")
            _rerendered_by_a_worker(you)
            removed = _newest(records, admin, asset.id)
            assert removed.regions_removed == [box] and box not in removed.regions and removed.error is None
            you.shot("review-slogan-left-visible")

            margin = 4
            _drag(page, (box[0] - margin, box[1] - margin), (box[2] + margin, box[3] + margin))
            page.wait_for_function("() => { const b = [...document.querySelectorAll('button')]"
                                   ".find(b => b.innerText.includes('Add this region')); return b && !b.disabled; }")
            you.settle()
            page.locator('[data-testid="stRadio"]').get_by_text(re.compile("^Writing or a code")).click()
            you.settle()
            you.click("Add this region")
            you.see("Regions you drew")
            you.shot("review-slogan-drawn-as-text")
            you.click("Re-render with these changes")
            _rerendered_by_a_worker(you)
            drawn = _newest(records, admin, asset.id)
            (added,) = drawn.regions_added
            assert added[4:] == ["text"], added
            assert all(abs(a - b) <= margin + 3 for a, b in zip(added, [*box[:3], min(HEIGHT, box[3] + margin)])), \
                f"the region drawn is where the mouse went: {added} around {box}"
            assert drawn.region_kinds[drawn.regions.index(added[:4])] == "text"
            you.shot("review-slogan-covered-as-text")
        finally:
            you.shot("review-last-view")
    records.close()


def _rerendered_by_a_worker(you) -> None:
    """The page queued the re-render; a worker of the app's pool renders it (slow on a loaded 2-core machine)
    and the page then moves to the new output with its note."""
    you.see(re.compile(r"Re-rendered as output \w+: \d+ region\(s\); verified"), timeout=180_000)
