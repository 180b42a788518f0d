"""Issue 13's record-keeping points, each as a short journey in Debian's Chromium against one served app:
revocation is final for a document (1), a consent that cannot be one is refused at intake (2), pressing
twice makes nothing twice (3), the scope and a handwritten signature are confirmed in one step (5), the
consent page says what was found and confirmed in plain words (7), a file name naming someone else is
stopped until a person decides (9), and the administrator is asked to back up the key file (10).

The records each journey starts from are made through records.services (the same functions the pages
call); only the point of the journey is clicked. Screenshots go to test-artifacts/workflow-records/."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, installation_env, streamlit_app
from consent_fixtures import text_pdf
from records import services
from records.audit import SYSTEM, Actor
from records.config import load_settings
from records_fixtures import plain_photo
from test_browser_journey import Journey
from ui_fixtures import PASSWORDS

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "workflow-records"
VIEWPORT = {"width": 1400, "height": 1800}


def consent_text(patient: str, reference: str, *, grant: str = "on social media", signed: str = "2025-01-02",
                 faces: str = "My face must not be shown; photographs must be de-identified.") -> bytes:
    """A one-page consent signed by hand (a typed name on the line, no digital signature)."""
    return text_pdf(f"Photo and video consent\n\nPatient name: {patient}    Patient reference: {reference}\n"
                    f"I authorize the clinic to post my before-and-after photographs {grant}.\n{faces}\n"
                    f"This authorization expires on 2030-12-31.\n\nSignature: {patient}     Date: {signed}\n")


@dataclass
class Clinic:
    url: str
    records: services.Records
    admin: Actor
    staff: Actor
    marketing: Actor
    browser: object
    folder: Path

    def file(self, name: str, data: bytes) -> Path:
        path = self.folder / "uploads" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return path

    def photo(self, name: str, seed: int) -> Path:
        (self.folder / "uploads").mkdir(exist_ok=True)
        return plain_photo(self.folder / "uploads" / name, seed=seed)

    def consents_of(self, reference: str) -> list:
        return services.find_consents(self.records, self.admin, reference)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """One installation served once for every journey here: admin, sam (staff), mia (marketing)."""
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("veil-workflow")
    settings = load_settings(env=installation_env(folder), secrets_file=folder / "no-secrets.toml")
    records = services.open_records(settings)
    admin = services.add_user(records, SYSTEM, "admin", PASSWORDS["admin"], "admin")
    staff = services.add_user(records, admin, "sam", PASSWORDS["sam"], "staff")
    marketing = services.add_user(records, admin, "mia", PASSWORDS["mia"], "marketing")
    try:
        with streamlit_app(folder) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield Clinic(url, records, admin, staff, marketing, browser, folder)
            finally:
                browser.close()
    finally:
        records.close()


class Visit(Journey):
    """Journey's person at the browser, with screenshots of their own and a few more gestures."""

    def __init__(self, page, name: str):
        super().__init__(page)
        self.name = name

    def shot(self, name: str, settle: bool = True) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        if settle:
            self.settle()
        self.page.screenshot(path=str(SHOTS / f"{self.name}-{name}.png"))

    def pick(self, label: str, option: str | re.Pattern) -> None:
        self.page.get_by_role("combobox", name=label, exact=True).click()
        self.page.get_by_role("option", name=option).first.click()
        self.settle()

    def button(self, name: str | re.Pattern):
        return self.page.get_by_role("button", name=name).first


@pytest.fixture
def you(clinic, request):
    """A fresh browser session on the served app; a screenshot of the moment a journey broke."""
    context = clinic.browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(90_000)
    visit = Visit(page, request.node.name.removeprefix("test_")[:60])
    failed_before = request.session.testsfailed
    page.goto(clinic.url)
    yield visit
    if request.session.testsfailed > failed_before:
        visit.shot("FAILED-here", settle=False)   # as it was, even mid-run
    context.close()


def _intake_with_new_pdf(you: Visit, pdf: Path, patient: tuple[str, str], *media: Path) -> None:
    you.go("Intake")
    you.upload("Consent PDF", pdf)
    you.fill("Patient's name (as on the consent)", patient[0])
    you.fill("Patient reference (record number)", patient[1])
    you.upload("Photos and videos", *media)


