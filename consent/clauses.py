"""Each mention of social media or a platform, read in its clause the way a careful person reads it.

The words come from consent.grammar (grants, refusals, conditions, exceptions, lists, revocations)
and consent.lexicon (platform names, images, marks). A mention gets one status:

  granted      the signer grants publication there (`condition` "deidentified": only where the
               signer cannot be recognised)
  conditional  granted on a condition only a person can check ("only after I approve each post")
  denied       refused
  excepted     named in an exception to a grant ("except TikTok")
  revoked      in a statement withdrawing consent
  weak         "I do not object to ...": leans toward a grant without making one
  empty        an option that would grant it, left unticked
  unknown      a person must look: an unreadable box, a grant not in plain sight, a refusal with an
               exception ("no social media except Instagram")
  mention      named as a possible use without a grant ("I understand my photos may be posted")
  no_grant     named, but nothing grants or refuses it (a questionnaire, a staff rule)
  neutral      named in a title, a question, a condition, the right to revoke, or a statement its
               own Yes / No boxes answer
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from consent import grammar as g
from consent import lexicon as lx
from consent.segments import Segment, is_answer, is_no_answer

# Where a clause ends: a new sentence, "but" (not "but not" / "but only"), "however", ", and I ...".
CLAUSE_BREAK = re.compile(
    r"(?<![A-Za-z]\.[A-Za-z])(?<!\betc)[;.!?](?=\s|$)|\bbut\b(?!\s+(?:not|only)\b)|\bhowever\b|\balthough\b|\bwhereas\b"
    r"|,\s+and\s+(?=I\b|my\b|the\s+clinic\b)|\bpero\b(?!\s+(?:no|s[oó]lo)\b)|\bsin\s+embargo\b|\baunque\b"
    r"|,\s+y\s+(?=(?:yo\s+)?(?:acepto|autorizo|consiento|doy|permito)\b)", re.I)
REFUSED_WITH_EXCEPTION = "a statement refuses social media but makes an exception"
GRANT_UNPLAIN = "a grant's wording does not plainly cover social media"
BOX_UNREAD = "a social-media box or its answer could not be read"
# The signer's own words: "my photos may be posted" is the signer's permission, "patient photos" is not.
SIGNER = re.compile(r"\bI\b|(?i:\bmy\b|\bme\b|\bmine\b|\bmyself\b|\bmis?\b|\byo\b|\bthe\s+undersigned\b)")


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
class Finding:
    mention: Mention
    status: str
    condition: str | None = None  # a grant's condition: "deidentified" or "other"
    note: str = ""  # for "unknown" and "weak": what a person must look at


@dataclass
class _Span:
    start: int
    end: int
    role: str  # "condition" | "exception"


@dataclass
class Clause:
    """What the clause around one mention says about it."""
    role: str | None  # the mention stands in a "condition" or an "exception", or in the main clause
    refused: bool  # a negation in the main clause
    condition: str | None  # a condition in the clause: "deidentified" | "other"
    exception_names: bool  # an exception in the clause names social media or a platform
    signer_grants: bool  # the signer's grant verb before the mention, for an act of publishing
    permits: bool  # a permission in the signer's own images ("my photos may be posted")
    grant_word: bool  # some grant verb in the clause, whoever speaks and whatever it grants
    weak: bool


# ------------------------------------------------------------------------------------ mentions

def find_mentions(segment: Segment) -> list[Mention]:
    text = segment.text
    found = [Mention(segment, "social_media", m.start(), m.end()) for m in lx.SOCIAL.finditer(text)]
    others = any(p.search(text) for name, p in lx.PLATFORM.items() if name != "threads")
    for name, pattern in lx.PLATFORM.items():
        if name == "threads" and not (found or others):
            continue
        found.extend(Mention(segment, name, m.start(), m.end()) for m in pattern.finditer(text))
    return sorted(found, key=lambda m: m.start)


# ------------------------------------------------------------------------ clauses and spans

def _blanked(text: str, pattern: re.Pattern) -> str:
    """text with every match of pattern replaced by spaces: positions stay where they were."""
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    breaks = list(CLAUSE_BREAK.finditer(text))
    left = max((m.end() for m in breaks if m.end() <= start), default=0)
    right = min((m.start() for m in breaks if m.start() >= end), default=len(text))
    return left, right


def _spans(text: str) -> list[_Span]:
    """Conditions and exceptions, each from its marker to the end of its clause."""
    spans = []
    opening = g.LEADING_CONDITION_RE.match(text)
    if opening:  # "If my face is not shown, ..." runs to the first comma
        comma = text.find(",", opening.end())
        spans.append(_Span(opening.start(), comma if comma >= 0 else clause_bounds(text, 0, opening.end())[1],
                           "condition"))
    for role, pattern in (("condition", g.CONDITION_RE), ("exception", g.EXCEPTION_RE)):
        for match in pattern.finditer(text):
            if not any(s.start <= match.start() < s.end for s in spans):
                spans.append(_Span(match.start(), clause_bounds(text, match.end(), match.end())[1], role))
    return spans


def hides_signer(text: str) -> bool:
    """Words that keep the signer from being recognised: a blurred face, "cannot be identified"."""
    return bool(lx.DEIDENTIFIED.search(text) or g.HIDDEN_RE.search(text))


def read_clause(text: str, start: int, end: int) -> Clause:
    plain = _blanked(text, g.NEUTRAL_NEGATION_RE)  # "including but not limited to" refuses nothing
    spans = _spans(plain)
    left, right = clause_bounds(plain, start, end)
    inside = [s for s in spans if s.start < right and s.end > left]
    role = next((s.role for s in inside if s.start <= start < s.end), None)
    main = plain[left:right]
    for s in inside:  # the main clause without its conditions and exceptions
        a, b = max(s.start, left) - left, min(s.end, right) - left
        main = main[:a] + " " * (b - a) + main[b:]
    conditions = [text[s.start:s.end] for s in inside if s.role == "condition"]
    condition = None
    if conditions:
        condition = "deidentified" if all(hides_signer(c) for c in conditions) else "other"
    named = any(lx.names_social_media(text[s.start:s.end]) for s in inside if s.role == "exception")
    before = text[left:start]
    grants = [m for m in g.GRANT_RE.finditer(main)]
    first = min((m.start() + left for m in grants if m.start() + left < start), default=None)
    signer_grants = (first is not None and bool(lx.FIRST_PERSON.search(before) or g.CHOOSE_RE.search(before))
                     and bool(g.PUBLISH_RE.search(text[first:end + 40])))
    permits = (bool(g.PERMISSION_RE.search(main)) and bool(SIGNER.search(main))
               and not g.INFORMING_RE.search(text[:start]))
    weak = bool(g.WEAK_GRANT_RE.search(main))
    # "not" in "I do not object" or "so that I cannot be recognised" refuses nothing
    unsaid = _blanked(_blanked(_blanked(main, g.WEAK_GRANT_RE), lx.DEIDENTIFIED), g.HIDDEN_RE)
    refused = bool(g.NEGATION_RE.search(unsaid))
    return Clause(role, refused, condition, named, signer_grants, permits, bool(grants), weak)


def hypothetical(text: str) -> bool:
    """A statement opening with a condition that grants nothing itself ("If you tick both, only
    de-identified images will be published"; "If you want your face blurred, tick here")."""
    opening = g.LEADING_CONDITION_RE.match(text)
    if not opening:
        return False
    rest = text[text.find(",", opening.end()) + 1:] if "," in text[opening.end():] else ""
    return not (g.GRANT_RE.search(rest) or g.PERMISSION_RE.search(rest))


_PLATFORM_WORDS = ("instagram", "facebook", "tiktok", "youtube", "twitter", "linkedin", "pinterest", "snapchat",
                   "sociales")


def near_platform_word(line: str) -> bool:
    """Words that may be a misread platform name or social media ("Instagrarn", "social rnedia")."""
    if re.search(r"\b(?:media|redes|network\w*)\b", line, re.I):
        return True
    words = [w.lower() for w in re.findall(r"[A-Za-z]{5,}", line)]
    return any(SequenceMatcher(None, w, name).ratio() >= 0.8 for w in words for name in _PLATFORM_WORDS)


def signer_grant(text: str) -> bool:
    """A grant made by the signer anywhere in text ("I authorize ...", "tick each use you agree to")."""
    return bool(g.GRANT_RE.search(text)) and bool(lx.FIRST_PERSON.search(text)) or bool(g.CHOOSE_RE.search(text))


def revokes(text: str) -> bool:
    """The signer withdrawing consent now ("I hereby revoke ..."), not "If I withdraw ..." or "I may revoke"."""
    for match in g.REVOKES_RE.finditer(text):
        if not g.HYPOTHETICAL_RE.search(text[:match.start()]) and not text.rstrip().endswith("?"):
            return True
    return False


def policy(text: str) -> bool:
    """A rule for staff or a statement about other patients, with no word of the signer's."""
    return bool(g.POLICY_RE.search(text)) and not SIGNER.search(text)


# ------------------------------------------------------------------------------- classification

def lead_chain(seg: Segment) -> list[Segment]:
    return [s for s in (seg.lead, seg.before_lead) if s is not None]


def lead_blocks(seg: Segment) -> str | None:
    """Why an option's lead-in stops it counting: 'denied' (negated), 'empty'/'unknown' (its own box)."""
    lead = seg.lead
    if lead is None or lead.mark == "row":
        return None
    if lead.mark == "empty":
        return "empty"
    if lead.mark in ("unknown", "plain"):
        return "unknown"
    last = CLAUSE_BREAK.split(_blanked(lead.text, g.NEUTRAL_NEGATION_RE))[-1]
    if g.NEGATION_RE.search(last) and not g.WEAK_GRANT_RE.search(last):
        return "denied"  # "I do NOT authorize use in:"
    return None


def classify(mention: Mention) -> Finding:
    seg = mention.segment
    if seg.mark in ("heading", "row") or seg.text.endswith("?"):
        return Finding(mention, "neutral")  # titles, questions; a row's own boxes answer it
    if revokes(seg.text):
        return Finding(mention, "revoked")
    if lx.REVOCATION.search(seg.text):
        return Finding(mention, "neutral")  # "I may revoke this authorization for social media at any time"
    clause = read_clause(seg.text, mention.start, mention.end)
    if clause.role == "condition":
        return Finding(mention, "neutral")
    if seg.is_option and seg.mark != "bullet":
        return _classify_option(mention, clause)
    return _classify_statement(mention, clause)


def _refusal(mention: Mention, clause: Clause) -> Finding | None:
    """The clause's answer when it refuses or excepts the mention, else None."""
    if clause.role == "exception":
        if clause.refused:
            return Finding(mention, "unknown", note=REFUSED_WITH_EXCEPTION)
        return Finding(mention, "excepted")
    if clause.refused and not clause.weak:
        # "not ... unless my face is hidden", "no social media except Instagram": a person must look
        if clause.condition:
            return Finding(mention, "unknown", note="a statement refuses social media unless a condition holds")
        return Finding(mention, "unknown", note=REFUSED_WITH_EXCEPTION) if clause.exception_names else \
            Finding(mention, "denied")
    return None


def _granted(mention: Mention, clause: Clause, media: bool) -> Finding:
    if not media:
        return Finding(mention, "unknown", note="a grant for social media names no photographs or videos")
    if clause.condition == "other":
        return Finding(mention, "conditional", "other")
    return Finding(mention, "granted", clause.condition)


def _classify_statement(mention: Mention, clause: Clause) -> Finding:
    seg = mention.segment
    if policy(seg.text):
        return Finding(mention, "no_grant")  # a rule for staff refuses or grants nothing of the signer's
    refusal = _refusal(mention, clause)
    if refusal:
        return refusal
    if clause.weak:
        return Finding(mention, "weak", note="a statement only does not object to social-media use")
    context = [seg, *lead_chain(seg)]
    media = any(lx.MEDIA.search(s.text) for s in context)
    if clause.signer_grants or clause.permits:
        return _granted(mention, clause, media)
    if seg.mark == "bullet" and seg.lead is not None and signer_grant(seg.lead.text) and lead_blocks(seg) is None:
        lead = read_clause(seg.lead.text, len(seg.lead.text), len(seg.lead.text))
        if any(g.PUBLISH_RE.search(s.text) for s in context):
            return _granted(mention, lead, media)
    if clause.grant_word or (seg.mark == "bullet" and seg.before_lead is not None
                             and signer_grant(seg.before_lead.text)):
        return Finding(mention, "unknown", note=GRANT_UNPLAIN)  # after the platform, or of something else
    if g.POSSIBLE_USE_RE.search(seg.text) or (g.INFORMING_RE.search(seg.text) and g.PERMISSION_RE.search(seg.text)):
        return Finding(mention, "mention")
    return Finding(mention, "no_grant")


def _classify_option(mention: Mention, clause: Clause) -> Finding:
    """A box: what its own words say, what its lead-in grants, and whether it is ticked."""
    seg = mention.segment
    chain = lead_chain(seg)
    if seg.mark != "ticked":
        if clause.refused:  # a refusal left unticked refuses nothing; an unreadable one may
            return Finding(mention, "neutral") if seg.mark == "empty" else Finding(mention, "unknown", note=BOX_UNREAD)
        if not (clause.grant_word or any(g.GRANT_RE.search(s.text) or g.CHOOSE_RE.search(s.text) for s in chain)):
            return Finding(mention, "no_grant")  # "How did you hear about us? ☐ Facebook"
        return Finding(mention, "empty") if seg.mark == "empty" else Finding(mention, "unknown", note=BOX_UNREAD)
    refusal = _refusal(mention, clause)
    if refusal:
        return refusal
    blocked = lead_blocks(seg)
    if blocked:
        return Finding(mention, blocked)
    lead_grants = seg.lead is not None and signer_grant(seg.lead.text)
    if not (clause.grant_word or clause.permits or any(g.GRANT_RE.search(s.text) or g.CHOOSE_RE.search(s.text)
                                                       for s in chain)):
        return Finding(mention, "no_grant")
    context = [seg, *chain]
    media = any(lx.MEDIA.search(s.text) for s in context)
    use = any(g.PUBLISH_RE.search(s.text) for s in context)
    if not (clause.signer_grants or clause.permits or lead_grants or signer_grant(seg.text)) or not use:
        return Finding(mention, "unknown", note=GRANT_UNPLAIN)  # ticked, but its grant is not in plain sight
    if seg.lead is not None and not clause.condition:  # the lead-in's condition holds for its options
        clause = read_clause(seg.lead.text, len(seg.lead.text), len(seg.lead.text))
    return _granted(mention, clause, media)


# ---------------------------------------------------------------------------- Yes / No answers

def yes_no_findings(segments: list[Segment]) -> list[Finding]:
    """A question or statement about social media answered by Yes / No boxes (Sí / No)."""
    findings = []
    by_lead: dict[int, list[Segment]] = {}
    for seg in segments:
        if seg.is_option and is_answer(seg.text) and seg.lead is not None:
            by_lead.setdefault(id(seg.lead), []).append(seg)
    for options in by_lead.values():
        lead = options[0].lead
        mentions = find_mentions(lead)
        if not mentions:
            continue
        asked = [lead, *lead_chain(lead)]
        context = " ".join(s.text for s in asked)
        questions = [s.text for s in asked if s.text.endswith("?")]
        if questions:  # "May we post ...?" asks for consent; "Have you ever agreed to ...?" does not
            asks = any(g.ASKS_RE.search(q) for q in questions)
        else:  # "I consent to ... on social media: Yes / No"; "My photos may be shared: Yes / No"
            asks = (g.ASKS_RE.search(context) or signer_grant(context)
                    or (g.PERMISSION_RE.search(context) and SIGNER.search(context))
                    or any(g.GRANT_RE.search(o.text) for o in options))
        status = _answer(options) if asks and g.PUBLISH_RE.search(context) else "no_grant"
        answers = " ".join({"ticked": "☒", "empty": "☐"}.get(o.mark, "[?]") + " " + o.text for o in options)
        lines = [line for s in [lead, *lead_chain(lead), *options] for line in s.lines]
        answered = Segment(lead.page, f"{lead.text} {answers}", lead.source, lines=lines)
        for mention in mentions:
            clause = read_clause(lead.text, mention.start, mention.end)
            finding = Finding(Mention(answered, mention.term, mention.start, mention.end), status)
            if status == "granted":
                # "May we NOT post ...? Yes" reads both ways; a yes to what?
                finding = (Finding(finding.mention, "unknown", note=GRANT_UNPLAIN) if clause.refused or clause.role else
                           _granted(finding.mention, clause, bool(lx.MEDIA.search(context))))
            elif status == "denied" and clause.role == "exception":
                finding.status = "neutral"  # "... except TikTok? No" refuses nothing
            if finding.status == "unknown" and not finding.note:
                finding.note = "Yes and No are both ticked, or an answer box could not be read"
            findings.append(finding)
    return findings


def _answer(options: list[Segment]) -> str:
    no = [o for o in options if is_no_answer(o.text)]
    marks_yes = {o.mark for o in options if o not in no}
    marks_no = {o.mark for o in no}
    if marks_yes == {"ticked"} and marks_no <= {"empty"}:
        return "granted"
    if marks_no == {"ticked"} and marks_yes <= {"empty"}:
        return "denied"
    if marks_yes <= {"empty"} and marks_no <= {"empty"}:
        return "empty"
    return "unknown"


def let_options_decide(segments: list[Segment], findings: list[Finding]) -> None:
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
        if not kids:
            continue
        if any(is_answer(k.text) for k in kids):
            f.status = "neutral"  # the Yes / No finding speaks for it
            continue
        if f.status not in ("granted", "conditional"):
            continue
        kid_findings = [k for k in findings if k.mention.segment in kids]
        if kid_findings:  # the options name social media or platforms: they carry the scope
            if all(k.status in ("empty", "denied", "neutral") for k in kid_findings):
                chosen = f.mention.segment.mark == "ticked"  # "☒ I authorize ... the platforms I tick:"
                f.status = "unknown" if chosen else "neutral"
                f.note = "social media is granted but none of the listed platforms is ticked"
            else:
                f.status = "neutral"
        elif not any(k.mark in ("ticked", "bullet") for k in kids):
            f.status, f.note = "unknown", "a grant whose choices were all left empty or unreadable"


# ---------------------------------------------------------------------------------- platforms

def _open_list(text: str, group: list[Finding]) -> bool:
    """An open-list marker among the names: "(Instagram, Facebook, etc.)", "including but not limited
    to ...", "Facebook and other social media"; not an "etc." elsewhere in the sentence."""
    start, end = min(f.mention.start for f in group), max(f.mention.end for f in group)
    return bool(g.OPEN_LIST_RE.search(text[max(0, start - 20):end + 25]))


def granted_platforms(granted: list[Finding]) -> tuple[list[str], bool]:
    """(platforms named in grants, whether some grant covers social media in general).

    Platforms named beside "social media" are the grant ("social media such as Instagram and
    YouTube": those two); an open list ("etc.", "including but not limited to") or "social media"
    alone grants it in general.
    """
    platforms: set[str] = set()
    general = False
    by_segment: dict[int, list[Finding]] = {}
    for f in granted:
        by_segment.setdefault(id(f.mention.segment), []).append(f)
    for group in by_segment.values():
        names = {f.mention.term for f in group if not f.mention.generic}
        text = group[0].mention.segment.text
        if any(f.mention.generic for f in group) and (not names or _open_list(text, group)):
            general = True
        platforms |= names
    return sorted(platforms, key=lx.PLATFORMS.index), general
