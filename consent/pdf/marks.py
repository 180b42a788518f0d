"""Marks printed on the page rather than written as form fields: drawn squares and their ink."""
from __future__ import annotations

import re

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from consent import ocr
from consent.pdf.chars import PageChars, insert_at_label, neighbour_stops, same_line
from consent.pdf.content import MARKS, Checkbox, PdfContent
from consent.pdf.fields import Widget

_BOX_MIN, _BOX_MAX = 5.0, 20.0  # side, in points, of a drawn square that may be a checkbox
_INK_THRESHOLD = 0.06  # share of dark pixels inside a drawn box that means "ticked"
RENDER_MAX_PIXELS = ocr.MAX_PIXELS  # a page rendered to judge drawn boxes by their ink


def annotate_drawn_boxes(text: str, number: int, page: pdfium.PdfPage, chars: PageChars,
                          widgets: list[Widget], content: PdfContent) -> str:
    """Marks printed on the page rather than written as text or form fields.

    Squares drawn as vector paths are checkboxes: ink inside (judged on a rendering) means ticked.
    Any other graphic just left of a line's first word (a drawn bullet, a box made of four strokes,
    a tick in an image), or a line opening with a symbol-font glyph (a Wingdings box read as a
    letter), is a mark whose meaning we cannot read: the line gets "[?]", so an option behind it
    can never count as ticked.
    """
    if page.get_rotation() % 360:
        return text  # positions would need turning; the items stay unmarked and so never count
    graphics = any(True for _ in page.get_objects(
        filter=(pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_IMAGE), max_depth=3))
    scale = 3.0
    rendered: list[np.ndarray] = []
    crop_left, crop_bottom, crop_right, crop_top = page.get_cropbox()
    width, height = page.get_size()
    whole_page = width * height * scale * scale <= RENDER_MAX_PIXELS

    def pixels(rect) -> np.ndarray:
        x0, y0, x1, y1 = rect
        if not whole_page:  # a huge page: render just the region asked about, never the whole sheet
            x0, y0 = max(x0, crop_left), max(y0, crop_bottom)
            x1, y1 = min(x1, crop_right, x0 + 200.0), min(y1, crop_top, y0 + 200.0)
            if x1 <= x0 or y1 <= y0:
                return np.zeros((0, 0), np.uint8)
            crop = (x0 - crop_left, y0 - crop_bottom, crop_right - x1, crop_top - y1)
            return np.asarray(page.render(scale=scale, crop=crop, grayscale=True, may_draw_forms=False,
                                          draw_annots=False).to_pil().convert("L"))
        if not rendered:  # only once a box or a mark is to be judged by its ink: never for a bare scan
            rendered.append(np.asarray(page.render(scale=scale, grayscale=True, may_draw_forms=False,
                                                   draw_annots=False).to_pil().convert("L")))
        gray = rendered[0]
        return gray[max(0, int((crop_top - y1) * scale)):max(0, int((crop_top - y0) * scale)),
                    max(0, int((x0 - crop_left) * scale)):max(0, int((x1 - crop_left) * scale))]

    boxes = _drawn_squares(page, widgets) if graphics else []
    cursor = 0
    marked_lines: set[int | None] = set()
    for rect in sorted(boxes, key=lambda r: (-r[3], r[0])):
        x0, y0, x1, y1 = rect
        dx, dy = (x1 - x0) * 0.25, (y1 - y0) * 0.25
        inner = pixels((x0 + dx, y0 + dy, x1 - dx, y1 - dy))
        ticked = inner.size > 0 and float((inner < 140).mean()) > _INK_THRESHOLD
        label, side = chars.box_label(rect, *neighbour_stops(rect, [b for b in boxes if b is not rect]))
        if not label:
            continue  # a square with no words beside it is decoration, not an option
        marked_lines.add(chars.line_of(chars.first_right_of(rect)))
        content.checkboxes.append(Checkbox(number, label, ticked, "drawn", None, side))
        text, cursor = insert_at_label(text, label, MARKS[side == "ambiguous", ticked], before=True, start=cursor)

    cursor = 0
    for start in chars.line_starts():
        if chars.line_of(start) in marked_lines or _beside_widget(chars.boxes[start], widgets):
            continue
        first = chars.chars[start]
        mapped_mark = not (first.isalnum() or "\ue000" <= first <= "\uf8ff")  # "•", "☐": read as such
        if mapped_mark or not _SYMBOL_FONT.search(chars.font_name(start)):
            if not graphics:
                continue
            left, bottom, _, top = chars.boxes[start]
            height = max(4.0, top - bottom)
            zone = (left - 2.5 * height - 6.0, bottom - 0.15 * height, left - 1.0, top + 0.15 * height)
            if chars.any_in(zone) or not _has_mark(pixels(zone), scale):
                continue
        label = chars.line_text(start)[:60]
        if label:
            text, cursor = insert_at_label(text, label, "[?] ", before=True, start=cursor)
    return text


_SYMBOL_FONT = re.compile(r"wingding|webding|dingbat|symbol", re.I)


def _beside_widget(box, widgets: list[Widget]) -> bool:
    left, bottom, _, top = box
    return any(w.rect[2] <= left + 1 and left - w.rect[2] < 30 and same_line(w.rect, (0, bottom, 0, top))
               for w in widgets)


def _has_mark(zone: np.ndarray, scale: float) -> bool:
    """Ink with some extent both ways (a box, dot or tick), not a lone table rule."""
    if zone.size == 0:
        return False
    ink = zone < 140
    cols, rows = np.flatnonzero(ink.any(axis=0)), np.flatnonzero(ink.any(axis=1))
    if cols.size == 0:
        return False
    return (cols[-1] - cols[0] + 1) >= 2.0 * scale and (rows[-1] - rows[0] + 1) >= 2.0 * scale


def _drawn_squares(page: pdfium.PdfPage, widgets: list[Widget]) -> list[tuple[float, float, float, float]]:
    squares: list[tuple[float, float, float, float]] = []
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_PATH,), max_depth=3):
        x0, y0, x1, y1 = obj.get_bounds()
        w, h = x1 - x0, y1 - y0
        if not (_BOX_MIN <= w <= _BOX_MAX and _BOX_MIN <= h <= _BOX_MAX and max(w, h) <= 1.25 * min(w, h)):
            continue
        rect = (x0, y0, x1, y1)
        if any(_overlap(rect, wd.rect) for wd in widgets):
            continue  # an AcroForm widget's own frame; its state comes from the field
        if any(_overlap(rect, s) for s in squares):
            continue  # the same box drawn twice (fill and stroke), or a tick drawn inside it
        squares.append(rect)
    return squares


def _overlap(a, b) -> bool:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return False
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy >= 0.5 * smaller
