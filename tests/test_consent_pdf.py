"""Reading consent PDFs: form fields tied to their printed labels, scans read by OCR at a bounded
resolution, encrypted files, and clear errors for files that cannot be read."""
from __future__ import annotations

import hashlib

import pytest

from consent.check import check_pdf
from consent.forms import fill_form
from consent.ocr import MAX_PIXELS, render_scale
from consent.pdf import PdfError, read_pdf
import wording_pdfs
from consent_fixtures import acroform_pdf, encrypt, merge, raw_pdf, scan_pdf, text_pdf, write

GRANT = "I authorize the clinic to post my photographs on Instagram."


def _form() -> bytes:
    return acroform_pdf("Photo consent", [
        {"kind": "text", "text": "I authorize the clinic to use my photographs in the places I tick below:"},
        {"kind": "checkbox", "name": "brochure", "label": "The clinic's printed brochure"},
        {"kind": "checkbox", "name": "social", "label": "Social media (Instagram, Facebook)"},
        {"kind": "field", "name": "until", "label": "This authorization expires on:"},
    ])


def test_each_acroform_checkbox_is_tied_to_the_label_printed_beside_it(tmp_path):
    content = read_pdf(write(tmp_path, "form.pdf", fill_form(_form(), {"social": True, "until": "2027-01-31"})))
    states = {c.label: c.ticked for c in content.checkboxes}
    assert states == {"The clinic's printed brochure": False, "Social media (Instagram, Facebook)": True}
    assert "☒ Social media (Instagram, Facebook)" in content.pages[0].text
    assert "☐ The clinic's printed brochure" in content.pages[0].text
    assert "This authorization expires on: 2027-01-31" in content.pages[0].text


def test_an_acroform_social_media_box_counts_only_when_ticked(tmp_path):
    blank = check_pdf(write(tmp_path, "blank.pdf", _form()))
    brochure = check_pdf(write(tmp_path, "brochure.pdf", fill_form(_form(), {"brochure": True})))
    social = check_pdf(write(tmp_path, "social.pdf", fill_form(_form(), {"social": True, "until": "2027-01-31"})))
    assert blank.social_media == "not_covered"
    assert brochure.social_media == "not_covered"
    assert social.social_media == "covered"
    assert social.platforms == ["instagram", "facebook"]
    assert social.expires == "2027-01-31"


def test_text_pages_report_text_as_their_source(tmp_path):
    result = check_pdf(write(tmp_path, "t.pdf", text_pdf(GRANT, "Page two.")))
    assert result.text_source == "text"
    assert [p["source"] for p in result.pages] == ["text", "text"]


def test_the_result_carries_the_sha256_of_the_bytes_judged(tmp_path):
    data = text_pdf(GRANT)
    assert check_pdf(write(tmp_path, "t.pdf", data)).sha256 == hashlib.sha256(data).hexdigest()


def test_an_image_only_scan_is_judged_on_words_two_confident_readings_agree_on(tmp_path):
    # OCR can drop a "not": a clause counts only when a second reading at another scale gives the
    # same words and Tesseract is at least 90 sure of each (wording_pdfs has the noisy case)
    result = check_pdf(write(tmp_path, "scan.pdf", scan_pdf("Photo consent form\n" + GRANT)))
    assert result.text_source == "ocr"
    assert result.pages[0]["ocr_confidence"] > 60
    assert result.social_media == "covered" and result.platforms == ["instagram"]
    grant = [e for e in result.evidence if e["about"] == "grant"]
    assert "Instagram" in grant[0]["text"] and grant[0]["image_png"]  # where it stands on the page
    assert result.signed is None  # ink on paper: only a person can tell


def test_a_scan_lying_on_its_side_is_turned_upright_before_ocr(tmp_path):
    result = check_pdf(write(tmp_path, "sideways.pdf", scan_pdf(
        "Photo consent form\n" + GRANT + "\nThis page was scanned lying on its side.", rotate=90)))
    assert result.text_source == "ocr"
    assert any("Instagram" in e["text"] for e in result.evidence)


def test_a_scan_under_a_typed_header_is_still_read_by_ocr(tmp_path):
    data = scan_pdf("Photo consent form\nI do not authorize posting my photographs on Instagram.",
                    header="Scanned 2025-03-01 page 1 of 1")
    result = check_pdf(write(tmp_path, "stamped.pdf", data))
    assert result.text_source == "ocr"
    assert result.social_media != "covered"
    assert any("Instagram" in e["text"] for e in result.evidence)


def test_a_text_grant_beside_a_scanned_page_about_social_media_waits_for_a_person(tmp_path):
    # The scan may say "I do not authorize ..." and OCR may have lost the "not": read unsurely here.
    data = merge(text_pdf(GRANT), wording_pdfs.scan("Photo consent form\nI authorize posting my photographs on "
                                                    "social media.", noisy=True))
    result = check_pdf(write(tmp_path, "mixed.pdf", data))
    assert result.text_source == "mixed"
    assert result.social_media == "unclear"


def test_scans_are_rendered_at_about_300_dpi_but_never_beyond_the_pixel_cap():
    assert render_scale(612, 792) == pytest.approx(300 / 72)
    huge = render_scale(612 * 20, 792 * 20)  # a poster-sized page
    assert (612 * 20 * huge) * (792 * 20 * huge) <= MAX_PIXELS * 1.001