# -- 1: revocation is final for that document ----------------------------------------------------------
def test_a_revoked_consent_uploaded_again_is_refused_and_a_new_one_for_that_patient_is_flagged(clinic, you):
    patient = ("Rhea Revoked", "MRN-1000001")
    pdf = clinic.file("rhea consent.pdf", consent_text(*patient))
    old = services.register_consent(clinic.records, clinic.staff, pdf.read_bytes(), *patient)
    services.revoke_consent(clinic.records, clinic.marketing, old.id, "the patient withdrew by phone")
    you.sign_in("sam")
    _intake_with_new_pdf(you, pdf, patient, clinic.photo("IMG_1001.jpg", seed=1))
    you.click(re.compile(r"Register and de-identify 1 file"))
    revoked_on = dt.datetime.now(dt.timezone.utc).date().isoformat()
    you.see(re.compile(rf"rhea consent\.pdf: this document was revoked on {revoked_on} by mia"))
    you.see("a new signed authorization is needed")
    you.shot("the-same-pdf-is-refused")
    assert [(c.id, c.status) for c in clinic.consents_of(patient[1])] == [(old.id, "revoked")]

    again = clinic.file("rhea new consent.pdf", consent_text(*patient, grant="on social media, Instagram included", signed="2025-02-03"))
    you.upload("Consent PDF", again)
    you.click(re.compile(r"Register and de-identify 1 file"))
    you.see(re.compile(r"rhea new consent\.pdf: this patient revoked consent \w+ on .* a person must confirm that "
                       r"it is a new authorization"))
    you.shot("a-new-consent-for-that-patient-is-flagged")
    newest = clinic.consents_of(patient[1])[0]
    assert newest.status == "active" and newest.awaits_new_authorization


# -- 2: what cannot be a consent is refused at registration ---------------------------------------------
def test_an_empty_or_non_pdf_consent_is_refused_by_its_own_name_and_the_media_wait(clinic, you):
    patient = ("Emil Empty", "MRN-2000002")
    empty = clinic.file("Empty consent.pdf", b"")
    photo = clinic.photo("IMG_2002.jpg", seed=2)
    you.sign_in("sam")
    _intake_with_new_pdf(you, empty, patient, photo)
    you.click(re.compile(r"Register and de-identify 1 file"))
    you.see(re.compile(r"Empty consent\.pdf: the file is empty"))
    you.see(re.compile(r"1 file\(s\) wait for a valid consent"))
    assert you.page.get_by_text(re.compile(r"(?<!Empty )\bconsent\.pdf")).count() == 0   # never the work copy
    you.shot("an-empty-pdf-is-refused")

    you.upload("Consent PDF", clinic.file("scan.pdf", photo.read_bytes()))
    you.click(re.compile(r"Register and de-identify 1 file"))
    you.see(re.compile(r"scan\.pdf: this is not a PDF"))
    you.shot("a-photo-named-pdf-is-refused")
    assert clinic.consents_of(patient[1]) == []
    assert not [a for a in services.list_assets(clinic.records, clinic.admin) if a.consent_id is None]


# -- 3: pressing twice makes nothing twice ----------------------------------------------------------------
def test_pressing_register_twice_makes_one_consent_one_asset_and_one_output(clinic, you):
    patient = ("Dora Double", "MRN-3000003")
    pdf = clinic.file("dora consent.pdf", consent_text(*patient))
    you.sign_in("sam")
    _intake_with_new_pdf(you, pdf, patient, clinic.photo("IMG_3003.jpg", seed=3))
    you.click(re.compile(r"Register and de-identify 1 file"))
    expect(you.button(re.compile(r"Register and de-identify 1 file"))).to_be_disabled()   # while it runs
    you.see(re.compile(r"1 of 1 file\(s\) de-identified and verified"))
    you.see(re.compile(r"dora consent\.pdf: registered as consent \w+"))   # read by a worker meanwhile
    you.shot("first-press")
    you.click(re.compile(r"Register and de-identify 1 file"))
    you.see(re.compile(r"dora consent\.pdf: already registered as consent \w+; no second copy was made"))
    you.see(re.compile(r"IMG_3003\.jpg: kept already under this consent; no second copy was made"))
    you.shot("second-press-makes-nothing-new")
    (consent,) = clinic.consents_of(patient[1])
    assets = [a for a in services.list_assets(clinic.records, clinic.admin) if a.consent_id == consent.id]
    assert len(assets) == 1
    assert len([o for o in services.list_outputs(clinic.records, clinic.admin) if o.asset_id == assets[0].id]) == 1


