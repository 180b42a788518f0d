"""Where the printed characters of a page stand: the label beside a box, and writing a mark next to it."""
from __future__ import annotations

import ctypes
import unicodedata

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from consent.pdf.content import normalise_text


class PageChars:
    """The characters pdfium found on a page, with boxes, to find the words beside a widget."""

    def __init__(self, textpage: pdfium.PdfTextPage):
        self.textpage = textpage
        self.count = textpage.count_chars()
        self.chars = [chr(pdfium_c.FPDFText_GetUnicode(textpage, i)) for i in range(self.count)]
        self.boxes = [textpage.get_charbox(i) for i in range(self.count)]

    def box_label(self, rect, stop_left: float | None, stop_right: float | None) -> tuple[str, str]:
        """(label, side) for a checkbox: the words beside it on its line.

        side is "right" (box before its label, the usual layout), "left" ("Website [x]"), or
        "ambiguous" when words sit about as close on both sides: reading the wrong neighbour would
        move a tick to another option, so such a box is reported as unreadable.
        """
        right, gap_right = self._label(rect, "right", stop_right)
        left, gap_left = self._label(rect, "left", stop_left)
        if right and (not left or gap_right < 0.6 * gap_left):
            return right, "right"
        if left and (not right or gap_left < 0.6 * gap_right):
            return left, "left"
        return (right or left), ("ambiguous" if right or left else "none")

    def label_left_of(self, rect) -> str:
        return self._label(rect, "left", None)[0]

    def _label(self, rect, side: str, stop_x: float | None) -> tuple[str, float]:
        """The run of words on one side of rect, and its distance from rect (inf when none)."""
        x0, y0, x1, y1 = rect
        band = max(2.0, (y1 - y0) * 0.3)
        on_line = [i for i in range(self.count) if self._visible(i) and y0 - band <= self._mid_y(i) <= y1 + band]
        if side == "right":
            candidates = sorted((i for i in on_line if self.boxes[i][0] >= x1 - 1.0
                                 and (stop_x is None or self.boxes[i][0] < stop_x - 0.5)),
                                key=lambda i: self.boxes[i][0])
        else:
            candidates = sorted((i for i in on_line if self.boxes[i][2] <= x0 + 1.0
                                 and (stop_x is None or self.boxes[i][2] > stop_x + 0.5)),
                                key=lambda i: -self.boxes[i][2])
        picked, last_edge = [], x1 if side == "right" else x0
        for i in candidates:
            left, _, right, top = self.boxes[i]
            height = max(4.0, top - self.boxes[i][1])
            gap = left - last_edge if side == "right" else last_edge - right
            if gap > max(14.0, 2.5 * height):
                break
            picked.append(i)
            last_edge = right if side == "right" else left
        if not picked:
            return "", float("inf")
        nearest = picked[0]
        distance = self.boxes[nearest][0] - x1 if side == "right" else x0 - self.boxes[nearest][2]
        first, last = min(picked), max(picked)
        text = "".join(self.chars[first:last + 1])
        text = text.split("\n")[0] if side == "right" else text.split("\n")[-1]
        return normalise_text(text), max(0.0, distance)

    def font_name(self, index: int) -> str:
        size = pdfium_c.FPDFText_GetFontInfo(self.textpage, index, None, 0, None)
        if size <= 0:
            return ""
        buffer = ctypes.create_string_buffer(size)
        pdfium_c.FPDFText_GetFontInfo(self.textpage, index, buffer, size, None)
        return buffer.value.decode("utf-8", "replace")

    def first_right_of(self, rect) -> int | None:
        x0, y0, x1, y1 = rect
        band = max(2.0, (y1 - y0) * 0.3)
        right = [i for i in range(self.count) if self._visible(i) and self.boxes[i][0] >= x1 - 1.0
                 and y0 - band <= self._mid_y(i) <= y1 + band]
        return min(right, key=lambda i: self.boxes[i][0], default=None)

    def line_starts(self) -> list[int]:
        """Index of the first visible character of every line pdfium found."""
        starts, fresh = [], True
        for i, ch in enumerate(self.chars):
            if ch in "\r\n":
                fresh = True
            elif fresh and self._visible(i):
                starts.append(i)
                fresh = False
        return starts

    def line_of(self, index: int | None) -> int | None:
        if index is None:
            return None
        while index > 0 and self.chars[index - 1] not in "\r\n":
            index -= 1
        return index

    def line_text(self, start: int) -> str:
        end = start
        while end < self.count and self.chars[end] not in "\r\n":
            end += 1
        return normalise_text("".join(self.chars[start:end]))

    def any_in(self, zone) -> bool:
        x0, y0, x1, y1 = zone
        return any(self._visible(i) and self.boxes[i][0] < x1 and self.boxes[i][2] > x0
                   and self.boxes[i][1] < y1 and self.boxes[i][3] > y0 for i in range(self.count))

    def _visible(self, i: int) -> bool:
        left, bottom, right, top = self.boxes[i]
        return not self.chars[i].isspace() and right > left and top > bottom

    def _mid_y(self, i: int) -> float:
        return (self.boxes[i][1] + self.boxes[i][3]) / 2


def neighbour_stops(rect, others) -> tuple[float | None, float | None]:
    """x where the nearest other box on the same line begins (right) or ends (left): labels stop there."""
    line = [o for o in others if same_line(o, rect)]
    left = max((o[2] for o in line if o[2] <= rect[0]), default=None)
    right = min((o[0] for o in line if o[0] >= rect[2]), default=None)
    return left, right


def same_line(a, b) -> bool:
    return not (a[3] < b[1] or b[3] < a[1])


def insert_at_label(text: str, label: str, insertion: str, *, before: bool, start: int) -> tuple[str, int]:
    """Insert next to the first loose match of label at or after start (or anywhere); else append a line."""
    span = _loose_find(text, label, start) or _loose_find(text, label, 0)
    if span is None:
        line = f"{insertion.strip()} {label}" if before else f"{label} {insertion.strip()}"
        text = (text + "\n" + line).strip()
        return text, len(text)
    at = span[0] if before else span[1]
    return text[:at] + insertion + text[at:], at + len(insertion)


_FOLD = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"',
                       "–": "-", "—": "-", "\u2010": "-", "\u2011": "-"})


def _folded(text: str) -> tuple[str, list[int]]:
    """Text without whitespace, case-folded, with the index in `text` of every kept character."""
    kept, where = [], []
    for index, ch in enumerate(text):
        for folded in unicodedata.normalize("NFKC", ch).translate(_FOLD).casefold():
            if not folded.isspace():
                kept.append(folded)
                where.append(index)
    return "".join(kept), where


def _loose_find(text: str, needle: str, start: int) -> tuple[int, int] | None:
    hay, where = _folded(text)
    pin, _ = _folded(needle)
    if not pin:
        return None
    first = next((k for k, idx in enumerate(where) if idx >= start), len(where))
    at = hay.find(pin[:60], first)
    if at < 0:
        return None
    end = at + min(len(pin), 60) - 1
    if len(pin) > 60:  # the rest of a long label must follow too, or it is not this label
        tail = hay.find(pin[60:], end + 1)
        if tail != end + 1:
            return None
        end = at + len(pin) - 1
    return where[at], where[end] + 1
