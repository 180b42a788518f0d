"""Builders for the consent PDFs the tests read: text forms, drawn and AcroForm checkboxes, scans,
encrypted files, and files signed with a self-signed certificate made on the spot.

Nothing here is patient data: every form is written by the test that needs it.
"""
from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pypdfium2 as pdfium
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pypdf import PdfReader, PdfWriter

from consent.forms import render_form

# The model consent form (consent.forms) filled in: social media on Instagram and Facebook, not TikTok,
# identifiable, until 2027-06-30
FILLED_MODEL_FORM = {
    "patient_name": "Test Patient", "patient_reference": "T-0001", "clinic_name": "Example Clinic",
    "media_description": "Before-and-after photographs of a skin treatment",
    "social_media": True, "platform_instagram": True, "platform_facebook": True,
    "excluded_platforms": "TikTok", "identifiable": True, "expiry_date": "2027-06-30",
    "date_signed": "2025-03-01", "signer_name": "Test Patient",
}

# DejaVu Sans ships inside matplotlib's wheel and has the ballot-box glyphs ☐ ☒ and Spanish accents.
FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def _new_pdf() -> FPDF:
    pdf = FPDF(unit="pt", format="letter")
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", size=11)
    pdf.set_margins(54, 54, 54)
    pdf.set_creation_date(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    return pdf


def text_pdf(*pages: str) -> bytes:
    """One page per argument; lines as given, blank lines between paragraphs kept."""
    pdf = _new_pdf()
    for page in pages:
        pdf.add_page()
        for line in page.strip("\n").split("\n"):
            if line.strip():
                pdf.multi_cell(0, 15, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            else:
                pdf.ln(10)
    return bytes(pdf.output())


def drawn_boxes_pdf(lead: str, options: list[tuple[str, bool]], after: str = "") -> bytes:
    """A lead-in sentence, then options with boxes drawn as vector squares (ticked ones crossed)."""
    pdf = _new_pdf()
    pdf.add_page()
    pdf.multi_cell(0, 15, lead, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for label, ticked in options:
        y = pdf.get_y() + 4
        pdf.rect(60, y + 2, 10, 10)
        if ticked:
            pdf.line(61.5, y + 3.5, 68.5, y + 10.5)
            pdf.line(61.5, y + 10.5, 68.5, y + 3.5)
        pdf.set_xy(78, y)
        pdf.cell(0, 14, label, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if after:
        pdf.ln(8)
        pdf.multi_cell(0, 15, after, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def boxes_after_labels_pdf(lead: str, options: list[tuple[str, bool]], gap: float = 4.0,
                          spacing: float = 30.0) -> bytes:
    """One line of options printed "Label [box]": the box follows its label by `gap` points and
    the next label starts `spacing` points after the box."""
    pdf = _new_pdf()
    pdf.add_page()
    pdf.multi_cell(0, 15, lead, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y, x = pdf.get_y() + 6, 60.0
    pdf.c_margin = 0  # the gaps are exactly as asked
    for label, ticked in options:
        pdf.set_xy(x, y)
        width = pdf.get_string_width(label)
        pdf.cell(width, 14, label)
        box = x + width + gap
        pdf.rect(box, y + 2, 10, 10)
        if ticked:
            pdf.line(box + 1.5, y + 3.5, box + 8.5, y + 10.5)
            pdf.line(box + 1.5, y + 10.5, box + 8.5, y + 3.5)
        x = box + 10 + spacing
    return bytes(pdf.output())


def bullets_drawn_pdf(lead: str, items: list[str]) -> bytes:
    """Items whose bullets are drawn dots (vector paths), not text characters."""
    pdf = _new_pdf()
    pdf.add_page()
    pdf.multi_cell(0, 15, lead, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for item in items:
        y = pdf.get_y() + 4
        pdf.ellipse(62, y + 5, 4, 4, style="F")
        pdf.set_xy(78, y)
        pdf.cell(0, 14, item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def acroform_pdf(title: str, blocks: list[dict]) -> bytes:
    """A fillable form through the same renderer as the model consent form."""
    return render_form({"title": title, "block": blocks})


def scan_pdf(text: str, *, rotate: int = 0, dpi: int = 200, header: str = "") -> bytes:
    """An image-only PDF: a text page rendered to pixels (optionally turned), with no text layer
    except an optional typed header (as a scanning app may stamp)."""
    pdf = _new_pdf()
    pdf.add_page()
    pdf.set_font("DejaVu", size=16)
    for line in text.strip().split("\n"):
        pdf.multi_cell(0, 24, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    image = written_part(bytes(pdf.output()), dpi, margin=60)
    if rotate:
        image = image.rotate(rotate, expand=True, fillcolor=255)
    scan = image_page(image, dpi)
    if header:
        scan.add_font("DejaVu", "", str(FONT))
        scan.set_font("DejaVu", size=7)
        scan.set_xy(4, 2)
        scan.cell(0, 8, header)
    return bytes(scan.output())


def written_part(pdf: bytes, dpi: int, margin: int) -> Image.Image:
    """The first page drawn in grey at `dpi`, cut below its last ink (plus `margin` pixels): a small, fast scan."""
    source = pdfium.PdfDocument(pdf)
    image = source[0].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    source.close()
    bbox = Image.eval(image, lambda v: 255 - v).getbbox()
    return image.crop((0, 0, image.width, min(image.height, bbox[3] + margin)))


def image_page(image: Image.Image, dpi: float, image_format: str = "PNG") -> FPDF:
    """A page holding only this picture, sized as if scanned at `dpi` (more may be written on it)."""
    page = FPDF(unit="pt", format=(image.width * 72 / dpi, image.height * 72 / dpi))
    page.set_creation_date(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    page.add_page()
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, quality=30)   # quality: JPEG only
    page.image(buffer, x=0, y=0, w=page.w, h=page.h)
    return page


def raw_pdf(*objects: bytes) -> bytes:
    """A PDF written by hand from object bodies (1 is the catalog), with a correct cross-reference
    table: for damage that no PDF library would write."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def merge(*pdfs: bytes) -> bytes:
    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(PdfReader(io.BytesIO(pdf)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypt(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner-" + os.urandom(4).hex(), algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class Identity:
    cert_der: bytes
    key_der: bytes

    @property
    def cert_pem(self) -> bytes:
        return x509.load_der_x509_certificate(self.cert_der).public_bytes(serialization.Encoding.PEM)


def self_signed_identity(common_name: str = "Test Signer") -> Identity:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return Identity(cert.public_bytes(serialization.Encoding.DER), key_der)


def sign(pdf: bytes, identity: Identity, field: str = "signature") -> bytes:
    """Sign (an existing empty field of that name, or a new invisible one) with pyHanko."""
    cert = asn1_x509.Certificate.load(identity.cert_der)
    signer = signers.SimpleSigner(signing_cert=cert, signing_key=asn1_keys.PrivateKeyInfo.load(identity.key_der),
                                  cert_registry=SimpleCertificateStore.from_certs([cert]))
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name=field), signer=signer)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path