# -- 5: scope and handwritten signature in one step --------------------------------------------------------
def test_the_scope_form_refuses_a_confirmation_that_leaves_a_handwritten_signature_unattested(clinic, you):
    patient = ("Wanda Wetink", "MRN-5000005")
    consent = services.register_consent(clinic.records, clinic.staff, consent_text(*patient), *patient)
    you.sign_in("mia")
    you.go("Consents")
    you.pick("Consent", re.compile(consent.id[:8]))
    you.click("Confirm the scope")
    you.see(re.compile(r"the signature is handwritten: tick .I have seen the patient's handwritten signature"))
    you.shot("unattested-confirmation-refused")
    assert not clinic.consents_of(patient[1])[0].confirmed
    you.tick("I have seen the patient's handwritten signature on this document")
    you.click("Confirm the scope")
    you.see(re.compile(rf"Scope of consent {consent.id[:8]} confirmed"))
    (view,) = clinic.consents_of(patient[1])
    assert view.confirmed and view.signature_attested


# -- 7: plain words for what was found and confirmed --------------------------------------------------------
def test_the_consent_page_says_what_was_found_and_confirmed_in_plain_words(clinic, you):
    patient = ("Pia Wording", "MRN-7000007")
    # an open list ("not limited to"): a general grant to the checker, while the quote names three platforms
    pdf = consent_text(*patient, grant="on social media, including but not limited to Instagram, Facebook and TikTok")
    consent = services.register_consent(clinic.records, clinic.staff, pdf, *patient)
    assert consent.social_media == "covered" and consent.platforms == []   # the checker's list lacks them
    services.confirm_scope(clinic.records, clinic.marketing, consent.id, covers_social_media=True,
                           identifiable="deidentified_only", signature_attested=True)
    you.sign_in("mia")
    you.go("Consents")
    you.pick("Consent", re.compile(consent.id[:8]))
    you.see("The checker found")
    main = you.page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Platforms: not read")
    expect(main).to_contain_text("the quoted evidence names Instagram, Facebook, TikTok")
    expect(main).to_contain_text("What a person confirmed")
    expect(main).to_contain_text("De-identified images only")
    you.shot("plain-words")
    shown = main.inner_text()
    assert "general grant" not in shown
    assert not re.search(r"deidentified_only|not_covered|\bunclear\b|\btext_source\b", shown)


# -- 9: a file name naming someone else ----------------------------------------------------------------------
def test_a_file_name_naming_someone_else_is_stopped_until_a_person_decides(clinic, you):
    patient = ("Maria Q. Example", "MRN-5550101")
    consent = services.register_consent(clinic.records, clinic.staff, consent_text(*patient), *patient)
    photo = clinic.photo("Doe_Jane_MRN4471123.jpg", seed=9)
    you.sign_in("sam")
    you.go("Intake")
    you.page.get_by_text("Use a consent already registered").click()
    you.settle()
    you.pick("Consent", re.compile(consent.id[:8]))
    you.upload("Photos and videos", photo)
    you.see(re.compile(r"Doe_Jane_MRN4471123\.jpg names Doe, Jane, 4471123"))
    you.see("neither the name nor the reference of this consent's patient")
    expect(you.button("De-identify 1 file(s)")).to_be_disabled()
    you.shot("warned-before-processing")
    you.tick("These files show this consent's patient: go on")
    you.click("De-identify 1 file(s)")
    you.see(re.compile(r"1 of 1 file\(s\) de-identified and verified"))
    you.shot("processed-after-the-decision")
    events = services.audit_events(clinic.records, clinic.admin, action="media.other_name_confirmed")
    assert len(events) == 1
    assert not re.search(r"Doe|Jane|4471123", str(events))


# -- 10: the key backup prompt --------------------------------------------------------------------------------
def test_the_administrator_is_asked_to_back_up_the_key_file_until_confirmed(clinic, you):
    you.sign_in("admin")
    you.see("Back up the key file")
    you.see(re.compile(rf"cp {re.escape(str(clinic.folder / 'keys' / 'keyset.json'))} "))
    you.shot("asked-to-back-up-the-key")
    you.click("I have backed up the key file")
    you.see("Key file backup recorded")
    expect(you.page.get_by_text("Back up the key file")).to_have_count(0)
    you.shot("backup-confirmed")
    assert len(services.audit_events(clinic.records, clinic.admin, action="keys.backup_confirmed")) == 1
