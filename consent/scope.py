"""Does a consent document explicitly cover social media? Judged from its text, with evidence.

The verdict is "covered" only when some statement grants use on social media (or on a named
platform) explicitly: a grant verb (authorize, consent, agree, permit, autorizo, ...), no negation
or exclusion in the same clause, and, for a form option, a ticked box. Everything that falls short
of that is "not_covered" (nothing grants social media: unticked options, denials, website or print
only, vague "internet" or "any media") or "unclear" (a person must look: conflicting statements, an
option whose box could not be read, a grant read only by OCR, social media mentioned without a grant).

The text comes from consent.pdf with form state written in: "☒ label" ticked, "☐ label" empty,
"[?] label" a printed mark whose state is unknown.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from consent.dates import find_dates

PLATFORMS = ("instagram", "facebook", "tiktok", "youtube", "x", "linkedin", "pinterest", "snapchat", "threads")

# ------------------------------------------------------------------------------------ vocabulary

_F = re.IGNORECASE
SOCIAL_RE = re.compile(
    r"\bsocial[\s-]*media\b|\bsocial[\s-]*network(?:s|ing)?\b|\bsocial[\s-]*(?:media\s+)?platforms?\b"
    r"|\bredes\s+sociales\b|\bred\s+social\b|\bmedios\s+sociales\b|\bplataformas\s+sociales\b", _F)
_PLATFORM_RES = {
    "instagram": re.compile(r"\binstagram\b", _F),
    "facebook": re.compile(r"\bfacebook\b", _F),
    "tiktok": re.compile(r"\btik[\s-]?tok\b", _F),
    "youtube": re.compile(r"\byou[\s-]?tube\b", _F),
    "x": re.compile(r"\btwitter\b|\bx\s*\((?:formerly\s+|antes\s+)?twitter\)|\bx\s*/\s*twitter\b|\bx\.com\b", _F),
    "linkedin": re.compile(r"\blinked[\s-]?in\b", _F),
    "pinterest": re.compile(r"\bpinterest\b", _F),
    "snapchat": re.compile(r"\bsnap[\s-]?chat\b", _F),
    # "threads" is also a suture and a face-lift technique: only the capitalised name beside social wording
    "threads": re.compile(r"\bThreads\b"),
}
# Grant verbs, not the nouns: "This authorization expires" and "revoke this consent" grant nothing.
GRANT_RE = re.compile(
    r"\bauthori[sz](?:e|es|ed|ing)\b|\bconsent(?:s|ed|ing)?\s+to\b|\b(?:I|we|hereby|also|fully)\s+consent\b"
    r"|\bgive\s+(?:my\s+|our\s+)?consent\b|\bgive\s+(?:\S+\s+){0,4}?permission\b|\bpermission\s+(?:is|was)\s+(?:hereby\s+)?given\b"
    r"|\bpermit(?:s|ted)?\b|\bgrant(?:s|ed|ing)?\b"
    r"|\bagree(?:s|d)?\b|\ballow(?:s|ed)?\b|\bapprove(?:s|d)?\b"
    r"|\bautoriz(?:o|a|an|amos|ar|ado|ada)\b|\bconsiento\b|\bconsiente\b"
    r"|\b(?:doy|otorgo|presto)\s+(?:mi|el)\s+(?:consentimiento|permiso|autorizaci[oó]n)\b"
    r"|\bpermit[oe]\b|\botorgo\b|\bconcedo\b|\bacepto\b|\bde\s+acuerdo\b", _F)
# Who grants: the patient, in the first person or as "the undersigned / the patient" (Spanish
# first-person verbs carry it themselves). "Patients who agree ..." or "we may ask your permission"
# describe a grant somebody else might give.
FIRST_PERSON_RE = re.compile(r"\bI\b|(?i:\bmy\b|\bme\b|\bthe\s+undersigned\b|\bthe\s+patient\b|\bhereby\b"
                             r"|\bmi\b|\bmis\b|\byo\b|\bel\s+paciente\b|\bla\s+paciente\b|\bautorizo\b"
                             r"|\bconsiento\b|\bdoy\b|\botorgo\b|\bpresto\b|\bpermito\b|\bconcedo\b|\bacepto\b)")
NEGATION_RE = re.compile(
    r"\bnot\b|n't\b|\bno\b|\bnever\b|\bnor\b|\bneither\b|\bnone\b|\bcannot\b|\brefus\w*|\bdeclin\w*|\bwithh[oe]ld\w*"
    r"|\bprohibit\w*|\bforbid\w*|\bdeny\b|\bdenied\b|\bopt(?:s|ed)?[\s-]+out\b|\bwithout\b"
    r"|\bnunca\b|\bni\b|\btampoco\b|\bjam[aá]s\b|\bsin\b|\bniego\b|\brechazo\b|\bprohib\w*", _F)
EXCLUSION_RE = re.compile(
    r"\bexcept\w*|\bexclud\w*|\bother\s+than\b|\bwith\s+the\s+exception\s+of\b|\bapart\s+from\b"
    r"|\bexcepto\b|\bsalvo\b|\bexcluyendo\b|\bexcepci[oó]n\b|\bmenos\b", _F)
# Phrases whose negation word does not negate the use ("including but not limited to Facebook").
_NEUTRAL_NEGATIONS = re.compile(
    r"\b(?:but\s+)?not\s+limited\s+to\b|\bwithout\s+limitation\b|\bno\s+longer\b|\bnot\s+only\b"
    r"|\bsin\s+limitarse\s+a\b|\bno\s+limitad[oa]s?\s+a\b|\bno\s+s[oó]lo\b", _F)
_CLAUSE_BREAK = re.compile(r"[;.!?]\s|\bbut\b|\bhowever\b|\balthough\b|\bwhereas\b|\bpero\b|\bsin\s+embargo\b|\baunque\b", _F)
_CONDITIONAL = re.compile(r"^\W*(?:if|unless|in case|si|en caso de)\b|\bunless\b|\ba\s+menos\s+que\b", _F)
_REVOCATION = re.compile(
    r"\brevok\w*|\brevocation\b|\bwithdraw\w*\s+(?:my\s+|this\s+|the\s+)?(?:consent|authori[sz]ation|permission)"
    r"|\brevoc\w*|\bretirar\w*\s+(?:mi\s+|este\s+|el\s+)?consentimiento", _F)
_EXAMPLES = re.compile(r"\betc\b|\be\.\s?g\.|\bsuch\s+as\b|\bincluding\b|\bfor\s+example\b|\blike\b"
                       r"|\bp\.\s?ej\.|\bpor\s+ejemplo\b|\bcomo\b|\bincluyendo\b|\bentre\s+otr[ao]s\b", _F)
_PASSIVE_USE = re.compile(
    r"\b(?:may|will|can|might|could|shall|would)\s+(?:also\s+)?be\s+(?:posted|published|shared|used|displayed|uploaded"
    r"|featured|shown|placed|included)\b|\b(?:podr[aá]n?|puede[n]?|ser[aá]n?)\s+(?:ser\s+)?(?:publicad|compartid|usad"
    r"|utilizad|difundid|mostrad)\w*", _F)
_MEDIA_USE = re.compile(r"\bphoto\w*|\bimage\w*|\bpicture\w*|\bvideo\w*|\blikeness\b|\brecording\w*|\bfootage\b"
                        r"|\bfotograf\w*|\bfoto\w*|\bimagen\w*|\bim[aá]genes\b|\bv[ií]deos?\b|\bgrabaci\w*", _F)
# The act granted must be publishing: "authorize ... to take photographs, and I follow the clinic on
# Instagram" grants nothing on Instagram.
_USE_VERB = re.compile(
    r"\bpost\w*|\bpublish\w*|\bpublication\w*|\bshar(?:e|es|ed|ing)\b|\bus(?:e|es|ed|ing)\b|\bdisplay\w*"
    r"|\bupload\w*|\bfeatur\w*|\bappear\w*|\bshow\w*|\bdistribut\w*|\bbroadcast\w*|\bdisclos\w*|\bplac\w*"
    r"|\bpublic\w*|\bpubliqu\w*|\bcompart\w*|\bus[oa]r?\b|\butiliz\w*|\bdifund\w*|\bdifusi[oó]n\b|\bmostr\w*|\bsub(?:ir|an)\b"
    r"|\bdivulg\w*|\bempleo\b|\bemplear\b", _F)
_FACE = re.compile(r"\bfaces?\b|\bfacial\b|\beyes\b|\brostro\b|\bcara\b|\bidentifiable\b|\bidentificable\b", _F)
_VAGUE = re.compile(r"\binternet\b|\bonline\b|\bon-line\b|\bweb-based\b|\belectronic\w*\b|\bdigital\s+media\b"
                    r"|\bany\s+(?:and\s+all\s+)?(?:form\s+of\s+)?media\b|\ball\s+media\b|\ben\s+l[ií]nea\b"
                    r"|\bmedios\s+digitales\b|\bcualquier\s+medio\b|\btodos\s+los\s+medios\b", _F)
_OTHER_CHANNELS = re.compile(r"\bwebsite\b|\bbrochures?\b|\bprint\w*\b|\bnewsletters?\b|\bteaching\b|\beducation\w*\b"
                             r"|\bpublications?\b|\bpresentations?\b|\badvertis\w*\b|\bp[aá]gina\s+web\b"
                             r"|\bsitio\s+web\b|\bfolletos?\b|\bdocencia\b|\bense[nñ]anza\b", _F)

_DEID = re.compile(
    r"\bde-?identifi\w*|\bunidentifiable\b|\bnon-?identifiable\b|\banonymi[sz]\w*|\banonymous\b"
    r"|\b(?:face|faces|eyes|features)\s+(?:\w+\s+){0,3}(?:blurred|obscured|covered|hidden|masked|pixelated|cropped|removed)"
    r"|\b(?:blur|obscure|cover|hide|mask|pixelate|crop)\w*\s+(?:out\s+)?(?:my\s+|the\s+|their\s+)?(?:face|eyes)"
    r"|\bcannot\s+be\s+(?:recogni[sz]ed|identified)|\bwithout\s+(?:showing\s+)?(?:my|the\s+patient's|his|her)\s+face"
    r"|\bdesidentific\w*|\banonimiz\w*|\ban[oó]nim\w*|\bno\s+identificable\b|\bsin\s+(?:mostrar\s+)?(?:mi\s+|el\s+)?rostro"
    r"|\brostro\s+(?:\w+\s+){0,2}(?:cubierto|oculto|difuminado|pixelado|tapado)|\bno\s+(?:se\s+)?(?:me\s+)?pueda\s+reconocer",
    _F)
_IDENT = re.compile(
    r"\bidentifiable\s+(?:photo\w*|image\w*|picture\w*|video\w*|likeness|form)|\bidentifiable\s*:"
    r"|\bface\s+(?:and\s+[\w\s]{0,30})?(?:may|will|can)\s+be\s+(?:shown|visible|seen|displayed|included)"
    r"|\b(?:show|showing|include|including)\s+(?:my|the\s+patient's)\s+(?:full\s+)?face|\brecogni[sz]able\b"
    r"|\bfull[\s-]face\b|\bface\s+visible\b|\bmay\s+be\s+(?:recogni[sz]ed|identified)\s+(?:from|in)\b|\bidentificable\b|\brostro\s+visible\b"
    r"|\b(?:mostrar|mostrando|se\s+muestre)\s+(?:mi\s+|el\s+)?rostro|\bse\s+me\s+(?:pueda\s+)?reconocer", _F)

_EXPIRY_CUE = re.compile(
    r"\bexpir\w*|\bexpiration\b|\bvalid\s+(?:until|through)\b|\bin\s+(?:full\s+)?(?:force|effect)\s+until\b"
    r"|\bends?\s+on\b|\bend\s+date\b|\buntil\b|\bterminat\w*|\bvenc\w*|\bcaduc\w*|\bv[aá]lid[oa]\s+hasta\b"
    r"|\bvigen\w*\s+hasta\b|\bhasta\b|\bfecha\s+de\s+(?:vencimiento|caducidad|expiraci[oó]n)\b", _F)
_WEAK_EXPIRY_CUE = re.compile(r"^(?:until|hasta)$", _F)
_AUTHORIZATION_WORD = re.compile(r"\bauthori[sz]ation\b|\bconsent\b|\bpermission\b|\brelease\b|\bautorizaci[oó]n\b"
                                 r"|\bconsentimiento\b|\bpermiso\b", _F)
_NO_EXPIRY = re.compile(r"\bno\s+time\s+limit\b|\bno\s+expir\w*|\bdoes\s+not\s+expire\b|\bwill\s+not\s+expire\b"
                        r"|\bnever\s+expires\b|\bno\s+(?:vence|caduca)\b|\bsin\s+(?:fecha\s+de\s+)?(?:vencimiento|caducidad)\b", _F)
_GUARDIAN = re.compile(r"\bguardian\w*|\bminor\b|\bparent(?:'s|s)?\s*(?:/|or)\s*(?:legal\s+)?guardian"
                       r"|\blegal\s+representative\b|\bpersonal\s+representative\b|\bunder\s+(?:the\s+age\s+of\s+)?18\b"
                       r"|\btutor(?:a|es)?\s+legal\b|\bpadre,?\s+madre\s+o\s+tutor|\brepresentante\s+legal\b"
                       r"|\bmenor\s+de\s+edad\b|\bmenor\b", _F)

# Marks at the start of an option: ticked, empty, unknown (a printed mark or font symbol we cannot read).
_TICKED_MARK = r"☒|☑|✓|✔|✗|✘|■|◉|●|\[\s*[xX✓✔]\s*\]|\(\s*[xX✓✔]\s*\)"
_EMPTY_MARK = r"☐|□|❏|❑|▢|○|◯|\[\s*\]|\(\s*\)"
_UNKNOWN_MARK = r"\[\?\]|[\ue000-\uf8ff]"
_MARK_RE = re.compile(rf"(?P<ticked>{_TICKED_MARK})|(?P<empty>{_EMPTY_MARK})|(?P<unknown>{_UNKNOWN_MARK})")
_BULLET_RE = re.compile(r"^(?:[•·▪◦‣∙*]|[-–—](?=\s)|\d{1,2}[.)](?=\s)|[a-zA-Z][.)](?=\s))\s*")


# ----------------------------------------------------------------------------------- structure

@dataclass
class Segment:
    page: int
    text: str
    source: str  # "text" | "ocr"
    mark: str | None = None  # None: a sentence; "ticked" | "empty" | "unknown" | "bullet" | "plain"
    lead: "Segment | None" = None  # for options: the sentence (or option) introducing them
    before_lead: "Segment | None" = None

    @property
    def is_option(self) -> bool:
        return self.mark is not None and self.mark != "heading"

    def quote(self) -> str:
        mark = {"ticked": "☒ ", "empty": "☐ ", "unknown": "[?] "}.get(self.mark or "", "")
        body = mark + self.text
        if self.lead is not None:
            body = f"{_short(self.lead.text, 160)} … {body}"
        return _short(body, 400)


def segment_pages(pages: list[tuple[int, str, str]]) -> list[Segment]:
    """Sentences and form options, in reading order, each option tied to its lead-in."""
    segments: list[Segment] = []
    for number, text, source in pages:
        segments.extend(_segment_page(number, text, source))
    return segments


def _segment_page(number: int, text: str, source: str) -> list[Segment]:
    out: list[Segment] = []
    buffer: list[str] = []
    # lead: the sentence or option ending in ":" or "?" that introduces the options below it;
    # options: None until the first option under it, then "plain" (no visible mark) or "marked".
    st = {"bullet": False, "lead": None, "before": None, "options": None}

    def set_lead(seg: Segment | None, before: Segment | None = None) -> None:
        st.update(lead=seg, before=before, options=None)

    def flush() -> None:
        joined = " ".join(buffer).strip()
        buffer.clear()
        bullet, st["bullet"] = st["bullet"], False
        sentences = _sentences(joined)
        for sentence in sentences:
            out.append(Segment(number, sentence, source, "bullet" if bullet else None,
                               st["lead"] if bullet else None, st["before"] if bullet else None))
        if not sentences:
            return
        if out[-1].text.endswith((":", "?")):
            set_lead(out[-1], out[-2] if len(out) > 1 else None)
        elif not bullet:
            set_lead(None)

    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            flush()
            set_lead(None)
            continue
        pieces = _split_marks(line)
        head, options = pieces[0], pieces[1:]
        if head and not options:
            last = out[-1] if out else None
            if (not buffer and last is not None and last.mark in ("ticked", "empty", "unknown", "plain")
                    and st["lead"] is last.lead and head[:1].islower()):
                last.text += " " + head  # an option's words running onto the next line
                if last.text.endswith((":", "?")):
                    set_lead(last, last.lead)
                continue
            if (not buffer and st["lead"] is not None and st["options"] in (None, "plain")
                    and not head.endswith(":") and not _is_self_contained(head) and not _BULLET_RE.match(head)):
                # a line under a lead-in with no mark we can read: an option whose box we cannot see
                out.append(Segment(number, head, source, "plain", st["lead"], st["before"]))
                st["options"] = "plain"
                continue
            if _is_heading(head):
                flush()
                out.append(Segment(number, head, source, "heading"))
                set_lead(None)
                continue
            bullet = _BULLET_RE.match(head)
            if bullet:
                flush()
                buffer.append(head[bullet.end():].strip())
                st["bullet"] = True
                if st["lead"] is not None:
                    st["options"] = "marked"
                continue
            if st["bullet"] and buffer and re.search(r"[.!?;]$", buffer[-1]) and head[:1].isupper():
                flush()  # a new paragraph after a bulleted list, not more of the last bullet
                set_lead(None)
        if head and options and not buffer and st["lead"] is not None and not head.endswith((":", "?")):
            # "Website [x] Social media [ ]" under a lead-in: words before the first box are an option too
            out.append(Segment(number, head, source, "plain", st["lead"], st["before"]))
        elif head:
            buffer.append(head)
            if options or head.endswith((":", "?")) or re.search(r"_{3,}\s*$", head):
                flush()
        for mark, option_text in options:
            flush()
            seg = Segment(number, option_text, source, mark, st["lead"], st["before"])
            out.append(seg)
            st["options"] = "marked"
            if option_text.endswith((":", "?")):
                set_lead(seg, st["lead"])
    flush()
    return out


_SMALL_WORDS = {"of", "and", "the", "to", "on", "for", "a", "an", "in", "or", "at", "by", "with", "de", "la", "el",
                "y", "en", "para", "por", "del", "los", "las", "o", "e"}


def _is_heading(line: str) -> bool:
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


def _split_marks(line: str) -> list:
    """[text before the first mark, (mark kind, option text), ...]."""
    blank = re.match(r"^_{3,}\s+(?=.*[A-Za-z])", line)
    if blank:  # an empty initials blank in front of a statement
        return ["", ("empty", line[blank.end():].strip())]
    matches = list(_MARK_RE.finditer(line))
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


def _is_self_contained(line: str) -> bool:
    """A first-person statement with its own grant verb reads as a sentence, not as an option label."""
    return bool(re.match(r"^\W*(?:I|We|Yo|El paciente|The patient)\b", line)) and bool(GRANT_RE.search(line))


_ABBREV = re.compile(r"\b(?:e\.g|i\.e|etc|Dr|Mr|Mrs|Ms|St|No|p\.\s?ej|Sr|Sra|Inc|Ltd|Co|vs)\.$", _F)


def _sentences(text: str) -> list[str]:
    if not text:
        return []
    parts, start = [], 0
    for match in re.finditer(r"[.!?](?=\s+[\"'“(]?[A-ZÁÉÍÓÚÑ¿¡])", text):
        candidate = text[start:match.end()]
        if _ABBREV.search(candidate):
            continue
        parts.append(candidate.strip())
        start = match.end()
    parts.append(text[start:].strip())
    return [p for p in parts if p]


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


def find_mentions(segment: Segment) -> list[Mention]:
    text = segment.text
    found = [Mention(segment, "social_media", m.start(), m.end()) for m in SOCIAL_RE.finditer(text)]
    for name, pattern in _PLATFORM_RES.items():
        for m in pattern.finditer(text):
            if name == "threads" and not (found or any(p.search(text) for k, p in _PLATFORM_RES.items() if k != "threads")):
                continue
            found.append(Mention(segment, name, m.start(), m.end()))
    return sorted(found, key=lambda m: m.start)


def _clause_around(text: str, start: int, end: int) -> tuple[str, str]:
    """(clause text before the mention, clause text after it), parentheses not holding it removed."""
    breaks = [m for m in _CLAUSE_BREAK.finditer(text)]
    left = max((m.end() for m in breaks if m.end() <= start), default=0)
    right = min((m.start() for m in breaks if m.start() >= end), default=len(text))
    before, after = text[left:start], text[end:right]
    before = re.sub(r"\([^()]*\)", " ", before)
    after = re.sub(r"\([^()]*\)", " ", after)

    def neutral(part: str) -> str:
        # "without showing my face" limits identifiability, not the channel: judged separately
        return _DEID.sub(" ", _NEUTRAL_NEGATIONS.sub(" including ", part))
    return neutral(before), neutral(after)


def _denied(text: str, start: int, end: int) -> bool:
    before, after = _clause_around(text, start, end)
    return bool(EXCLUSION_RE.search(before) or NEGATION_RE.search(before) or NEGATION_RE.search(after))


# ------------------------------------------------------------------------------------- verdict

@dataclass
class Evidence:
    page: int
    text: str
    about: str

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


@dataclass
class _Finding:
    mention: Mention
    status: str  # granted | denied | empty | unknown | no_grant | neutral


def _lead_chain(seg: Segment) -> list[Segment]:
    return [s for s in (seg.lead, seg.before_lead) if s is not None]


def _clause_span(text: str, start: int, end: int) -> tuple[int, int]:
    breaks = list(_CLAUSE_BREAK.finditer(text))
    left = max((m.end() for m in breaks if m.end() <= start), default=0)
    right = min((m.start() for m in breaks if m.start() >= end), default=len(text))
    return left, right


def _lead_blocks(seg: Segment) -> str | None:
    """Why an option's lead-in stops it counting: 'denied' (negated), 'empty'/'unknown' (its own box)."""
    lead = seg.lead
    if lead is None:
        return None
    if lead.mark == "empty":
        return "empty"
    if lead.mark in ("unknown", "plain"):
        return "unknown"
    last_clause = _CLAUSE_BREAK.split(lead.text)[-1]
    if NEGATION_RE.search(_NEUTRAL_NEGATIONS.sub(" ", re.sub(r"\([^()]*\)", " ", last_clause))):
        return "denied"
    return None


