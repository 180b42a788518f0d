"""Issue 13 in Debian's Chromium, the points about pages: a refusal offers the action that clears it (4),
pictures and readable labels where decisions are made, look-up for marketing (6), sessions that survive a
reload and deep links (8), and the review editor at the picture's true aspect ratio.

One app is served for the module and each journey opens a fresh browser context (its own cookies); what is
not the point of a journey is set up through records.services, as the pages would."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, installation_env, streamlit_app
from records import services
from records.config import load_settings
from test_browser_journey import Journey
from ui_fixtures import PASSWORDS, Veil, copy_installation, covered_consent_pdf, processed_photo, register
from ui_fixtures import people_template  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "workflow-pages"
VIEWPORT = {"width": 1400, "height": 1800}
COOKIE = "veil_session"


@dataclass
class Served:
    url: str
    veil: Veil
    browser: object
    pdfs: dict    # patient's name -> a covered, digitally signed consent (signed before Playwright's loop runs)

    def consent(self, patient: tuple[str, str]):
        return register(self.veil, self.pdfs[patient[0]], patient=patient)   # one document per patient


@pytest.fixture(scope="module")
def served(tmp_path_factory, people_template):
    """The app served on an installation with its four users, the same records open here for set-up, and
    one Chromium for every journey of the module."""
    from playwright.sync_api import sync_playwright

    template, actors = people_template
    base = tmp_path_factory.mktemp("veil-pages")
    copy_installation(template, base)
    records = services.open_records(load_settings(env=installation_env(base), secrets_file=base / "no-secrets.toml"))
    veil = Veil(records, actors["admin"], actors["staff"], actors["marketing"], actors["auditor"])
    pdfs = {name: covered_consent_pdf(patient=name)
            for name in ("Bea Example", "Zed Decoy", "Cleo Example", "Dora Example", "Edna Example")}
    with streamlit_app(base) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield Served(url, veil, browser, pdfs)
        finally:
            browser.close()
            records.close()


class Visit(Journey):
    """A person at a fresh browser (no cookies), screenshots into test-artifacts/workflow-pages/."""

    def __init__(self, served: Served, name: str):
        self.context = served.browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        page = self.context.new_page()
        page.set_default_timeout(60_000)
        super().__init__(page)
        self.url, self.name = served.url, name

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.settle()
        self.page.screenshot(path=str(SHOTS / f"{self.name}-{name}.png"), full_page=True)

    def open(self, path: str = "") -> None:
        self.page.goto(f"{self.url}/{path}")
        self.settle()

    def sign_in_at(self, username: str, landing_heading: str) -> None:
        self.fill("User name", username)
        self.fill("Password", PASSWORDS[username])
        self.click("Sign in")
        self.page.locator("h1").get_by_text(landing_heading, exact=True).first.wait_for()
        self.settle()

    def heading(self) -> str:
        return self.page.locator("h1").first.inner_text()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(served):
    """Opens a fresh browser context per call; all are closed after the test."""
    opened = []

    def start(name: str) -> Visit:
        opened.append(Visit(served, name))
        return opened[-1]

    yield start
    for v in opened:
        v.close()


def _not_found(page) -> bool:
    return page.get_by_text("The page that you have requested does not seem to exist").count() > 0


# -- point 8: sessions survive a reload; deep links land after sign-in; sign-out voids the cookie ----------
def test_a_deep_link_lands_after_sign_in_and_a_reload_keeps_the_session_until_sign_out(served, visit):
    you = visit("session")
    you.open("review")
    you.see("Sign in")
    assert not _not_found(you.page), "a deep link must show the sign-in, not 'Page not found'"
    you.sign_in_at("sam", "Review")                      # lands on the page asked for, not the start page

    you.page.reload()
    you.page.locator("h1").first.wait_for()
    you.settle()
    assert you.heading() == "Review" and not _not_found(you.page)
    assert you.page.get_by_text("Signed in as").count() == 1
    (cookie,) = [c for c in you.context.cookies() if c["name"] == COOKIE]
    assert cookie["sameSite"] == "Strict" and cookie["value"] not in you.page.url
    assert cookie["expires"] > 0                          # an expiring cookie, not one for ever
    you.shot("reloaded-still-signed-in")

    you.click("Sign out")
    you.page.get_by_role("button", name="Sign in").wait_for()
    you.page.reload()
    you.settle()
    you.page.get_by_role("button", name="Sign in").wait_for()
    assert you.page.get_by_text("Signed in as").count() == 0

    # the cookie as it was before signing out, replayed in another browser: the server revoked it
    other = visit("session-replayed")
    other.context.add_cookies([{**cookie, "sameSite": "Strict"}])
    other.open("review")
    other.page.get_by_role("button", name="Sign in").wait_for()
    assert other.page.get_by_text("Signed in as").count() == 0

    # a forged cookie (its signature altered) is refused too
    forged = visit("session-forged")
    forged.context.add_cookies([{**cookie, "value": cookie["value"][:-4] + "0000"}])
    forged.open("")
    forged.page.get_by_role("button", name="Sign in").wait_for()
    assert forged.page.get_by_text("Signed in as").count() == 0


# -- point 4: every refusal offers the action that clears it ------------------------------------------------
def test_a_refusal_offers_its_fixes_on_the_release_page_even_for_a_reviewed_output(served, visit):
    veil = served.veil
    patient = ("Bea Example", "MRN-000456")
    consent = served.consent(patient)
    asset, output = processed_photo(veil, consent.id)
    services.mark_reviewed(veil.records, veil.staff, output.id)        # reviewed: gone from the Review list
    release = services.request_release(veil.records, veil.staff, output.id, "instagram")
    assert not services.approve_release(veil.records, veil.marketing, release.id).allowed
    served.consent(("Zed Decoy", "MRN-000999"))           # newer: the Consents page would show it first

    you = visit("fix")
    you.open()
    you.sign_in_at("mia", "Welcome, mia")
    you.go("Release")
    card = you.page   # the only release of the installation so far
    card.get_by_text("no person has confirmed that the consent belongs to the patient in the media").first.wait_for()
    you.shot("refusal-with-its-fixes")

    # scope: one click to the consent on the Consents page (marketing confirms it there)
    card.get_by_role("button", name=re.compile("Confirm the scope")).click()
    you.page.locator("h1").get_by_text("Consents", exact=True).wait_for()
    you.see(f"Consent {consent.id[:8]}")
    you.settle()
    assert you.page.locator("h3").filter(has_text=f"Consent {consent.id[:8]}").count() == 1
    services.confirm_scope(veil.records, veil.marketing, consent.id, covers_social_media=True,
                           identifiable="deidentified_only", platforms=["instagram"])

    # same patient: confirmed right on the Release page, beside the picture and the consent's patient
    you.go("Release")
    card.get_by_text(patient[0]).first.wait_for()
    card.get_by_role("button", name=re.compile("the person in this media is the patient")).click()
    you.see("A person confirmed that this media shows the patient of the consent")
    you.click("Check the gate again and approve")
    you.see(re.compile(rf"Release {release.id[:8]} approved for instagram: every rule holds"))
    you.shot("fixed-and-approved")


# -- point 6: pictures and labels people read where decisions are made; look-up for marketing ----------
def test_release_takedowns_and_review_show_thumbnails_and_patient_labels(served, visit, tmp_path):
    veil = served.veil
    patient = ("Cleo Example", "MRN-000789")
    consent = served.consent(patient)
    asset, output = processed_photo(veil, consent.id)
    services.confirm_patient(veil.records, veil.staff, asset.id)
    services.mark_reviewed(veil.records, veil.staff, output.id)
    services.confirm_scope(veil.records, veil.marketing, consent.id, covers_social_media=True,
                           identifiable="deidentified_only", platforms=["instagram"])
    release = services.request_release(veil.records, veil.staff, output.id, "instagram")
    assert services.approve_release(veil.records, veil.marketing, release.id).allowed
    name, data = services.download_output(veil.records, veil.marketing, output.id)
    copy = tmp_path / name
    copy.write_bytes(data)
    other = served.consent(("Dora Example", "MRN-000321"))
    _, waiting = processed_photo(veil, other.id)                          # waits for review
    services.request_release(veil.records, veil.staff, waiting.id, "facebook")

    you = visit("pictures")
    you.open()
    you.sign_in_at("mia", "Welcome, mia")
    you.go("Release")
    expect(you.page.get_by_text(patient[0]).locator("visible=true").first).to_be_visible()
    you.settle()
    thumbs = you.page.locator('[data-testid="stImage"] img')
    expect(thumbs.first).to_be_visible()
    assert thumbs.count() >= 2                                     # the request being decided, and the chosen one
    assert you.page.evaluate("() => [...document.querySelectorAll('[data-testid=stImage] img')]"
                             ".every(i => i.complete && i.naturalWidth > 0)")
    assert not re.search(r"output [0-9a-f]{8}", you.page.locator("[data-testid=stMain]").first.inner_text())
    you.shot("release")

    services.revoke_consent(veil.records, veil.marketing, consent.id, "withdrawn")
    you.go("Takedowns", "Takedown tasks")
    you.see(patient[0])
    expect(you.page.locator('[data-testid="stImage"] img').first).to_be_visible()
    you.upload("File to look up", copy)                           # marketing may look a copy up right here
    you.see(re.compile(r"the exact file"))
    you.shot("takedowns")

    you.go("Review")
    you.see("Dora Example")
    expect(you.page.locator('[data-testid="stImage"] img').first).to_be_visible()
    you.shot("review")


# -- the review editor keeps the picture's true aspect ratio -------------------------------------------------
def test_the_review_editor_shows_the_picture_at_its_true_aspect_ratio(served, visit):
    veil = served.veil
    consent = served.consent(("Edna Example", "MRN-000654"))
    asset, output = processed_photo(veil, consent.id)   # grace_hopper.jpg: 512 x 600, portrait

    you = visit("aspect")
    you.open()
    you.sign_in_at("sam", "Welcome, sam")
    you.go("Review")   # the newest output waiting is shown first: this one
    picture = you.page.locator('[data-testid="stVegaLiteChart"] svg.marks image').first   # the original
    picture.wait_for()
    box = picture.bounding_box()
    you.shot("editor")
    assert abs(box["width"] / box["height"] - 512 / 600) < 0.02, box
