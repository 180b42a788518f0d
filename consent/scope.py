"""Does a consent document explicitly cover social media? Judged from its text, with evidence.

"covered" needs a statement that grants publication on social media (or on a named platform)
explicitly: the patient's own grant verb ("I authorize", "the undersigned consents to", "autorizo")
before the platform, an act of publishing ("post", "use", "publicar"), photographs or videos named,
no negation or exclusion in the clause, and, for a form option, a ticked box under a granting
lead-in. Anything less is "not_covered" (nothing grants it: boxes left empty, a refusal, website or
print only, a vague "internet" or "any media") or "unclear" (a person must look: statements that
contradict each other, a box that could not be read, wording read by OCR, social media mentioned as
a possible use without a grant). Every verdict comes with the sentences it relied on.

Input is consent.pdf's annotated text ("☒ label" ticked, "☐ label" empty, "[?] label" unreadable).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from consent import lexicon as lx
from consent.dates import find_dates
from consent.segments import Segment, segment_pages, short

PLATFORMS = lx.PLATFORMS


@dataclass
class Evidence:
    page: int
    text: str
    about: str  # grant, denial, option_not_ticked, needs_review, expiry, revocation, ...

    def as_dict(self) -> dict:
        return {"page": self.page, "text": self.text, "about": self.about}


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


def judge(pages: list[tuple[int, str, str]]) -> ScopeResult:
    """pages: (number from 1, annotated text, "text" | "ocr")."""
    result = ScopeResult()
    segments = segment_pages([p for p in pages if p[1].strip()])
    if not segments:
        result.reasons.append("no readable text: a person must read the document")
        return result
    _judge_social_media(segments, result)
    _judge_identifiable(segments, result)
    _judge_expiry(segments, result)
    _judge_revocation_and_guardian(segments, result)
    return result


# ------------------------------------------------------------------------------------ mentions

@dataclass
class Mention:
    segment: Segment
    term: str  # "social_media" or a platform name
    start: int
    end: int

    @property
    def generic(self) -> bool:
        return self.term == "social_media"


@dataclass
class _Finding:
    mention: Mention
    status: str  # granted | denied | empty | unknown | no_grant | neutral


def find_mentions(segment: Segment) -> list[Mention]:
    text = segment.text
    found = [Mention(segment, "social_media", m.start(), m.end()) for m in lx.SOCIAL.finditer(text)]
    others = any(p.search(text) for name, p in lx.PLATFORM.items() if name != "threads")
    for name, pattern in lx.PLATFORM.items():
        if name == "threads" and not (found or others):
            continue
        found.extend(Mention(segment, name, m.start(), m.end()) for m in pattern.finditer(text))
    return sorted(found, key=lambda m: m.start)


def _clause_span(text: str, start: int, end: int) -> tuple[int, int]:
    breaks = list(lx.CLAUSE_BREAK.finditer(text))
    left = max((m.end() for m in breaks if m.end() <= start), default=0)
    right = min((m.start() for m in breaks if m.start() >= end), default=len(text))
    return left, right


def _neutralised(part: str) -> str:
    """Drop parentheses and phrases whose negation does not refuse the use."""
    part = re.sub(r"\([^()]*\)", " ", part)
    # "including but not limited to"; "without showing my face" limits identifiability, judged apart
    return lx.DEIDENTIFIED.sub(" ", lx.NEUTRAL_NEGATION.sub(" including ", part))


def _denied(text: str, start: int, end: int) -> bool:
    """A negation anywhere in the mention's clause, or an exclusion before it ("except TikTok")."""
    left, right = _clause_span(text, start, end)
    before, after = _neutralised(text[left:start]), _neutralised(text[end:right])
    return bool(lx.EXCLUSION.search(before) or lx.NEGATION.search(before) or lx.NEGATION.search(after))


def _lead_chain(seg: Segment) -> list[Segment]:
    return [s for s in (seg.lead, seg.before_lead) if s is not None]


