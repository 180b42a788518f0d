"""Does a consent document explicitly cover social media? Judged from its text, with evidence.

"covered" needs the patient's own grant to publish images on social media or a named platform,
read in its clause by consent.clauses with the grammar of consent.grammar: a grant verb ("I
authorize", "I consent to ... using", "I am happy for"), a permission in the patient's own images
("my photos may be shared"), a ticked box, a Yes or initials under a granting lead-in; platform
lists, exceptions ("except TikTok") and conditions ("only if my face is not shown": de-identified
only) shape it. Anything less is "not_covered" (nothing grants it: boxes left empty, a refusal, a
revocation letter, website or print only, a vague "internet" or "any media", questionnaires and
staff rules) or "unclear" (a person must look: statements that contradict each other, a box that
could not be read, a condition only a person can check, OCR words without two matching confident
readings, social media mentioned as a possible use without a grant). Every verdict comes with the
sentences it relied on, and reasons that say what was found.

Input is consent.pdf's annotated text ("☒ label" ticked, "☐ label" empty, "[?] label" unreadable),
and for pages read by OCR the readings that tell which lines were read with certainty.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from consent import clauses as cl
from consent import grammar as g
from consent import lexicon as lx
from consent.dates import find_dates
from consent.segments import Segment, segment_pages, short

PLATFORMS = lx.PLATFORMS
OCR_UNSURE = ("social-media wording was read by OCR without two matching, confident readings: "
              "a person must confirm it against the page image")


class PageReading(Protocol):
    """What OCR knows about the lines of one page (consent.ocr.OcrPage)."""

    def confirmed(self, lines: list[str]) -> bool:
        """Every line read word for word alike by two readings, every word with confidence >= 90."""

    def doubtful(self) -> list[str]:
        """The lines read without that certainty."""

    def crop(self, lines: list[str]) -> str | None:
        """The part of the page image where these lines stand, as base64 PNG."""


@dataclass
class Evidence:
    page: int
    text: str
    # grant, conditional_grant, denial, exception, withdrawal, option_not_ticked, needs_review,
    # mention_without_grant, vague_channel, other_use, identifiable, deidentified_only, expiry, no_expiry,
    # revocation, guardian
    about: str
    image_png: str | None = None  # for words read by OCR: where they stand on the page image (base64 PNG)
    segment: Segment | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        found = {"page": self.page, "text": self.text, "about": self.about}
        if self.image_png:
            found["image_png"] = self.image_png
        return found


@dataclass
class ScopeResult:
    social_media: str = "unclear"
    platforms: list[str] = field(default_factory=list)
    excluded_platforms: list[str] = field(default_factory=list)
    identifiable: str = "unclear"
    expires: str | None = None
    expires_ambiguous: bool = False
    expires_event: str | None = None
    no_expiry_stated: bool = False
    revocation_clause: bool = False
    guardian: bool = False
    evidence: list[Evidence] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def judge(pages: list[tuple[int, str, str]], readings: dict[int, PageReading] | None = None) -> ScopeResult:
    """pages: (number from 1, annotated text, "text" | "ocr"); readings: for pages read by OCR, by number."""
    result = ScopeResult()
    readings = readings or {}
    segments = segment_pages([p for p in pages if p[1].strip()])
    if not segments:
        result.reasons.append("no readable text: a person must read the document")
        return result
    _judge_social_media(segments, result, readings)
    _judge_identifiable(segments, result)
    _judge_expiry(segments, result)
    _judge_revocation_and_guardian(segments, result)
    for evidence in result.evidence:
        seg = evidence.segment
        if seg is not None and seg.source == "ocr" and seg.page in readings:
            evidence.image_png = readings[seg.page].crop(seg.lines + [l for s in cl.lead_chain(seg) for l in s.lines])
    return result


# --------------------------------------------------------------------------- social-media verdict

def _judge_social_media(segments: list[Segment], result: ScopeResult, readings: dict) -> None:
    findings = [cl.classify(m) for seg in segments for m in cl.find_mentions(seg)]
    findings.extend(cl.yes_no_findings(segments))
    cl.let_options_decide(segments, findings)

    granting = [f for f in findings if f.status in ("granted", "conditional")]
    refusing = [f for f in findings if f.status in ("denied", "excepted")]
    for f in granting:
        _add(result, f.mention.segment, "grant" if f.status == "granted" else "conditional_grant")
    for f in refusing:
        _add(result, f.mention.segment, "exception" if f.status == "excepted" and not f.mention.generic else "denial")
    result.excluded_platforms = sorted({f.mention.term for f in refusing if not f.mention.generic},
                                       key=PLATFORMS.index)
    withdrawn = [seg for seg in segments if cl.revokes(seg.text)]
    if withdrawn:
        for seg in withdrawn:
            _add(result, seg, "withdrawal")
        result.social_media = "not_covered"
        result.reasons.append("the document withdraws a consent (a revocation): it grants nothing")
    elif granting:
        _grant_verdict(findings, granting, result, readings)
    else:
        _no_grant_verdict(segments, findings, result, readings)


def _grant_verdict(findings: list[cl.Finding], granting: list[cl.Finding], result: ScopeResult,
                   readings: dict) -> None:
    """Covered, unless anything else in the document says otherwise or could not be read."""
    platforms, general = cl.granted_platforms(granting)
    excluded = result.excluded_platforms
    conflict = sorted(set(platforms) & set(excluded))
    granting_leads = {id(f.mention.segment.lead) for f in granting}
    left_empty = [f for f in findings if f.status == "empty" and f.mention.generic
                  and id(f.mention.segment.lead) not in granting_leads]
    unreadable = [f for f in findings if f.status == "unknown"]
    by_ocr = [f for f in findings if f.status != "neutral" and not _read_surely(f, readings)]
    by_ocr += _doubtful_ocr_lines(readings, findings)
    problems = [
        ([f for f in findings if f.status == "denied" and f.mention.generic],
         "one statement grants social media and another refuses it"),
        ([f for f in findings if f.status == "excepted" and f.mention.generic],
         "one statement grants social media and another leaves it out of the uses it grants"),
        (conflict, f"platforms both granted and excluded: {_names(conflict) if conflict else ''}"),
        (left_empty, "a social-media option elsewhere in the form is left empty"),
        ([f for f in granting if f.status == "conditional"],
         "social media is granted only on a condition a person must check"),
        *[([f], f.note) for f in _first_per_note(unreadable + [f for f in findings if f.status == "weak"])],
        (by_ocr, OCR_UNSURE),
    ]
    for f in left_empty:
        _add(result, f.mention.segment, "option_not_ticked")
    for f in unreadable:
        _add(result, f.mention.segment, "needs_review")
    result.reasons.extend(reason for found, reason in problems if found)
    result.platforms = [] if general else [p for p in platforms if p not in excluded]
    if any(found for found, _ in problems):
        result.social_media = "unclear"
        return
    result.social_media = "covered"
    reason = "grants social media" if general else f"grants social media on {_names(result.platforms)} only"
    if excluded:
        reason += f" except {_names(excluded)}" if general else f"; excludes {_names(excluded)}"
    if any(f.condition == "deidentified" for f in granting):
        reason += ", on the condition that the patient cannot be recognised"
    result.reasons.append(reason)


def _no_grant_verdict(segments: list[Segment], findings: list[cl.Finding], result: ScopeResult,
                      readings: dict) -> None:
    unknown = [f for f in findings if f.status in ("unknown", "weak")]
    # a refusal misread stays a refusal; anything else read unsurely, or lost in the reading, may grant
    by_ocr = [f for f in findings
              if f.status not in ("neutral", "denied", "excepted") and not _read_surely(f, readings)]
    by_ocr += _doubtful_ocr_lines(readings, findings)
    mentioned = [f for f in findings if f.status == "mention"]
    empty = [f for f in findings if f.status == "empty"]
    for f in unknown:
        _add(result, f.mention.segment, "needs_review")
    for f in mentioned:
        _add(result, f.mention.segment, "mention_without_grant")
    for f in empty:
        _add(result, f.mention.segment, "option_not_ticked")
    if unknown or by_ocr:
        result.social_media = "unclear"
        result.reasons.extend([f.note for f in _first_per_note(unknown)] + ([OCR_UNSURE] if by_ocr else []))
        return
    if mentioned:
        result.social_media = "unclear"
        result.reasons.append("social media is mentioned as a possible use, but nothing grants it explicitly")
        return
    result.social_media = "not_covered"
    if any(f.status == "denied" and f.mention.generic for f in findings):
        result.reasons.append("the document refuses social-media use")
    elif result.excluded_platforms:
        result.reasons.append(f"the document refuses {_names(result.excluded_platforms)}")
    if any(f.status == "excepted" and f.mention.generic for f in findings):
        result.reasons.append("social media is left out of the uses the document grants")
    if empty:
        result.reasons.append("the social-media option is not ticked")
    _explain_other_uses(segments, findings, result)
    if not findings:
        result.reasons.append("social media is not mentioned")
    elif len(result.reasons) == 0:
        result.reasons.append("nothing in the document grants social-media use")


def _first_per_note(findings: list[cl.Finding]) -> list[cl.Finding]:
    """One finding for each thing a person must look at (the notes say what)."""
    return list({f.note: f for f in reversed(findings)}.values())[::-1]


def _names(platforms: list[str]) -> str:
    shown = [lx.PLATFORM_NAMES[p] for p in platforms]
    return shown[0] if len(shown) <= 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _read_surely(f: cl.Finding, readings: dict) -> bool:
    """Text-layer words, or OCR words two readings agree on with confidence (see consent.ocr)."""
    seg = f.mention.segment
    if seg.source != "ocr":
        return True
    reading = readings.get(seg.page)
    lines = seg.lines + [line for s in cl.lead_chain(seg) for line in s.lines]
    return reading is not None and reading.confirmed(lines)


def _doubtful_ocr_lines(readings: dict, findings: list[cl.Finding]) -> list[str]:
    """OCR lines read without certainty, judged nowhere, holding something like a platform's name
    ("Instagrarn", "social rnedia"): a mention, perhaps a refusal, may have been lost in the reading."""
    judged = {line for f in findings for line in f.mention.segment.lines}
    return [line for reading in readings.values() for line in reading.doubtful()
            if line not in judged and cl.near_platform_word(line)]


def _explain_other_uses(segments: list[Segment], findings: list[cl.Finding], result: ScopeResult) -> None:
    """For a not-covered verdict, quote the grants of image use the document does make."""
    about_social_media = {id(f.mention.segment) for f in findings}
    for seg in segments:
        if (seg.is_option and seg.mark not in ("ticked", "bullet")) or len(seg.text.split()) < 5 \
                or seg.text.endswith("?") or id(seg) in about_social_media or cl.revokes(seg.text):
            continue  # an option not chosen, a title, a question, what the social-media reasons explain
        context = [seg, *cl.lead_chain(seg)[:1]]
        if not any(g.GRANT_RE.search(s.text) for s in context) or not any(lx.MEDIA.search(s.text) for s in context):
            continue
        if lx.VAGUE_CHANNEL.search(seg.text):
            _add(result, seg, "vague_channel")
        else:
            _add(result, seg, "other_use")
    if any(e.about == "vague_channel" for e in result.evidence):
        result.reasons.append("only a vague channel (internet, any media) is granted: not explicit for social media")
    if any(e.about == "other_use" for e in result.evidence):
        result.reasons.append("image use is granted for other channels or purposes only")


# -------------------------------------------------------------- identifiable, expiry, revocation

def _affirmed(seg: Segment) -> bool:
    """A statement that binds: a ticked or bulleted option, or a sentence; never a title, a question
    or a rule for staff."""
    if seg.mark in ("heading", "row") or seg.text.endswith("?") or cl.policy(seg.text) or cl.hypothetical(seg.text):
        return False
    if seg.is_option:
        return seg.mark in ("ticked", "bullet") and cl.lead_blocks(seg) is None
    return True


def _judge_identifiable(segments: list[Segment], result: ScopeResult) -> None:
    deidentified, identifiable, refused = [], [], []
    for seg in segments:
        context = " ".join(s.text for s in [seg, *cl.lead_chain(seg)])
        if not (lx.MEDIA.search(context) or lx.FACE.search(seg.text)) or not _affirmed(seg):
            continue  # "anonymised data", "identifiable health information": not about images
        text = seg.text
        if cl.hides_signer(text):
            deidentified.append(seg)
        elif match := lx.IDENTIFIABLE.search(text):
            (refused if cl.read_clause(text, match.start(), match.end()).refused else identifiable).append(seg)
    if deidentified or refused:
        result.identifiable = "deidentified_only"
        for seg in deidentified + refused:
            _add(result, seg, "deidentified_only")
        if identifiable:
            result.reasons.append("identifiable use is also mentioned; the narrower de-identified scope applies")
    elif identifiable:
        result.identifiable = "allowed"
        for seg in identifiable:
            _add(result, seg, "identifiable")


def _judge_expiry(segments: list[Segment], result: ScopeResult) -> None:
    dates, events = [], []
    for seg in segments:
        if lx.NO_EXPIRY.search(seg.text):
            result.no_expiry_stated = True
            _add(result, seg, "no_expiry")
            continue
        if lx.CONDITIONAL.search(seg.text) or (seg.is_option and seg.mark in ("empty", "unknown", "plain")):
            continue
        for cue in lx.EXPIRY_CUE.finditer(seg.text):
            if lx.WEAK_EXPIRY_CUE.match(cue.group(0)) and not lx.AUTHORIZATION_NOUN.search(seg.text):
                continue
            rest = seg.text[cue.end():]
            rest = lx.CLAUSE_BREAK.split(rest)[0] if not re.match(r"\s*[:(]", rest) else rest
            found = [d for d in find_dates(rest) if d.start < 80]
            if found:
                dates.append((found[0], seg))
            elif event := _event_text(rest):
                events.append((event, seg))
            break
    if dates:
        first, seg = min(dates, key=lambda d: d[0].value)  # several end dates: the earliest binds
        result.expires = first.value.isoformat()
        result.expires_ambiguous = first.ambiguous
        _add(result, seg, "expiry")
    if events:
        result.expires_event = events[0][0]
        _add(result, events[0][1], "expiry")


def _event_text(rest: str) -> str | None:
    """The event after an expiry cue ("upon the end of my treatment"), or None for a blank line."""
    if ":" in rest:
        rest = rest.rsplit(":", 1)[1]  # "expires upon this event: end of treatment" -> the filled-in part
    rest = re.sub(r"\((?:date|event|fecha|evento)[^)]*\)", " ", rest, flags=re.I)
    rest = re.split(r"_{3,}|\bor\s+(?:at|upon|on|when)\b|\bo\s+(?:al|en|cuando)\b", rest)[0]
    rest = re.sub(r"^\W*(?:on|at|upon|when|en|el|la|al)\b", "", rest, flags=re.I).strip(" :;,.-")
    if not re.search(r"[A-Za-zÁÉÍÓÚÑáéíóúñ]{3,}", rest):
        return None
    if re.fullmatch(r"(?:this|the\s+following|esta|este|la\s+siguiente)?\s*(?:date|event|fecha|evento)s?", rest, re.I):
        return None
    return short(rest, 120)


def _judge_revocation_and_guardian(segments: list[Segment], result: ScopeResult) -> None:
    for seg in segments:
        if not result.revocation_clause and lx.REVOCATION.search(seg.text):
            result.revocation_clause = True
            _add(result, seg, "revocation")
        if not result.guardian and lx.GUARDIAN.search(seg.text):
            result.guardian = True
            _add(result, seg, "guardian")


def _add(result: ScopeResult, seg: Segment, about: str) -> None:
    quote = seg.quote()
    if not any(e.page == seg.page and e.text == quote and e.about == about for e in result.evidence):
        result.evidence.append(Evidence(seg.page, quote, about, segment=seg))
