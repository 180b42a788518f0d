"""A consent signed on a tablet, in Debian's Chromium with a touch screen: staff fill in the patient's
details, the patient ticks their choices and draws a signature (touch strokes and a mouse stroke on the
pad), the form is sealed and registered, and the consent reads covered with the chosen platforms. A photo
under it then passes the release gate after the usual human steps (done through the services the other
pages call). A second patient leaves the social-media box empty: not covered, and the gate refuses.
An empty pad is refused first, and nothing is stored. Screenshots go to test-artifacts/tablet/."""
from __future__ import annotations

import re

import pytest

from browser_support import ARTIFACTS, chromium_page, installation_env, streamlit_app
from conftest import grace_hopper_path
from consent.form_versions import current_version
from consent.signatures import check_signatures
from consent.signed_form import form_properties
from records import services
from records.config import load_settings
from records.signing import trust_roots
from test_browser_journey import Journey
from ui_fixtures import copy_installation, people_template  # noqa: F401

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "tablet"
TABLET = {"width": 1024, "height": 1366}   # a 12.9-inch tablet, upright, with a touch screen
AUTHORIZE = "I authorize the clinic to publish these photographs and videos on its own social media accounts, " \
            "on the platforms I tick below:"


class Tablet(Journey):
    """Staff and the patient at the tablet: the journey's person, with a touch screen and a signature pad."""

    def __init__(self, page):
        super().__init__(page, SHOTS)
        self.cdp = page.context.new_cdp_session(page)

    def date(self, label: str, year: str, month: str, day: str) -> None:
        """Streamlit's date input: one spin button per part, typed into in turn."""
        for part, value in (("year", year), ("month", month), ("day", day)):
            self.page.get_by_role("spinbutton", name=f"{part}, {label}", exact=True).click()
            self.page.keyboard.type(value)
        self.page.keyboard.press("Tab")
        self.settle()

    def pad(self) -> dict:
        canvas = self.page.locator('[data-testid="stBidiComponent"] canvas, canvas').last
        canvas.scroll_into_view_if_needed()
        return canvas.bounding_box()

    def touch_stroke(self, points: list[tuple[float, float]]) -> None:
        """A finger on the pad: touchStart, touchMoves, touchEnd (points as fractions of the pad)."""
        box = self.pad()
        at = [{"x": box["x"] + fx * box["width"], "y": box["y"] + fy * box["height"]} for fx, fy in points]
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [at[0]]})
        for point in at[1:]:
            self.cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        self.page.wait_for_timeout(600)

    def mouse_stroke(self, points: list[tuple[float, float]]) -> None:
        """A stylus read as a mouse: press, move, release."""
        box = self.pad()
        mouse = self.page.mouse
        mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
        mouse.down()
        for fx, fy in points[1:]:
            mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=3)
        mouse.up()
        self.page.wait_for_timeout(600)

    def sign(self) -> None:
        self.touch_stroke([(0.1 + 0.012 * i, 0.5 + 0.25 * (-1) ** (i // 4) * (i % 4) / 4) for i in range(50)])
        self.mouse_stroke([(0.2 + 0.02 * i, 0.25 + 0.025 * i) for i in range(20)])

    def staff_details(self, name: str, reference: str) -> None:
        self.go("New consent")
        self.settle()
        self.fill("Patient's name", name)
        self.fill("Patient reference (record number)", reference)
        self.fill("Clinic making the disclosure", "Example Clinic")
        self.page.get_by_label("Description of the photographs and videos").fill("Before-and-after photographs")
        self.click("Hand the tablet to the patient")
        self.see(current_version("en").spec["title"])


def test_a_patient_signs_on_a_tablet_and_the_photo_is_released(tmp_path, people_template):
    template, actors = people_template
    copy_installation(template, tmp_path)
    with streamlit_app(tmp_path) as url, chromium_page(TABLET, has_touch=True) as page:
        you = Tablet(page)
        page.goto(url)
        you.sign_in("sam")
        you.staff_details("Ada Example", "MRN-000123")
        you.shot("the-patient-reads-the-form")

        # An empty pad is refused and nothing is stored.
        you.tick(AUTHORIZE)
        you.click(re.compile("sign and confirm"))
        you.see(re.compile("Not signed: the signature pad is empty"))
        you.shot("an-empty-signature-is-refused")

        for label in ("Instagram", "Facebook", "Identifiable: my face may be shown and I may be recognizable.",
                      "I also authorize the clinic to publish them on its own website."):
            you.tick(label)
        you.date("This authorization expires on this date:", "2030", "06", "30")
        you.sign()
        you.shot("choices-ticked-and-signature-drawn")
        you.click(re.compile("sign and confirm"))
        you.see(re.compile(r"Signed and sealed; registered as consent \w+"))
        you.see("covered")
        assert page.get_by_text("Platforms: instagram, facebook").count() == 1
        you.shot("sealed-registered-covered")

        with page.expect_download() as download:
            you.click("Download the patient's copy")
        copy = download.value.path().read_bytes()
        you.click("Print view")
        page.frame_locator("iframe").first.get_by_role("button", name="Print").wait_for()
        you.shot("the-patients-copy-print-view")

        # The second patient leaves the social-media box empty.
        you.click("Start a new consent")
        you.staff_details("Bea Example", "MRN-000124")
        for label in ("Instagram", "De-identified only: my face must be blurred or cropped out so that I cannot "
                                   "be recognized."):
            you.tick(label)
        you.sign()
        you.click(re.compile("sign and confirm"))
        you.see(re.compile(r"Signed and sealed; registered as consent \w+"))
        you.see("not covered")
        you.shot("social-media-declined-not-covered")

    records = services.open_records(load_settings(env=installation_env(tmp_path)))
    try:
        _the_copy_is_the_sealed_consent(records, copy)
        covered, declined = sorted(services.list_consents(records, actors["admin"]), key=lambda c: c.registered_at)
        assert (covered.social_media, covered.platforms, covered.identifiable, covered.expires, covered.signed,
                covered.signature_valid) == ("covered", ["instagram", "facebook"], "allowed", "2030-06-30", True, True)
        assert declined.social_media == "not_covered" and declined.signature_valid is True
        assert _release(records, actors, covered.id, covers=True).allowed
        refused = _release(records, actors, declined.id, covers=False)
        assert not refused.allowed and "not_covered" in refused.codes
        events = services.audit_events(records, actors["admin"])
        signed = [e["details"]["signed_in_veil"] for e in events if e["action"] == "consent.registered"]
        assert [s["witness"] for s in signed] == ["sam", "sam"]
        offered = [e["details"]["channel"] for e in events if e["action"] == "consent.copy_offered"]
        assert sorted(offered) == ["download", "print"]
    finally:
        records.close()


def _the_copy_is_the_sealed_consent(records, copy: bytes) -> None:
    checks = check_signatures(copy, trust_roots(records))
    assert [(c.intact, c.trusted) for c in checks] == [(True, True)]
    assert form_properties(copy)["form_sha256"] == current_version("en").sha256


def _release(records, actors, consent_id: str, *, covers: bool):
    """The usual human steps after the signing: a photo under the consent, de-identified; staff confirm it
    is this patient and review it; marketing confirms the scope and approves (a second person)."""
    staff, marketing = actors["staff"], actors["marketing"]
    asset = services.upload_media(records, staff, grace_hopper_path(), "photo.jpg", consent_id)
    output = services.process(records, staff, asset.id)
    services.confirm_patient(records, staff, asset.id)
    services.mark_reviewed(records, staff, output.id)
    services.confirm_scope(records, marketing, consent_id, covers_social_media=covers,
                           identifiable="deidentified_only", platforms=["instagram"] if covers else [])
    release = services.request_release(records, marketing, output.id, "instagram")
    return services.approve_release(records, marketing, release.id)
