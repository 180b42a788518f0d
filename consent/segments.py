"""A page's annotated text cut into the statements the scope analysis judges.

Sentences, headings, and form options; each option is tied to the lead-in that introduces it
("I give permission to use my photographs in:" -> "☒ Social media"). Marks written by consent.pdf
("☒" ticked, "☐" empty, "[?]" unreadable) and printed ones ("[x]", symbol-font boxes) become the
option's mark. A line under a lead-in without any visible mark is a "plain" option: its box may be
there and unreadable, so it can never count as ticked. Initials written on a blank ("__JD__ Use on
social media", "... Initials: JD") tick the statement; a blank left empty leaves it unticked. A line
answered by its own boxes ("Instagram ☒ Yes ☐ No") is a "row": the lead-in of its answers.
Every segment keeps the page lines it was read from (to tell whether OCR read them with certainty).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from consent import grammar as g
from consent import lexicon as lx

_SMALL_WORDS = {"of", "and", "the", "to", "on", "for", "a", "an", "in", "or", "at", "by", "with", "de", "la", "el",
                "y", "en", "para", "por", "del", "los", "las", "o", "e"}
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|Dr|Mr|Mrs|Ms|St|No|p\.\s?ej|Sr|Sra|Inc|Ltd|Co|vs)\.$", re.I)
OPTION_MARKS = ("ticked", "empty", "unknown", "plain")


@dataclass(eq=False)
class Segment:
    page: int
    text: str
    source: str  # "text" | "ocr"
    # None: a sentence; "heading"; "row" (a line answered by Yes / No boxes);
    # an option: "ticked" | "empty" | "unknown" | "plain" | "bullet"
    mark: str | None = None
    lead: Segment | None = None  # for options: the sentence (or option) introducing them
    before_lead: Segment | None = None  # the statement just before that lead-in
    lines: list[str] = field(default_factory=list)  # the page lines it was read from

    @property
    def is_option(self) -> bool:
        return self.mark not in (None, "heading", "row")

    def quote(self) -> str:
        mark = {"ticked": "☒ ", "empty": "☐ ", "unknown": "[?] "}.get(self.mark or "", "")
        body = mark + self.text
        if self.lead is not None:
            body = f"{short(self.lead.text, 160)} … {body}"
        return short(body, 400)


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def segment_pages(pages: list[tuple[int, str, str]]) -> list[Segment]:
    """Statements in reading order; pages are (number, annotated text, source)."""
    segments: list[Segment] = []
    for number, text, source in pages:
        segments.extend(_Page(number, source).read(text))
    return segments


class _Page:
    """The state of one page's reading: the lead-in in force and the sentence being gathered."""

    def __init__(self, number: int, source: str):
        self.number, self.source = number, source
        self.out: list[Segment] = []
        self.buffer: list[str] = []
        self.buffer_lines: list[str] = []  # the page lines the buffer was gathered from
        self.line = ""  # the page line being read
        self.bullet = False  # the buffer holds a bulleted paragraph
        self.lead: Segment | None = None
        self.before: Segment | None = None
        self.options: str | None = None  # None until the first option under the lead, then "plain" | "marked"

    def read(self, text: str) -> list[Segment]:
        for raw in text.split("\n"):
            self.line = raw.strip()
            self._line(self.line)
        self._flush()
        return self.out

    def _new(self, text: str, mark: str | None, with_lead: bool = True, lines: list[str] | None = None) -> Segment:
        seg = Segment(self.number, text, self.source, mark,
                      self.lead if with_lead else None, self.before if with_lead else None,
                      list(lines) if lines is not None else [self.line])
        self.out.append(seg)
        return seg

    def _set_lead(self, seg: Segment | None, before: Segment | None = None) -> None:
        self.lead, self.before, self.options = seg, before, None

    def _flush(self) -> None:
        joined = " ".join(self.buffer).strip()
        lines = list(self.buffer_lines)
        self.buffer.clear()
        self.buffer_lines.clear()
        bullet, self.bullet = self.bullet, False
        sentences = _sentences(joined)
        for sentence in sentences:
            self._new(sentence, "bullet" if bullet else None, with_lead=bullet, lines=lines)
        if not sentences:
            return
        if self.out[-1].text.endswith((":", "?")):
            self._set_lead(self.out[-1], self.out[-2] if len(self.out) > 1 else None)
        elif not bullet:
            self._set_lead(None)

    def _line(self, line: str) -> None:
        if not line:  # a blank line ends the paragraph and any list
            self._flush()
            self._set_lead(None)
            return
        pieces = split_marks(line)
        head, options = pieces[0], pieces[1:]
        if head and not options and self._unmarked(head):
            return
        if head and options and all(is_answer(text) for _, text in options):
            self._row(head, options)
            return
        if head and options and not self.buffer and self.lead is not None and not head.endswith((":", "?")):
            # "Website [x] Social media [ ]" under a lead-in: the words before the first box are an option too
            self._new(head, "plain")
        elif head:
            self.buffer.append(head)
            self.buffer_lines.append(line)
            if options or head.endswith((":", "?")) or re.search(r"_{3,}\s*$", head):
                self._flush()
        for mark, option_text in options:
            self._flush()
            seg = self._new(option_text, mark)
            self.options = "marked"
            if option_text.endswith((":", "?")):
                self._set_lead(seg, self.lead)

    def _row(self, head: str, answers: list) -> None:
        """"Instagram ☒ Yes ☐ No" (or a whole question with its boxes): the words lead their answers."""
        self.buffer.append(head)
        self.buffer_lines.append(self.line)
        if self.buffer[:-1] or self.lead is None:
            self._flush()  # a statement of its own (perhaps begun on the line above) that its boxes answer
            row = self.out[-1]
            row.mark = "row"
            outer, outer_before = None, None
        else:  # a row under a lead-in such as "May the clinic post my photographs on:"
            self.buffer.clear()
            self.buffer_lines.clear()
            row = self._new(head, "row")
            outer, outer_before = self.lead, self.before
        self._set_lead(row, outer)
        for mark, text in answers:
            self._new(text, mark)
        self._set_lead(outer, outer_before)
        self.options = "marked" if outer is not None else None

    def _unmarked(self, head: str) -> bool:
        """Handle a line with no mark in it; False when it is ordinary running text."""
        last = self.out[-1] if self.out else None
        if (not self.buffer and last is not None and last.mark in OPTION_MARKS
                and self.lead is last.lead and head[:1].islower()):
            last.text += " " + head  # an option's words running onto the next line
            last.lines.append(self.line)
            if last.text.endswith((":", "?")):
                self._set_lead(last, last.lead)
            return True
        if (not self.buffer and self.lead is not None and self.options in (None, "plain")
                and not head.endswith(":") and not _self_contained(head) and not lx.BULLET.match(head)):
            self._new(head, "plain")  # under a lead-in, no mark we can read: its box may be unreadable
            self.options = "plain"
            return True
        bullet = lx.BULLET.match(head)
        if is_heading(head) and not (bullet and re.match(r"[•·▪◦‣∙*]", head)):  # "• Instagram" is an item
            self._flush()
            self._new(head, "heading", with_lead=False)
            self._set_lead(None)
            return True
        if bullet:
            self._flush()
            self.buffer.append(head[bullet.end():].strip())
            self.buffer_lines.append(self.line)
            self.bullet = True
            if self.lead is not None:
                self.options = "marked"
            return True
        if self.bullet and self.buffer and re.search(r"[.!?;]$", self.buffer[-1]) and head[:1].isupper():
            self._flush()  # a new paragraph after a bulleted list, not more of the last bullet
            self._set_lead(None)
        return False


