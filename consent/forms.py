"""Fillable consent forms: the model form from assets/consent_form/, and a renderer for form specs.

fpdf2 lays out the printed page; pypdf adds the AcroForm fields (checkboxes, text fields, an empty
signature field) at the positions the layout recorded. `fill_form` fills one in the way a PDF
viewer would, which is how the tests and the demo make a completed consent.
"""
from __future__ import annotations

import io
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "consent_form"
MODEL_SPEC = ASSET_DIR / "model_form.toml"
MODEL_PDF = ASSET_DIR / "model-consent-form.pdf"

_PAGE_W, _PAGE_H, _MARGIN = 612.0, 792.0, 54.0  # US Letter, points
_BOX = 10.0
_FIXED_DATE = datetime(2025, 1, 1, tzinfo=timezone.utc)  # reproducible output


@dataclass
class _Field:
    kind: str  # "checkbox" | "text" | "signature"
    name: str
    page: int  # from 0
    rect: tuple[float, float, float, float]  # PDF user space, origin bottom-left
    tooltip: str


def load_spec(path: Path = MODEL_SPEC) -> dict:
    """A form spec (or any TOML file of this folder) as a dict."""
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def build_model_form() -> bytes:
    return render_form(load_spec())


def render_form(spec: dict) -> bytes:
    """A fillable PDF from a form spec (see assets/consent_form/model_form.toml for the block kinds)."""
    pdf, fields = layout(spec)
    return add_fields(bytes(pdf.output()), fields)


# ----------------------------------------------------------------------------------- layout