def _lead_blocks(seg: Segment) -> str | None:
    """Why an option's lead-in stops it counting: 'denied' (negated), 'empty'/'unknown' (its own box)."""
    lead = seg.lead
    if lead is None:
        return None
    if lead.mark == "empty":
        return "empty"
    if lead.mark in ("unknown", "plain"):
        return "unknown"
    if lx.NEGATION.search(_neutralised(lx.CLAUSE_BREAK.split(lead.text)[-1])):
        return "denied"  # "I do NOT authorize use in:"
    return None


def _first_person_grant(text: str) -> bool:
    return bool(lx.GRANT.search(text)) and bool(lx.FIRST_PERSON.search(text))


def _classify(mention: Mention) -> str:
    """granted | denied | empty | unknown | no_grant | neutral, for one mention in its statement."""
    seg = mention.segment
    if (seg.mark == "heading" or seg.text.endswith("?") or lx.REVOCATION.search(seg.text)
            or lx.CONDITIONAL.search(seg.text)):
        return "neutral"  # titles, questions, "I may revoke ... social media", "if you do not want ..."
    if _denied(seg.text, mention.start, mention.end):
        return "denied"
    blocked = _lead_blocks(seg) if seg.is_option else None
    if blocked == "denied":
        return "denied"
    left, right = _clause_span(seg.text, mention.start, mention.end)
    grants = [m.start() + left for m in lx.GRANT.finditer(seg.text[left:right])]
    first = min((g for g in grants if g < mention.start), default=None)
    grant_before = (first is not None and bool(lx.FIRST_PERSON.search(seg.text[left:mention.start]))
                    and bool(lx.USE_VERB.search(seg.text[first:mention.end + 40])))
    lead_grant = seg.is_option and seg.lead is not None and _first_person_grant(seg.lead.text)
    earlier_grant = seg.is_option and seg.before_lead is not None and _first_person_grant(seg.before_lead.text)
    context = [seg, *_lead_chain(seg)]
    media = any(lx.MEDIA.search(s.text) for s in context)
    use = any(lx.USE_VERB.search(s.text) for s in context)
    if seg.is_option and seg.mark != "bullet":
        if not (grants or any(lx.GRANT.search(lead.text) for lead in _lead_chain(seg))):
            return "no_grant"  # "How did you hear about us? ☒ Facebook"
        if seg.mark == "empty" or blocked == "empty":
            return "empty"
        if seg.mark in ("unknown", "plain") or blocked == "unknown":
            return "unknown"
        if not (grants or lead_grant) or not media or not use:
            return "unknown"  # ticked, but the grant behind it is not in plain sight
        return "granted"
    if grant_before or (seg.mark == "bullet" and lead_grant and use):
        return "granted" if media else "unknown"
    if grants or (seg.mark == "bullet" and earlier_grant):
        return "unknown"  # a grant after the platform, or of something else: "Social Media Consent I authorize ..."
    return "no_grant"


# --------------------------------------------------------------------------- social-media verdict

def _judge_social_media(segments: list[Segment], result: ScopeResult) -> None:
    findings = [_Finding(m, _classify(m)) for seg in segments for m in find_mentions(seg)]
    findings.extend(_yes_no_findings(segments))
    _let_options_decide(segments, findings, result)

    granted = [f for f in findings if f.status == "granted"]
    denied = [f for f in findings if f.status == "denied"]
    for f in granted:
        _add(result, f.mention.segment, "grant")
    for f in denied:
        _add(result, f.mention.segment, "denial")
    result.excluded_platforms = sorted({f.mention.term for f in denied if not f.mention.generic},
                                       key=PLATFORMS.index)
    if granted:
        _grant_verdict(findings, granted, denied, result)
    else:
        _no_grant_verdict(segments, findings, denied, result)