def _first_person_grant(text: str) -> bool:
    grant = GRANT_RE.search(text)
    return bool(grant) and bool(FIRST_PERSON_RE.search(text))


def _classify(mention: Mention) -> str:
    """granted | denied | empty | unknown | no_grant | neutral, for one mention in its segment."""
    seg = mention.segment
    if (seg.mark == "heading" or seg.text.endswith("?") or _REVOCATION.search(seg.text)
            or _CONDITIONAL.search(seg.text)):
        return "neutral"  # titles, questions, "I may revoke ... social media", "if you do not want ..."
    if _denied(seg.text, mention.start, mention.end):
        return "denied"
    blocked = _lead_blocks(seg) if seg.is_option else None
    if blocked == "denied":
        return "denied"  # "I do NOT authorize use in: ☒ social media"
    left, right = _clause_span(seg.text, mention.start, mention.end)
    grants = [m.start() + left for m in GRANT_RE.finditer(seg.text[left:right])]
    first_grant = min((g for g in grants if g < mention.start), default=None)
    grant_before = (first_grant is not None and bool(FIRST_PERSON_RE.search(seg.text[left:mention.start]))
                    and bool(_USE_VERB.search(seg.text[first_grant:mention.end + 40])))
    grant_after = bool(grants) and not grant_before
    lead_grant = seg.is_option and seg.lead is not None and _first_person_grant(seg.lead.text)
    earlier_grant = seg.is_option and seg.before_lead is not None and _first_person_grant(seg.before_lead.text)
    media = any(_MEDIA_USE.search(s.text) for s in [seg, *_lead_chain(seg)])
    use = any(_USE_VERB.search(s.text) for s in [seg, *_lead_chain(seg)])
    if seg.is_option and seg.mark != "bullet":
        if not (grants or any(GRANT_RE.search(lead.text) for lead in _lead_chain(seg))):
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
    if grant_after or (seg.mark == "bullet" and earlier_grant):
        return "unknown"  # "Social Media Consent: I authorize ..." may be a title run into a sentence
    return "no_grant"


