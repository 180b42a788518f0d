"""Issue 7's journey in Debian's Chromium: an administrator creates a staff and a marketing user; staff
uploads a photo and a consent PDF; review adds a region and confirms; marketing confirms the scope and
releases; the package is downloaded and its manifest checked; an auditor verifies the chain, exports the
log and finds the released file by look-up; marketing revokes the consent and a takedown task appears. A
screenshot of each step goes to test-artifacts/journey/."""
from __future__ import annotations

import csv
import hashlib
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from browser_support import ARTIFACTS, chromium_page, streamlit_app
from conftest import PLANTED
from deid.metadata import identifying_tags
from deid.verify import IMAGE_ALLOWED
from ui.views import CHECKLIST
from ui_fixtures import PATIENT, PASSWORDS, covered_consent_pdf

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "journey"
VIEWPORT = {"width": 1400, "height": 1800}   # tall: Streamlit scrolls inside the page, so screenshots show the view


class Journey:
    """A person at the browser: Streamlit widgets found by their labels, a screenshot per step."""

    def __init__(self, page, shots: Path = SHOTS):
        self.page = page
        self.step = 0
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> None:
        self.step += 1
        self.settle()
        path = str(self.shots / f"{self.step:02d}-{name}.png")
        try:
            self.page.screenshot(path=path)
        except PlaywrightError:   # Chromium now and then refuses a capture mid-paint; once more is enough
            self.page.wait_for_timeout(500)
            self.page.screenshot(path=path)

    def see(self, text: str | re.Pattern, timeout: float | None = None) -> None:
        self.page.get_by_text(text).first.wait_for(timeout=timeout)
        self.settle()

    def fill(self, label: str, value: str) -> None:
        field = self.page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Tab")
        self.settle()

    def click(self, name: str | re.Pattern) -> None:
        self.page.get_by_role("button", name=name).first.click()

    def go(self, nav_label: str, heading: str | None = None) -> None:
        self.page.locator('[data-testid="stSidebarNav"]').get_by_text(nav_label, exact=True).click()
        self.page.locator("h1").get_by_text(heading or nav_label, exact=True).first.wait_for()

    def upload(self, uploader_label: str, *paths) -> None:
        box = self.page.locator('[data-testid="stFileUploader"]').filter(has_text=uploader_label)
        box.locator("input[type=file]").set_input_files([str(p) for p in paths])
        expect(box.locator('[data-testid="stFileChip"]')).to_have_count(len(paths))
        expect(box.locator('[data-testid="stFileChipIconSpinner"]')).to_have_count(0)
        self.settle()

    def settle(self) -> None:
        """Wait until the app has finished its rerun (Streamlit shows a status widget while running)."""
        self.page.wait_for_timeout(400)
        self.page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")

    def choose(self, label: str, option: str) -> None:
        self.page.get_by_role("combobox", name=label, exact=True).click()
        self.page.get_by_role("option", name=option, exact=True).click()

    def sign_in(self, username: str) -> None:
        self.fill("User name", username)
        self.fill("Password", PASSWORDS[username])
        self.click("Sign in")
        self.see(f"Welcome, {username}")

    def sign_out(self) -> None:
        self.click("Sign out")
        self.page.get_by_role("button", name="Sign in").wait_for()

    def tick(self, label: str) -> None:
        box = self.page.get_by_role("checkbox", name=label, exact=True)
        if not box.is_checked():
            self.page.locator('[data-testid="stCheckbox"]').get_by_text(label, exact=True).click()
        expect(box).to_be_checked()
        self.settle()

    def drag_on_chart(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Drag a rectangle on the review picture; corners as fractions of the picture's size."""
        canvas = self.page.locator('[data-testid="stVegaLiteChart"]').locator("canvas, svg.marks").first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        mouse = self.page.mouse
        mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
        mouse.down()
        mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=12)
        mouse.up()