def layout(spec: dict, signature_image: bytes | None = None) -> tuple[FPDF, list[_Field]]:
    """The printed pages of a form spec and where its fields go. `signature_image` (a PNG): the patient's
    drawn signature, placed in the signature box, for a form signed in Veil (consent.signed_form)."""
    pdf = FPDF(unit="pt", format="letter")
    pdf.set_creation_date(_FIXED_DATE)
    pdf.set_title(spec.get("title", "Consent form"))
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, _MARGIN)
    pdf.add_page()
    width = _PAGE_W - 2 * _MARGIN
    fields: list[_Field] = []
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(width, 19, spec.get("title", ""), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if spec.get("subtitle"):
        pdf.set_font("Helvetica", "", 9.5)
        pdf.multi_cell(width, 13, spec["subtitle"], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    for block in spec.get("block", []):
        if block["kind"] == "signature":
            _signature(pdf, block, fields, width, signature_image)
        else:
            _BLOCKS[block["kind"]](pdf, block, fields, width)
    return pdf, fields


def _ensure_room(pdf: FPDF, height: float) -> None:
    if pdf.get_y() + height > _PAGE_H - _MARGIN:
        pdf.add_page()


def _heading(pdf: FPDF, block: dict, fields: list, width: float) -> None:
    _ensure_room(pdf, 40)
    pdf.ln(5)
    pdf.set_font("Helvetica", "B", 11.5)
    pdf.multi_cell(width, 15, block["text"], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _text(pdf: FPDF, block: dict, fields: list, width: float) -> None:
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(width, 13, block["text"], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)


def _text_field(pdf: FPDF, block: dict, fields: list, width: float) -> None:
    pdf.set_font("Helvetica", "", 10)
    _ensure_room(pdf, 36)
    label_w = pdf.get_string_width(block["label"]) + 4
    x, y = _MARGIN, pdf.get_y()
    if label_w > width * 0.6:  # long label: the field goes on its own line below it
        pdf.multi_cell(width, 13, block["label"], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        y, label_w = pdf.get_y(), 0.0
    else:
        pdf.set_xy(x, y)
        pdf.cell(label_w, 16, block["label"])
    left = x + label_w
    pdf.set_draw_color(120)
    pdf.line(left, y + 15, _MARGIN + width, y + 15)  # a line to write on when printed
    fields.append(_Field("text", block["name"], pdf.page - 1,
                         _pdf_rect(left, y, _MARGIN + width - left, 15), block["label"]))
    pdf.set_xy(_MARGIN, y + 20)


def _checkbox(pdf: FPDF, block: dict, fields: list, width: float) -> None:
    pdf.set_font("Helvetica", "", 10)
    _ensure_room(pdf, 30)
    y = pdf.get_y()
    fields.append(_Field("checkbox", block["name"], pdf.page - 1, _pdf_rect(_MARGIN, y + 1.5, _BOX, _BOX),
                         block["label"]))
    pdf.set_xy(_MARGIN + _BOX + 6, y)
    pdf.multi_cell(width - _BOX - 6, 13, block["label"], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(_MARGIN)
    pdf.ln(3)


def _box_row(pdf: FPDF, block: dict, fields: list, width: float) -> None:
    pdf.set_font("Helvetica", "", 10)
    _ensure_room(pdf, 24)
    y, x = pdf.get_y(), _MARGIN + _BOX + 6  # indented under the option they refine
    for name, label in zip(block["names"], block["labels"], strict=True):
        fields.append(_Field("checkbox", name, pdf.page - 1, _pdf_rect(x, y + 1.5, _BOX, _BOX), label))
        pdf.set_xy(x + _BOX + 4, y)
        pdf.cell(pdf.get_string_width(label) + 2, 13, label)
        x += _BOX + 4 + max(70.0, pdf.get_string_width(label) + 18)
    pdf.set_xy(_MARGIN, y + 18)


SIGNATURE_BOX = (280.0, 64.0)   # width, height in points
SEAL_STRIP = 11.0               # the bottom of the box that shows the digital seal of a form signed in Veil


def _signature(pdf: FPDF, block: dict, fields: list, width: float, image: bytes | None = None) -> None:
    box_w, box_h = SIGNATURE_BOX
    pdf.set_font("Helvetica", "", 10)
    _ensure_room(pdf, box_h + 30)
    pdf.multi_cell(width, 13, block["label"], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = pdf.get_y() + 4
    pdf.set_draw_color(120)
    pdf.rect(_MARGIN, y, box_w, box_h)
    if image is None:
        fields.append(_Field("signature", block["name"], pdf.page - 1, _pdf_rect(_MARGIN, y, box_w, box_h),
                             block["label"]))
    else:   # the drawn signature above, the seal's appearance in a strip at the bottom of the box
        pdf.image(io.BytesIO(image), x=_MARGIN + 4, y=y + 3, h=box_h - SEAL_STRIP - 5, keep_aspect_ratio=True,
                  w=box_w - 8)
        fields.append(_Field("signature", block["name"], pdf.page - 1,
                             _pdf_rect(_MARGIN + 1, y + box_h - SEAL_STRIP, box_w - 2, SEAL_STRIP - 1),
                             block["label"]))
    pdf.set_xy(_MARGIN, y + box_h + 8)


_BLOCKS = {"heading": _heading, "text": _text, "field": _text_field, "checkbox": _checkbox,
           "boxes": _box_row}


def _pdf_rect(x: float, y_top: float, w: float, h: float) -> tuple[float, float, float, float]:
    """fpdf2 position (top-left origin, points) to a PDF rectangle (bottom-left origin)."""
    return (x, _PAGE_H - y_top - h, x + w, _PAGE_H - y_top)


# ----------------------------------------------------------------------------------- fields

def _appearance(writer: PdfWriter, w: float, h: float, ops: str) -> object:
    stream = DecodedStreamObject()
    stream.update({
        NameObject("/Type"): NameObject("/XObject"),
        NameObject("/Subtype"): NameObject("/Form"),
        NameObject("/BBox"): ArrayObject([FloatObject(0), FloatObject(0), FloatObject(w), FloatObject(h)]),
    })
    stream.set_data(ops.encode("ascii"))
    return writer._add_object(stream)


def add_fields(pdf_bytes: bytes, fields: list[_Field]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes)))
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"), NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
    }))
    refs = []
    for f in fields:
        page = writer.pages[f.page]
        x0, y0, x1, y1 = f.rect
        widget = DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/T"): TextStringObject(f.name),
            NameObject("/TU"): TextStringObject(f.tooltip),
            NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (x0, y0, x1, y1)]),
            NameObject("/F"): NumberObject(4),  # print
            NameObject("/P"): page.indirect_reference,
        })
        if f.kind == "checkbox":
            w, h = x1 - x0, y1 - y0
            frame = f"0 G 0.8 w 0.4 0.4 {w - 0.8:.2f} {h - 0.8:.2f} re S"
            cross = f" 1.6 w 2 2 m {w - 2:.2f} {h - 2:.2f} l S 2 {h - 2:.2f} m {w - 2:.2f} 2 l S"
            widget.update({
                NameObject("/FT"): NameObject("/Btn"),
                NameObject("/V"): NameObject("/Off"),
                NameObject("/AS"): NameObject("/Off"),
                NameObject("/MK"): DictionaryObject({NameObject("/BC"): ArrayObject([FloatObject(0)])}),
                NameObject("/AP"): DictionaryObject({NameObject("/N"): DictionaryObject({
                    NameObject("/Yes"): _appearance(writer, w, h, frame + cross),
                    NameObject("/Off"): _appearance(writer, w, h, frame),
                })}),
            })
        elif f.kind == "text":
            widget.update({
                NameObject("/FT"): NameObject("/Tx"),
                NameObject("/V"): TextStringObject(""),
                NameObject("/DA"): TextStringObject("/Helv 10 Tf 0 g"),
            })
        else:
            widget[NameObject("/FT")] = NameObject("/Sig")
        ref = writer._add_object(widget)
        if "/Annots" not in page:
            page[NameObject("/Annots")] = ArrayObject()
        page["/Annots"].append(ref)
        refs.append(ref)
    writer.root_object[NameObject("/AcroForm")] = writer._add_object(DictionaryObject({
        NameObject("/Fields"): ArrayObject(refs),
        NameObject("/DA"): TextStringObject("/Helv 10 Tf 0 g"),
        NameObject("/DR"): DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/Helv"): font})}),
    }))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def fill_form(pdf_bytes: bytes, values: dict[str, bool | str]) -> bytes:
    """Tick checkboxes (True) and fill text fields (str) by field name, as a viewer would."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes)))
    unknown = set(values)
    for page in writer.pages:
        texts = {}
        for ref in page.get("/Annots") or []:
            widget = ref.get_object()
            name = str(widget.get("/T", ""))
            if name not in values:
                continue
            unknown.discard(name)
            if widget.get("/FT") == "/Btn":
                state = NameObject("/Yes" if values[name] else "/Off")
                widget[NameObject("/V")] = state
                widget[NameObject("/AS")] = state
            elif widget.get("/FT") == "/Tx":
                texts[name] = str(values[name])
        if texts:
            writer.update_page_form_field_values(page, texts, auto_regenerate=False)
    if unknown:
        raise KeyError(f"no such form fields: {', '.join(sorted(unknown))}")
    writer.set_need_appearances_writer(False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