def _judge_social_media(segments: list[Segment], result: ScopeResult) -> None:
    findings: list[_Finding] = []
    for seg in segments:
        for mention in find_mentions(seg):
            findings.append(_Finding(mention, _classify(mention)))
    findings.extend(_yes_no_findings(segments))
    _let_options_decide(segments, findings, result)

    granted = [f for f in findings if f.status == "granted"]
    denied = [f for f in findings if f.status == "denied"]
    generic_denial = [f for f in denied if f.mention.generic]
    excluded = sorted({f.mention.term for f in denied if not f.mention.generic}, key=PLATFORMS.index)
    platforms, general = _granted_platforms(granted)

    for f in granted:
        _add(result, f.mention.segment, "grant")
    for f in denied:
        _add(result, f.mention.segment, "denial")
    result.excluded_platforms = excluded

    if granted:
        conflict = sorted(set(platforms) & set(excluded))
        granting_leads = {id(f.mention.segment.lead) for f in granted}
        left_empty = [f for f in findings if f.status == "empty" and f.mention.generic
                      and id(f.mention.segment.lead) not in granting_leads]
        unreadable = [f for f in findings if f.status == "unknown"]
        by_ocr = [f for f in findings if f.mention.segment.source == "ocr" and f.status not in ("neutral", "no_grant")]
        problems = [
            (generic_denial, "one statement grants social media and another refuses it"),
            (conflict, f"platforms both granted and excluded: {', '.join(conflict)}"),
            (left_empty, "a social-media option elsewhere in the form is left empty"),
            (unreadable, "another social-media statement or option could not be read with certainty"),
            (by_ocr, "social-media wording was read by OCR: confirm it against the page image"),
        ]
        for found, reason in problems:
            if found:
                result.reasons.append(reason)
        for f in left_empty:
            _add(result, f.mention.segment, "option_not_ticked")
        for f in unreadable:
            _add(result, f.mention.segment, "needs_review")
        if any(found for found, _ in problems):
            result.social_media = "unclear"
        else:
            result.social_media = "covered"
            result.reasons.append("explicit grant for social media" if general else
                                  "explicit grant for the named platforms only")
        result.platforms = [] if general else [p for p in platforms if p not in excluded]
        return

    unknown = [f for f in findings if f.status == "unknown"]
    passive = [f for f in findings if f.status == "no_grant" and not f.mention.segment.is_option
               and _PASSIVE_USE.search(f.mention.segment.text)]
    empty = [f for f in findings if f.status == "empty"]
    for f in unknown:
        _add(result, f.mention.segment, "needs_review")
    for f in passive:
        _add(result, f.mention.segment, "mention_without_grant")
    for f in empty:
        _add(result, f.mention.segment, "option_not_ticked")
    if unknown:
        result.social_media = "unclear"
        result.reasons.append("a social-media statement or option could not be read with certainty: a person must look")
        return
    if passive:
        result.social_media = "unclear"
        result.reasons.append("social media is mentioned as a possible use, but nothing grants it explicitly")
        return
    result.social_media = "not_covered"
    if generic_denial:
        result.reasons.append("the document refuses social-media use")
    if empty:
        result.reasons.append("the social-media option is not ticked")
    _explain_other_uses(segments, result)
    if not findings:
        result.reasons.append("social media is not mentioned")