def test_the_whole_journey_from_first_start_to_takedown(tmp_path, planted_jpeg):
    photo = planted_jpeg   # a real face stored sideways, every kind of planted identifier, a name that identifies
    not_media = tmp_path / "scan_notes.jpg"
    not_media.write_bytes(b"these are notes, not a photo")
    consent_pdf = tmp_path / "consent.pdf"
    consent_pdf.write_bytes(covered_consent_pdf())
    with streamlit_app(tmp_path) as url, chromium_page(VIEWPORT) as page:
        you = Journey(page)
        try:
            page.goto(f"{url}/admin")   # asking for a page by its address shows the sign-in and nothing else

            # First start: the visitor sees nothing but the form for the first administrator.
            you.see("Create the first administrator")
            assert page.get_by_text("Administration").count() == 0
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0
            assert page.get_by_role("dialog").count() == 0   # no "Page not found": the sign-in is at every address
            you.shot("first-start-asks-for-an-administrator")
            you.fill("User name", "admin")
            you.fill("Password (at least 10 characters)", PASSWORDS["admin"])
            you.fill("Repeat the password", PASSWORDS["admin"])
            you.click("Create administrator")

            # The administrator lands on the page first asked for and creates the other accounts.
            page.locator("h1").get_by_text("Administration", exact=True).wait_for()
            you.settle()
            for username, role in (("sam", "staff"), ("mia", "marketing"), ("otto", "auditor")):
                you.fill("User name", username)
                you.choose("Role", role)
                you.fill("Initial password (at least 10 characters)", PASSWORDS[username])
                you.click("Add user")
                you.see(f"User {username} added as {role}.")
            you.shot("admin-created-staff-marketing-auditor")
            you.sign_out()

            # Staff uploads the consent PDF and a photo (plus a file that is no photo at all).
            you.sign_in("sam")
            you.go("Intake")
            you.upload("Consent PDF", consent_pdf)
            you.fill("Patient's name (as on the consent)", PATIENT[0])
            you.fill("Patient reference (record number)", PATIENT[1])
            you.upload("Photos and videos", photo, not_media)
            you.see(re.compile(rf"{photo.name} names jane, doe, 0012345, which match neither"))
            you.tick("These files show this consent's patient: go on")   # (the planted name is a test's)
            you.click(re.compile(r"Register and de-identify 2 file"))
            you.see("queued to be read by a worker")   # the page reads nothing: a worker of the app's pool does
            you.see("registered as consent", timeout=180_000)
            you.see(re.compile(r"1 of 2 file\(s\) de-identified and verified"))
            you.see(re.compile(r"scan_notes\.jpg: .*not a photo or video"))
            you.see(re.compile(rf"{photo.name}: file name contains a date"))
            you.see(re.compile(rf"{photo.name}: file name contains a long digit run"))
            assert page.get_by_role("button", name=re.compile("Download")).count() == 0   # no direct download
            you.shot("intake-progress-results-warnings-and-error")

            # Review: same patient, a region drawn over the name badge, re-rendered, checklist, confirmed.
            you.go("Review")
            you.see(f"signed for {PATIENT[0]}")
            you.click(re.compile("the person in this media is the patient"))
            you.see("A person confirmed that this media shows the patient")
            you.drag_on_chart((0.12, 0.76), (0.34, 0.88))
            page.get_by_role("button", name="Add this region").wait_for()
            page.wait_for_function("() => { const b = [...document.querySelectorAll('button')]"
                                   ".find(b => b.innerText.includes('Add this region')); return b && !b.disabled; }")
            you.shot("review-region-drawn-on-the-picture")
            you.click("Add this region")
            you.see("Regions you drew")
            you.click("Re-render with these changes")   # queued: a worker of the app's pool renders it
            you.see(re.compile(r"Re-rendered as output \w+: \d+ region\(s\); verified"), timeout=180_000)
            for item in CHECKLIST:
                you.tick(item)
            you.shot("review-re-rendered-checklist-ticked")
            you.click("Confirm the review")
            you.see("reviewed: no face or other identifier is visible")
            you.sign_out()

            # Marketing asks the gate first: it refuses, naming every rule that does not hold yet.
            you.sign_in("mia")
            you.go("Release")
            you.click("Request the release")
            you.see(re.compile(r"Release \w+ requested for instagram"))
            you.click("Check the gate and approve")
            you.see("The gate refused this release")
            you.see("no person has confirmed the consent's scope from the quoted evidence")
            you.shot("release-gate-refuses-with-its-reasons")

            # Marketing confirms the consent's scope from the quoted evidence, then the gate allows the release.
            you.go("Consents")
            you.see("Quoted evidence")
            you.click("Confirm the scope")
            you.see(re.compile(r"Scope of consent \w+ confirmed"))
            you.shot("consent-verdict-evidence-scope-confirmed")
            you.go("Release")
            you.click("Check the gate again and approve")
            you.see(re.compile(r"approved for instagram: every rule holds"))
            you.click("Build the release package")
            with page.expect_download() as download_info:
                you.click("Download the release package (zip)")
            package = tmp_path / download_info.value.suggested_filename
            download_info.value.save_as(package)
            you.fill("Post address (URL)", "https://www.instagram.com/p/veil-test-post/")
            you.click("Save the post address")
            you.see(re.compile(r"Post address of release \w+ recorded"))
            you.shot("release-approved-package-downloaded-post-recorded")
            you.sign_out()

            # The package: one de-identified file under a random name, and a manifest that ties it to the consent.
            with zipfile.ZipFile(package) as archive:
                manifest = json.loads(archive.read("manifest.json"))
                (entry,) = manifest["files"]
                released = tmp_path / entry["file"]
                released.write_bytes(archive.read(entry["file"]))
            assert re.fullmatch(r"[0-9a-f]{32}\.jpg", entry["file"])
            assert hashlib.sha256(released.read_bytes()).hexdigest() == entry["sha256"]
            assert entry["platform"] == "instagram" and entry["scope"]["social_media"] is True
            assert entry["reviewer"] == "sam" and entry["approver"] == "mia"
            assert identifying_tags(released, IMAGE_ALLOWED) == []
            assert all(value.encode() not in released.read_bytes() for value in PLANTED.values())
            assert PATIENT[0] not in json.dumps(manifest) and "jane_doe" not in json.dumps(manifest)

            # The auditor verifies the chain, exports the log, and finds the released file by dropping it.
            you.sign_in("otto")
            you.go("Audit")
            page.get_by_role("tab", name="Chain verification").click()
            you.click("Verify the chain")
            you.see(re.compile(r"audit chain intact: \d+ events"))
            you.shot("audit-chain-verified")
            page.get_by_role("tab", name="Timeline").click()
            with page.expect_download() as export_info:
                you.click("Export CSV")
            assert re.fullmatch(r"veil-audit-\d{4}-\d{2}-\d{2}\.csv", export_info.value.suggested_filename)
            export_info.value.save_as(tmp_path / "audit.csv")
            with open(tmp_path / "audit.csv", newline="") as exported:
                actions = {row["action"] for row in csv.DictReader(exported)}
            assert {"user.added", "consent.registered", "release.allowed", "package.exported"} <= actions
            page.get_by_role("tab", name="Look-up").click()
            you.upload("File to look up", released)
            you.see(re.compile(r"output · the exact file"))
            you.see(entry["consent_id"][:8])
            you.see(re.compile(r"Release \w+: released for instagram"))
            you.shot("audit-look-up-finds-the-released-file")
            page.get_by_role("tab", name="Charts").click()
            you.see("What was released under which consent")
            expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(1)
            you.shot("audit-chart-releases-per-consent")
            you.sign_out()

            # Marketing revokes the consent; the release becomes a takedown task.
            you.sign_in("mia")
            you.go("Consents")
            you.fill("Reason (for example: the patient withdrew consent by e-mail on …)", "Patient withdrew by phone")
            you.click("Revoke this consent")
            you.see(re.compile(r"revoked; 1 release\(s\) became takedown tasks"))
            you.go("Takedowns", "Takedown tasks")
            you.see("Not done")
            you.see("https://www.instagram.com/p/veil-test-post/")
            you.shot("revoked-consent-takedown-task-open")
            you.go("Start", "Welcome, mia")
            you.see(re.compile(r"Take down the instagram post of output \w+: "
                               r"https://www\.instagram\.com/p/veil-test-post/"))
            you.shot("start-page-shows-the-open-takedown-task")
        except Exception:
            you.shot("FAILED-here")   # what the browser showed when the journey broke
            raise
    _nothing_identifying_in_the_server_log_or_the_data_folder(url, tmp_path / "data", photo.name)


def _nothing_identifying_in_the_server_log_or_the_data_folder(url: str, data: Path, original_name: str) -> None:
    """The server's whole log, and every file it left in the data folder (database, WAL, blobs, work area),
    hold neither the patient's name and reference nor the photo's original name or its stem."""
    server_log = (ARTIFACTS / f"streamlit-{urlsplit(url).port}.log").read_bytes()
    secrets = [PATIENT[0], PATIENT[1], original_name, Path(original_name).stem]
    files = [f for f in data.rglob("*") if f.is_file()]
    assert files and server_log
    for blob in [server_log] + [f.read_bytes() for f in files]:
        assert not [s for s in secrets if s.encode() in blob or s.encode("utf-16-le") in blob]
    work = data / "work"                                  # decrypted copies live only while the engine runs
    assert not work.is_dir() or not list(work.iterdir())