def is_heading(line: str) -> bool:
    """A title or section heading: short, unpunctuated, numbered or in Title Case."""
    numbered = re.match(r"^(?:\d{1,2}(?:\.\d{1,2})*[.)]?|[A-Z][.)]|[IVX]{1,4}[.)])\s+(?=\S)", line)
    rest = line[numbered.end():] if numbered else line
    if re.search(r"[.:;,?!]$", rest) or "_" in rest:
        return False
    words = re.findall(r"[^\W\d_][\w'’/&-]*", rest)
    if not words or len(words) > (8 if numbered else 10):
        return False
    if numbered:
        return True
    return words[0][0].isupper() and all(w[0].isupper() or w.lower() in _SMALL_WORDS for w in words)


_INITIALS = r"(?!(?:NO|NA|N)\b)[A-Z]{1,3}(?:\.?\s?[A-Z]){0,2}\.?"  # "JD", "J.D."; never "NO" or "N/A"
_INITIALLED = re.compile(rf"^_{{2,}}\s*(?P<value>\S{{1,8}}?)\s*_{{2,}}\s+(?=.*[A-Za-z])")  # "__JD__ I agree"
_INITIALS_WORD = r"(?i:initials?|iniciales)\s*(?:\([^)]*\))?\s*:?\s*"
_INITIALS_BEFORE = re.compile(rf"^{_INITIALS_WORD}(?P<value>_{{3,}}|{_INITIALS})\s+(?=.*[A-Za-z])")
_INITIALS_AFTER = re.compile(rf"\s*(?<![A-Za-z]){_INITIALS_WORD}(?P<value>\S.{{0,7}}?)?\s*$")
_ANSWER = re.compile(r"^(?:yes|s[ií]|no|I\s+(?:do\s+not\s+|don[’']t\s+)?(?:agree|consent|authori[sz]e|accept)"
                     r"|(?:no\s+)?(?:acepto|autorizo|consiento))\b", re.I)