def _is_answer(seg: Segment) -> bool:
    """A Yes / No option ("☒ Yes", "☐ No, thank you"), not a sentence that happens to start with "No"."""
    return seg.is_option and bool(re.match(r"^(?:yes|s[ií]|no)\b", seg.text, _F)) and len(seg.text.split()) <= 4


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
        no = [o for o in options if re.match(r"^no\b", o.text, _F)]
        yes = [o for o in options if o not in no]
        marks_yes, marks_no = {o.mark for o in yes}, {o.mark for o in no}
        if marks_yes == {"ticked"} and marks_no <= {"empty"}:
            status = "granted"
        elif marks_no == {"ticked"} and marks_yes <= {"empty"}:
            status = "denied"
        elif marks_yes <= {"empty"} and marks_no <= {"empty"}:
            status = "empty"
        else:
            status = "unknown"
        answers = " ".join({"ticked": "☒", "empty": "☐"}.get(o.mark, "[?]") + " " + o.text for o in options)
        answered = Segment(lead.page, f"{lead.text} {answers}", lead.source)
        for mention in mentions:
            this = status
            if status == "granted" and (_denied(lead.text, mention.start, mention.end)
                                        or not _MEDIA_USE.search(lead.text + " " + (lead.lead.text if lead.lead else ""))):
                this = "unknown"  # "May we NOT post ...? Yes" reads both ways; a yes to what?
            findings.append(_Finding(Mention(answered, mention.term, mention.start, mention.end), this))
    return findings


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
        has_generic = any(f.mention.generic for f in group)
        text = group[0].mention.segment.text
        if has_generic and (not names or _EXAMPLES.search(text)):
            general = True  # "social media (Instagram, Facebook, etc.)" grants social media as such
        platforms |= names
    return sorted(platforms, key=PLATFORMS.index), general