def _grant_verdict(findings: list[_Finding], granted: list[_Finding], denied: list[_Finding],
                   result: ScopeResult) -> None:
    """Covered, unless anything else in the document says otherwise or could not be read."""
    platforms, general = _granted_platforms(granted)
    excluded = result.excluded_platforms
    conflict = sorted(set(platforms) & set(excluded))
    granting_leads = {id(f.mention.segment.lead) for f in granted}
    left_empty = [f for f in findings if f.status == "empty" and f.mention.generic
                  and id(f.mention.segment.lead) not in granting_leads]
    unreadable = [f for f in findings if f.status == "unknown"]
    by_ocr = [f for f in findings if f.mention.segment.source == "ocr" and f.status not in ("neutral", "no_grant")]
    problems = [
        ([f for f in denied if f.mention.generic], "one statement grants social media and another refuses it"),
        (conflict, f"platforms both granted and excluded: {', '.join(conflict)}"),
        (left_empty, "a social-media option elsewhere in the form is left empty"),
        (unreadable, "another social-media statement or option could not be read with certainty"),
        (by_ocr, "social-media wording was read by OCR: confirm it against the page image"),
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
    result.reasons.append("explicit grant for social media" if general else
                          "explicit grant for the named platforms only")


def _no_grant_verdict(segments: list[Segment], findings: list[_Finding], denied: list[_Finding],
                      result: ScopeResult) -> None:
    unknown = [f for f in findings if f.status == "unknown"]
    passive = [f for f in findings if f.status == "no_grant" and not f.mention.segment.is_option
               and lx.PASSIVE_USE.search(f.mention.segment.text)]
    empty = [f for f in findings if f.status == "empty"]
    for f in unknown:
        _add(result, f.mention.segment, "needs_review")
    for f in passive:
        _add(result, f.mention.segment, "mention_without_grant")
    for f in empty:
        _add(result, f.mention.segment, "option_not_ticked")
    if unknown:
        result.social_media = "unclear"
        result.reasons.append("a social-media statement or option could not be read with certainty: "
                              "a person must look")
        return
    if passive:
        result.social_media = "unclear"
        result.reasons.append("social media is mentioned as a possible use, but nothing grants it explicitly")
        return
    result.social_media = "not_covered"
    if any(f.mention.generic for f in denied):
        result.reasons.append("the document refuses social-media use")
    if empty:
        result.reasons.append("the social-media option is not ticked")
    _explain_other_uses(segments, result)
    if not findings:
        result.reasons.append("social media is not mentioned")


def _is_answer(seg: Segment) -> bool:
    """A Yes / No option ("☒ Yes", "☐ No, thank you"), not a sentence that happens to start with "No"."""
    return seg.is_option and bool(re.match(r"^(?:yes|s[ií]|no)\b", seg.text, re.I)) and len(seg.text.split()) <= 4


def _yes_no_findings(segments: list[Segment]) -> list[_Finding]:
    """A question or statement about social media answered by Yes / No boxes (Sí / No)."""
    findings = []
    by_lead: dict[int, list[Segment]] = {}
    for seg in segments:
        if _is_answer(seg) and seg.lead is not None:
            by_lead.setdefault(id(seg.lead), []).append(seg)
    for options in by_lead.values():
        lead = options[0].lead
        mentions = find_mentions(lead)
        if not mentions:
            continue
        status = _answer(options)
        answers = " ".join({"ticked": "☒", "empty": "☐"}.get(o.mark, "[?]") + " " + o.text for o in options)
        answered = Segment(lead.page, f"{lead.text} {answers}", lead.source)
        context = " ".join(s.text for s in [lead, *_lead_chain(lead)])
        for mention in mentions:
            this = status
            if status == "granted" and (_denied(lead.text, mention.start, mention.end) or not lx.MEDIA.search(context)):
                this = "unknown"  # "May we NOT post ...? Yes" reads both ways; a yes to what?
            findings.append(_Finding(Mention(answered, mention.term, mention.start, mention.end), this))
    return findings


def _answer(options: list[Segment]) -> str:
    no = [o for o in options if re.match(r"^no\b", o.text, re.I)]
    marks_yes = {o.mark for o in options if o not in no}
    marks_no = {o.mark for o in no}
    if marks_yes == {"ticked"} and marks_no <= {"empty"}:
        return "granted"
    if marks_no == {"ticked"} and marks_yes <= {"empty"}:
        return "denied"
    if marks_yes <= {"empty"} and marks_no <= {"empty"}:
        return "empty"
    return "unknown"


def _let_options_decide(segments: list[Segment], findings: list[_Finding], result: ScopeResult) -> None:
    """A statement that introduces options is no grant by itself: its ticked options are.

    "I consent to photos on social media: ☐ Yes ☒ No" and "I authorize ... on the platforms ticked
    below: ☒ Instagram" are decided by their boxes; a grant introducing other choices (purposes)
    stands only if one of them is ticked.
    """
    children: dict[int, list[Segment]] = {}
    for seg in segments:
        if seg.lead is not None and seg.is_option:
            children.setdefault(id(seg.lead), []).append(seg)
    for f in findings:
        kids = children.get(id(f.mention.segment))
        if not kids or f.status != "granted":
            continue
        f.status = "neutral"
        if any(_is_answer(k) for k in kids):
            continue  # the Yes / No finding speaks for it
        kid_findings = [g for g in findings if g.mention.segment in kids]
        if kid_findings:  # the options name social media or platforms: they carry the scope
            if all(g.status in ("empty", "denied") for g in kid_findings):
                result.reasons.append("social media is granted but none of the listed platforms is ticked")
                f.status = "unknown"
        elif any(k.mark in ("ticked", "bullet") for k in kids):
            f.status = "granted"  # options for other choices (purposes); one is chosen
        else:
            f.status = "unknown"  # a grant whose choices were all left empty or unreadable


def _granted_platforms(granted: list[_Finding]) -> tuple[list[str], bool]:
    """(platforms named in grants, whether some grant covers social media in general)."""
    platforms: set[str] = set()
    general = False
    by_segment: dict[int, list[_Finding]] = {}
    for f in granted:
        by_segment.setdefault(id(f.mention.segment), []).append(f)
    for group in by_segment.values():
        names = {f.mention.term for f in group if not f.mention.generic}
        if any(f.mention.generic for f in group) and (not names or lx.EXAMPLES.search(group[0].mention.segment.text)):
            general = True  # "social media (Instagram, Facebook, etc.)" grants social media as such
        platforms |= names
    return sorted(platforms, key=PLATFORMS.index), general


def _explain_other_uses(segments: list[Segment], result: ScopeResult) -> None:
    """For a not-covered verdict, quote the grants of image use the document does make."""
    for seg in segments:
        if (seg.is_option and seg.mark not in ("ticked", "bullet")) or len(seg.text.split()) < 5 \
                or seg.text.endswith("?"):
            continue  # an option not chosen, a title, a question: none grants anything
        context = [seg, *_lead_chain(seg)[:1]]
        if not any(lx.GRANT.search(s.text) for s in context) or not any(lx.MEDIA.search(s.text) for s in context):
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
    """A statement that binds: a ticked or bulleted option, or a sentence; never a title or an "if"."""
    if seg.mark == "heading" or lx.CONDITIONAL.search(seg.text) or seg.text.endswith("?"):
        return False
    if seg.is_option:
        return seg.mark in ("ticked", "bullet") and _lead_blocks(seg) is None
    return True


def _judge_identifiable(segments: list[Segment], result: ScopeResult) -> None:
    deidentified, identifiable, refused = [], [], []
    for seg in segments:
        context = " ".join(s.text for s in [seg, *_lead_chain(seg)])
        if not (lx.MEDIA.search(context) or lx.FACE.search(seg.text)) or not _affirmed(seg):
            continue  # "anonymised data", "identifiable health information": not about images
        if lx.DEIDENTIFIED.search(seg.text):
            deidentified.append(seg)
        elif match := lx.IDENTIFIABLE.search(seg.text):
            (refused if _denied(seg.text, match.start(), match.end()) else identifiable).append(seg)
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
        result.evidence.append(Evidence(seg.page, quote, about))
