"""AcroForm widgets (checkboxes, text fields) written into the page text at their labels; signature fields."""
from __future__ import annotations

from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.constants import FieldDictionaryAttributes as FA
from pypdf.generic import ArrayObject, DictionaryObject

from consent.pdf.chars import PageChars, insert_at_label, neighbour_stops
from consent.pdf.content import MARKS, Checkbox, PdfContent, SignatureField, TextField, normalise_text


@dataclass
class Widget:
    kind: str  # "checkbox" | "text" | "other"
    name: str
    rect: tuple[float, float, float, float]
    ticked: bool = False
    value: str = ""
    tooltip: str = ""


def inherited(obj: DictionaryObject, key: str):
    seen = 0
    while obj is not None and seen < 32:
        if key in obj:
            return obj[key]
        obj = obj.get("/Parent")
        obj = obj.get_object() if obj is not None else None
        seen += 1
    return None


def qualified_name(obj: DictionaryObject) -> str:
    parts, seen = [], 0
    while obj is not None and seen < 32:
        if "/T" in obj:
            parts.append(str(obj["/T"]))
        obj = obj.get("/Parent")
        obj = obj.get_object() if obj is not None else None
        seen += 1
    return ".".join(reversed(parts))


def widgets_on(pdf_page) -> list[Widget]:
    annots = pdf_page.get("/Annots")
    if annots is None:
        return []
    widgets = []
    for ref in annots.get_object() if isinstance(annots.get_object(), ArrayObject) else []:
        annot = ref.get_object()
        if not isinstance(annot, DictionaryObject) or annot.get("/Subtype") != "/Widget" or "/Rect" not in annot:
            continue
        x0, y0, x1, y1 = (float(v) for v in annot["/Rect"])
        rect = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        field_type = inherited(annot, FA.FT)
        flags = int(inherited(annot, FA.Ff) or 0)
        name = qualified_name(annot)
        tooltip = str(inherited(annot, FA.TU) or "")
        if field_type == "/Btn" and not flags & (1 << 16):  # not a push button
            widgets.append(Widget("checkbox", name, rect, ticked=_is_on(annot), tooltip=tooltip))
        elif field_type in ("/Tx", "/Ch"):
            value = inherited(annot, FA.V)
            if isinstance(value, ArrayObject):
                value = ", ".join(str(v) for v in value)
            widgets.append(Widget("text", name, rect, value=normalise_text(str(value or "")), tooltip=tooltip))
    return widgets


def _is_on(annot: DictionaryObject) -> bool:
    state = annot.get("/AS")
    if state is not None:
        return str(state) not in ("/Off", "")
    value = inherited(annot, FA.V)
    if value is None or str(value) == "/Off":
        return False
    on_states = [k for k in annot.get("/AP", {}).get("/N", {}) if k != "/Off"] if "/AP" in annot else []
    return str(value) in on_states if on_states else False


def annotate_widgets(text: str, number: int, widgets: list[Widget], chars: PageChars, content: PdfContent) -> str:
    """Write each checkbox state before its label, and each text field value after its label."""
    ordered = sorted(widgets, key=lambda w: (-w.rect[3], w.rect[0]))
    cursor = 0
    for widget in ordered:
        if widget.kind == "checkbox":
            others = [w.rect for w in widgets if w is not widget]
            label, side = chars.box_label(widget.rect, *neighbour_stops(widget.rect, others))
            label = label or widget.tooltip or widget.name
            mark = MARKS[side == "ambiguous", widget.ticked]
            content.checkboxes.append(Checkbox(number, label, widget.ticked, "acroform", widget.name, side))
            text, cursor = insert_at_label(text, label, mark, before=True, start=cursor)
        elif widget.kind == "text":
            label = chars.label_left_of(widget.rect) or widget.tooltip or widget.name
            content.text_fields.append(TextField(number, widget.name, label, widget.value))
            # An empty field reads like a printed blank ("Expires on: ____"), so it introduces nothing;
            # a filled one ends its statement, so the next printed line is not read as part of it.
            value = widget.value.rstrip() if widget.value else "____"
            if widget.value and not value.endswith((".", "!", "?")):
                value += "."
            text, cursor = insert_at_label(text, label, " " + value, before=False, start=cursor)
    return text


def signature_fields(reader: PdfReader) -> list[SignatureField]:
    root = reader.trailer["/Root"].get_object()
    acroform = root.get("/AcroForm")
    if acroform is None:
        return []
    page_of = {}
    for number, page in enumerate(reader.pages, start=1):
        for ref in (page.get("/Annots") or []):
            if hasattr(ref, "idnum"):
                page_of[ref.idnum] = number
    found: list[SignatureField] = []
    visited: set[int] = set()  # a field tree whose kids name their ancestors twice would branch forever

    def walk(ref, depth: int) -> None:
        obj = ref.get_object()
        if not isinstance(obj, DictionaryObject) or depth > 32 or id(obj) in visited:
            return
        visited.add(id(obj))
        kids = obj.get("/Kids")
        if kids and any("/T" in k.get_object() for k in kids):
            for kid in kids:
                walk(kid, depth + 1)
            return
        if inherited(obj, FA.FT) != "/Sig":
            return
        value = obj.get("/V")
        value = value.get_object() if value is not None else None
        signed = isinstance(value, DictionaryObject)
        kind = "timestamp" if signed and value.get("/Type") == "/DocTimeStamp" else "signature"
        page = page_of.get(getattr(ref, "idnum", None))
        if page is None and kids:
            page = next((page_of.get(getattr(k, "idnum", None)) for k in kids), None)
        found.append(SignatureField(qualified_name(obj), page, signed, kind))

    for ref in acroform.get_object().get("/Fields", []):
        walk(ref, 0)
    return found