def _explain_other_uses(segments: list[Segment], result: ScopeResult) -> None:
    """For a not-covered verdict, quote the grants of image use the document does make."""
    for seg in segments:
        if seg.is_option and seg.mark not in ("ticked", "bullet"):
            continue
        if len(seg.text.split()) < 5 or seg.text.endswith("?"):
            continue  # a title or a question grants nothing
        if not (GRANT_RE.search(seg.text) or (seg.lead is not None and GRANT_RE.search(seg.lead.text))):
            continue
        if not (_MEDIA_USE.search(seg.text) or (seg.lead is not None and _MEDIA_USE.search(seg.lead.text))):
            continue
        if _VAGUE.search(seg.text):
            _add(result, seg, "vague_channel")
            if "vague" not in " ".join(result.reasons):
                result.reasons.append("only a vague channel (internet, any media) is granted: not explicit for social media")
        elif _OTHER_CHANNELS.search(seg.text) or _MEDIA_USE.search(seg.text):
            _add(result, seg, "other_use")
    if any(e.about == "other_use" for e in result.evidence):
        result.reasons.append("image use is granted for other channels or purposes only")


# ------------------------------------------------------------------------- identifiable, expiry

def _affirmed(seg: Segment) -> bool:
    """A statement that binds: a ticked or bulleted option, or a sentence; never a title or an "if"."""
    if seg.mark == "heading" or _CONDITIONAL.search(seg.text) or seg.text.endswith("?"):
        return False
    if seg.is_option:
        return seg.mark in ("ticked", "bullet") and _lead_blocks(seg) is None
    return True