_NO_ANSWER = re.compile(r"^(?:no|I\s+(?:do\s+not|don[’']t))\b", re.I)


def is_answer(text: str) -> bool:
    """A Yes / No option ("☒ Yes", "☐ No, thank you", "☒ I agree"), not a sentence starting with "No"."""
    return bool(_ANSWER.match(text)) and len(text.split()) <= 4


def is_no_answer(text: str) -> bool:
    return is_answer(text) and bool(_NO_ANSWER.match(text))


def _initialled(line: str) -> list | None:
    """A statement with a place for the signer's initials: ticked when initialled, empty when blank."""
    blank = re.match(r"^_{3,}\s+(?=.*[A-Za-z])", line)
    if blank:  # an empty initials blank in front of a statement
        return ["", ("empty", line[blank.end():].strip())]
    for pattern in (_INITIALLED, _INITIALS_BEFORE, _INITIALS_AFTER):
        found = pattern.search(line)
        body = (line[:found.start()] if pattern is _INITIALS_AFTER else line[found.end():]).strip() if found else ""
        if found and len(body.split()) >= 3:
            return ["", (_initials_mark(found.group("value") or ""), body)]
    return None


def _initials_mark(value: str) -> str:
    """Initials tick the statement; a blank or "N/A" leaves it empty; anything else is unreadable."""
    if re.fullmatch(_INITIALS, value):
        return "ticked"
    if not value.strip("_ ") or re.fullmatch(r"(?i)n/?a|no|none|-+", value):
        return "empty"
    return "unknown"


def split_marks(line: str) -> list:
    """[text before the first mark, (mark kind, option text), ...]."""
    initialled = _initialled(line)
    if initialled:
        return initialled
    matches = list(lx.MARK.finditer(line))
    if not matches:
        return [line]
    pieces: list = [line[:matches[0].start()].strip()]
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        kind = "ticked" if match.group("ticked") else "empty" if match.group("empty") else "unknown"
        option = line[match.end():end].strip()
        if option:
            pieces.append((kind, option))
    return pieces


def _self_contained(line: str) -> bool:
    """A first-person statement with its own grant verb reads as a sentence, not as an option label."""
    return bool(re.match(r"^\W*(?:I|We|Yo|El paciente|The patient)\b", line)) and bool(g.GRANT_RE.search(line))


def _sentences(text: str) -> list[str]:
    if not text:
        return []
    parts, start = [], 0
    for match in re.finditer(r"[.!?](?=\s+[\"'“(]?[A-ZÁÉÍÓÚÑ¿¡])", text):
        candidate = text[start:match.end()]
        if _ABBREVIATION.search(candidate):
            continue
        parts.append(candidate.strip())
        start = match.end()
    parts.append(text[start:].strip())
    return [p for p in parts if p]
