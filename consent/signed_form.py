"""A model consent form as signed on a tablet: the exact text of its version, the patient's answers as
ticked boxes and filled lines, the drawn signature in the signature box, and a last page recording the
signing (document id, form version and its SHA-256, time, witness). The result is ready to be sealed with
a digital signature into its signature field (records.signing): it is not signed yet.

Every field is made read-only, so a viewer offers nothing to change; the seal makes any change show.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import pypdfium2 as pdfium
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, NumberObject, TextStringObject

from consent.form_versions import FormVersion
from consent.forms import add_fields, fill_form, layout

SIGNATURE_FIELD = "signature"
# Filled by Veil from what staff entered and from the signing itself, never typed by the patient.
STAFF_FIELDS = ("patient_name", "patient_reference", "clinic_name", "media_description")
AUTOMATIC_FIELDS = ("date_signed",)
_READ_ONLY = 1   # /Ff bit 1


@dataclass(frozen=True)
class Signing:
    """The facts of one signing, printed on the attestation page and kept in the document's properties."""
    document_id: str
    signed_at: dt.datetime          # aware
    witness: str                    # the staff member's user name
    patient_name: str
    patient_reference: str
    by_representative: bool         # a parent or legal guardian signed


def render_signed_form(version: FormVersion, answers: dict[str, bool | str], signature_png: bytes,
                       signing: Signing) -> bytes:
    """The filled form with the drawn signature and the attestation page, unsigned.

    `answers` are the patient's choices and the lines staff filled, by field name; the patient's name,
    reference and the date signed are taken from `signing`. An unknown field name is a ValueError."""
    if signing.signed_at.tzinfo is None:
        raise ValueError("the signing time must carry its time zone")
    unknown = set(answers) - set(version.fields)
    if unknown or SIGNATURE_FIELD in answers:
        raise ValueError(f"form {version.id} has no field(s) {', '.join(sorted(unknown or {SIGNATURE_FIELD}))}")
    pdf, fields = layout(version.spec, signature_image=signature_png)
    _attestation_page(pdf, version, signing)
    filled = fill_form(add_fields(bytes(pdf.output()), fields), _values(version, answers, signing))
    return _finish(filled, version, signing)


def _values(version: FormVersion, answers: dict, signing: Signing) -> dict[str, bool | str]:
    values = {name: value for name, value in answers.items() if value not in (None, "", False)}
    values.update(patient_name=signing.patient_name, patient_reference=signing.patient_reference,
                  date_signed=signing.signed_at.astimezone(dt.timezone.utc).date().isoformat())
    return {name: value for name, value in values.items() if name in version.fields}


def _attestation_page(pdf: FPDF, version: FormVersion, signing: Signing) -> None:
    words = version.spec["attestation"]
    when = signing.signed_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    signer = words["signer_representative"] if signing.by_representative else words["signer_patient"]
    rows = [(words["document_id"], signing.document_id), (words["form_version"], version.id),
            (words["form_sha256"], version.sha256), (words["signed_at"], when), (words["witness"], signing.witness),
            (words["patient"], signing.patient_name), (words["patient_reference"], signing.patient_reference),
            (words["signer"], signer)]
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(width, 17, words["heading"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(width, 13, words["intro"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)
    label_w = max(pdf.get_string_width(label) for label, _ in rows) + 10
    for label, value in rows:
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(label_w, 15, label)
        pdf.set_font(*(("Courier", "", 8.5) if label in (words["document_id"], words["form_sha256"])
                       else ("Helvetica", "", 10)))
        pdf.multi_cell(width - label_w, 15, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _finish(data: bytes, version: FormVersion, signing: Signing) -> bytes:
    """Lock every field and name the form version, its hash and the document in the file's properties."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    for page in writer.pages:
        for ref in page.get("/Annots") or []:
            widget = ref.get_object()
            if widget.get("/FT") in ("/Btn", "/Tx"):
                widget[NameObject("/Ff")] = NumberObject(int(widget.get("/Ff", 0)) | _READ_ONLY)
    writer.add_metadata({
        "/VeilFormVersion": TextStringObject(version.id),
        "/VeilFormSHA256": TextStringObject(version.sha256),
        "/VeilDocumentId": TextStringObject(signing.document_id),
        "/Subject": TextStringObject(f"Consent form {version.id}, text SHA-256 {version.sha256}"),
    })
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def form_properties(pdf_bytes: bytes) -> dict[str, str | None]:
    """The form version, its hash and the document id a form signed in Veil carries (None when absent)."""
    info = PdfReader(io.BytesIO(pdf_bytes)).metadata or {}
    return {"form_version": info.get("/VeilFormVersion"), "form_sha256": info.get("/VeilFormSHA256"),
            "document_id": info.get("/VeilDocumentId")}


def page_pictures(pdf_bytes: bytes, scale: float = 1.5) -> list[bytes]:
    """Each page as a PNG (pdfium draws the form fields and the seal's appearance too): the print view."""
    document = pdfium.PdfDocument(pdf_bytes)
    document.init_forms()   # without a form environment pdfium leaves the filled fields and ticks out
    try:
        pictures = []
        for page in document:
            image = page.render(scale=scale, may_draw_forms=True).to_pil()
            out = io.BytesIO()
            image.convert("RGB").save(out, "PNG", optimize=True)
            pictures.append(out.getvalue())
        return pictures
    finally:
        document.close()