def _judge_identifiable(segments: list[Segment], result: ScopeResult) -> None:
    deid, ident, ident_denied = [], [], []
    for seg in segments:
        context = " ".join(x.text for x in [seg, *_lead_chain(seg)])
        if not (_MEDIA_USE.search(context) or _FACE.search(seg.text)):
            continue  # "anonymised data", "identifiable health information": not about images
        if _DEID.search(seg.text):
            if _affirmed(seg):
                deid.append(seg)
            continue
        match = _IDENT.search(seg.text)
        if match and _affirmed(seg):
            (ident_denied if _denied(seg.text, match.start(), match.end()) else ident).append(seg)
    if deid or ident_denied:
        result.identifiable = "deidentified_only"
        for seg in deid + ident_denied:
            _add(result, seg, "deidentified_only")
        if ident:
            result.reasons.append("identifiable use is also mentioned; the narrower de-identified scope applies")
    elif ident:
        result.identifiable = "allowed"
        for seg in ident:
            _add(result, seg, "identifiable")


def _judge_expiry(segments: list[Segment], result: ScopeResult) -> None:
    dates, events = [], []
    for seg in segments:
        if _NO_EXPIRY.search(seg.text):
            result.no_expiry_stated = True
            _add(result, seg, "no_expiry")
            continue
        if _CONDITIONAL.search(seg.text) or (seg.is_option and seg.mark in ("empty", "unknown")):
            continue
        for cue in _EXPIRY_CUE.finditer(seg.text):
            if _WEAK_EXPIRY_CUE.match(cue.group(0)) and not _AUTHORIZATION_WORD.search(seg.text):
                continue
            rest = seg.text[cue.end():]
            rest = _CLAUSE_BREAK.split(rest)[0] if not re.match(r"\s*[:(]", rest) else rest
            found = [d for d in find_dates(rest) if d.start < 80]
            if found:
                dates.append((found[0], seg))
            else:
                event = _event_text(rest)
                if event:
                    events.append((event, seg))
            break
    if dates:
        first, seg = min(dates, key=lambda d: d[0].value)
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
    rest = re.sub(r"\((?:date|event|fecha|evento)[^)]*\)", " ", rest, flags=_F)
    rest = re.split(r"_{3,}|\bor\s+(?:at|upon|on|when)\b|\bo\s+(?:al|en|cuando)\b", rest)[0]
    rest = re.sub(r"^\W*(?:on|at|upon|when|en|el|la|al)\b", "", rest, flags=_F).strip(" :;,.-")
    if not re.search(r"[A-Za-zÁÉÍÓÚÑáéíóúñ]{3,}", rest):
        return None
    if re.fullmatch(r"(?:this|the\s+following|esta|este|la\s+siguiente)?\s*(?:date|event|fecha|evento)s?", rest, _F):
        return None
    return _short(rest, 120)