def test_an_encrypted_pdf_with_an_empty_password_is_read(tmp_path):
    result = check_pdf(write(tmp_path, "enc.pdf", encrypt(text_pdf(GRANT), "")))
    assert result.error is None
    assert result.encrypted is True
    assert result.social_media == "covered"


def test_a_password_protected_pdf_gives_a_clear_error(tmp_path):
    result = check_pdf(write(tmp_path, "locked.pdf", encrypt(text_pdf(GRANT), "s3cret")))
    assert result.error == "locked.pdf: the PDF is password-protected; ask for an unprotected copy"
    assert result.social_media == "unclear"


@pytest.mark.parametrize("name, data, reason", [
    ("empty.pdf", b"", "the file is empty"),
    ("letter.pdf", b"Dear patient, this is not a PDF.", "not a PDF file"),
    ("cut.pdf", None, "damaged"),
])
def test_unreadable_files_give_a_clear_error_naming_the_file_and_never_covered(tmp_path, name, data, reason):
    if data is None:
        data = text_pdf(GRANT)[:400]  # a PDF cut short in transfer
    result = check_pdf(write(tmp_path, name, data))
    assert result.error.startswith(f"{name}: ") and reason in result.error
    assert result.social_media == "unclear"
    assert result.path == str((tmp_path / name).absolute())


def test_the_error_for_a_damaged_pdf_never_quotes_the_file_which_may_hold_the_patients_name(tmp_path):
    # The error is stored in clear beside the consent record; the parser's own message would quote
    # the bytes around the damage: here a stray ">" just before the patient's name.
    data = raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>",
                   b"> /Author (Zelda Quixote) << /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
    result = check_pdf(write(tmp_path, "consent.pdf", data))
    assert result.error.startswith("consent.pdf: the PDF is damaged and cannot be read")
    assert "Zelda" not in result.error and "Quixote" not in result.error
    assert result.social_media == "unclear"


def test_reading_a_pdf_logs_nothing_quoted_from_it(tmp_path, caplog):
    # pypdf logs an unknown font encoding by its name, which the file chooses.
    content = b"BT /F1 12 Tf 72 720 Td (I authorize posting my photographs on Instagram.) Tj ET"
    data = raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>",
                   b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                   b"/Resources << /Font << /F1 5 0 R >> >> >>",
                   b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
                   b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /ZeldaQuixote >>")
    with caplog.at_level("DEBUG"):
        result = check_pdf(write(tmp_path, "consent.pdf", data))
    assert result.error is None and "Instagram" in result.evidence[0]["text"]
    assert not [r for r in caplog.records if "Zelda" in r.getMessage()]


def test_a_missing_file_is_an_error_not_an_exception(tmp_path):
    result = check_pdf(tmp_path / "nowhere.pdf")
    assert result.error == "nowhere.pdf: file not found"


def test_read_pdf_raises_its_own_error_type(tmp_path):
    with pytest.raises(PdfError, match="not a PDF"):
        read_pdf(write(tmp_path, "x.pdf", b"GIF89a"))


def test_a_pdf_far_longer_than_a_consent_form_is_refused_not_half_read(tmp_path):
    result = check_pdf(write(tmp_path, "book.pdf", text_pdf(*(["A page."] * 101))))
    assert "101 pages is too long for a consent form" in result.error
    assert result.social_media == "unclear"


def test_a_scanned_page_left_unread_keeps_the_document_from_being_covered(tmp_path):
    path = write(tmp_path, "two.pdf", merge(text_pdf(GRANT), scan_pdf("I do not authorize social media.")))
    result = check_pdf(path, use_ocr=False)
    assert result.social_media == "unclear"
    assert "scanned page(s) 2 not read" in result.reasons


def test_without_tesseract_a_scan_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on this PATH
    result = check_pdf(write(tmp_path, "scan.pdf", scan_pdf("Photo consent")))
    assert result.error == "scan.pdf: page 1 is a scan and cannot be read (Tesseract OCR is not installed)"
    assert result.social_media == "unclear"


def test_ocr_writes_neither_the_page_image_nor_its_text_to_a_temporary_file(tmp_path, monkeypatch):
    # A scanned consent shows the patient's name and signature. With no temp folder to write to at
    # all, OCR still reads the page: the image goes to Tesseract through a pipe and the text comes back.
    import tempfile

    path = write(tmp_path, "scan.pdf", scan_pdf("Photo consent form\n" + GRANT))
    nowhere = tmp_path / "no-such-temp-folder"
    monkeypatch.setattr(tempfile, "tempdir", str(nowhere))
    monkeypatch.setenv("TMPDIR", str(nowhere))
    result = check_pdf(path)
    assert result.error is None
    assert result.text_source == "ocr"
    assert any("Instagram" in e["text"] for e in result.evidence)
    assert not nowhere.exists()


def test_a_skewed_scan_is_straightened_before_ocr():
    import pypdfium2 as pdfium

    from consent.ocr import estimate_skew

    page = pdfium.PdfDocument(text_pdf("Photo consent form\n" + GRANT + "\nSigned at the clinic.\n" * 3))[0]
    image = page.render(scale=150 / 72, grayscale=True).to_pil().convert("L")
    tilted = image.rotate(3, expand=True, fillcolor=255)
    assert estimate_skew(image) == pytest.approx(0, abs=0.3)
    assert estimate_skew(tilted) == pytest.approx(-3, abs=0.4)