def _judge_revocation_and_guardian(segments: list[Segment], result: ScopeResult) -> None:
    for seg in segments:
        if not result.revocation_clause and _REVOCATION.search(seg.text):
            result.revocation_clause = True
            _add(result, seg, "revocation")
        if not result.guardian and _GUARDIAN.search(seg.text):
            result.guardian = True
            _add(result, seg, "guardian")


def _add(result: ScopeResult, seg: Segment, about: str) -> None:
    quote = seg.quote()
    if not any(e.page == seg.page and e.text == quote and e.about == about for e in result.evidence):
        result.evidence.append(Evidence(seg.page, quote, about))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------- signature lines

# Letters only around the words: on a form "Signature____" has no word boundary before the blank.
_SIGNATURE_WORD = re.compile(r"(?<![A-Za-z])(?:signature|signed\s+by|firma)(?![A-Za-z])", _F)
_ROLE_WORDS = re.compile(
    r"(?<![A-Za-z])(?:of|the|by|parent|parents|guardian|guardians|legal|patient|participant|client|minor|representative"
    r"|personal|witness|or|and|if|applicable|print|printed|name|person|authorized|del|de|la|el|paciente|padre"
    r"|madre|tutor|representante|testigo|menor|s|y|o|signature|firma|here|sign|signed)(?![A-Za-z])", _F)
_NEXT_LABEL = re.compile(r"(?<![A-Za-z])(?:date|fecha|printed|print\s+name|name|nombre|relationship|relaci[oó]n)(?![A-Za-z])", _F)
_OPTIONAL_LINE = re.compile(r"\bif\b|\bwitness\b|\bsi\s+es\b|\btestigo\b|\bcuando\s+proceda\b", _F)


@dataclass
class SignatureLine:
    page: int
    text: str
    filled: bool
    optional: bool  # a guardian's line "if a minor", a witness line
    guardian: bool


def signature_lines(pages: list[tuple[int, str, str]]) -> list[SignatureLine]:
    """Printed signature lines ("Signature: ______") and whether something is written on them."""
    found = []
    for number, text, _source in pages:
        for line in text.split("\n"):
            line = line.strip()
            match = _SIGNATURE_WORD.search(line)
            if not match or len(line) > 160 or re.match(r"^\W*(?:by|al|con)\b", line, _F):
                continue
            if "_" not in line and ":" not in line and len(line.split()) > 6:
                continue  # prose that mentions a signature, not a line to sign on
            value = line[match.end():]
            value = _NEXT_LABEL.split(value)[0]
            leftover = _ROLE_WORDS.sub(" ", re.sub(r"[_:()/\-.,'’\[\]]", " ", value))
            filled = bool(re.search(r"[A-Za-zÁÉÍÓÚÑáéíóúñ]{2,}", leftover))
            found.append(SignatureLine(number, _short(line, 200), filled, bool(_OPTIONAL_LINE.search(line)),
                                       bool(_GUARDIAN.search(line))))
    return found

