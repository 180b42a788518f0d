"""The words consent forms use, in English and Spanish, as regular expressions.

Kept apart from the logic (consent.scope, consent.segments) so that a new phrasing is one line here;
how statements grant, refuse, limit and except is consent.grammar's part. Patterns are deliberately
narrow where a wrong match could grant (platforms, identifiable) and broad where a wrong match can
only withhold (vague channels, de-identification).
"""
from __future__ import annotations

import re

_I = re.IGNORECASE

PLATFORMS = ("instagram", "facebook", "tiktok", "youtube", "x", "linkedin", "pinterest", "snapchat", "threads")
PLATFORM_NAMES = {"instagram": "Instagram", "facebook": "Facebook", "tiktok": "TikTok", "youtube": "YouTube", "x": "X",
                  "linkedin": "LinkedIn", "pinterest": "Pinterest", "snapchat": "Snapchat", "threads": "Threads"}

# "social media" itself; "Social Security #", "Social Events", "social history" never match.
SOCIAL = re.compile(
    r"\bsocial[\s-]*media\b|\bsocial[\s-]*network(?:s|ing)?\b|\bsocial[\s-]*(?:media\s+)?platforms?\b"
    r"|\bredes\s+sociales\b|\bred\s+social\b|\bmedios\s+sociales\b|\bplataformas\s+sociales\b", _I)
PLATFORM = {
    "instagram": re.compile(r"\binstagram\b", _I),
    "facebook": re.compile(r"\bfacebook\b", _I),
    "tiktok": re.compile(r"\btik[\s-]?tok\b", _I),
    "youtube": re.compile(r"\byou[\s-]?tube\b", _I),
    "x": re.compile(r"\btwitter\b|\bx\s*\((?:formerly\s+|antes\s+)?twitter\)|\bx\s*/\s*twitter\b|\bx\.com\b", _I),
    "linkedin": re.compile(r"\blinked[\s-]?in\b", _I),
    "pinterest": re.compile(r"\bpinterest\b", _I),
    "snapchat": re.compile(r"\bsnap[\s-]?chat\b", _I),
    # also a suture and a face-lift ("PDO threads"): only the capitalised name beside other social wording
    "threads": re.compile(r"\bThreads\b"),
}


def names_social_media(text: str) -> bool:
    """Social media or any platform named anywhere in the text."""
    return bool(SOCIAL.search(text)) or any(pattern.search(text) for pattern in PLATFORM.values())


# Who grants: the patient, in the first person or as "the undersigned / the patient" (Spanish
# first-person verbs carry it themselves). "Patients who agree ..." or "we may ask your permission"
# describe a grant somebody else might give.
FIRST_PERSON = re.compile(
    r"\bI\b|(?i:\bmy\b|\bme\b|\bthe\s+undersigned\b|\bthe\s+patient\b|\bhereby\b|\bmi\b|\bmis\b|\byo\b"
    r"|\bel\s+paciente\b|\bla\s+paciente\b|\bautorizo\b|\bconsiento\b|\bdoy\b|\botorgo\b|\bpresto\b"
    r"|\bpermito\b|\bconcedo\b|\bacepto\b)")
MEDIA = re.compile(
    r"\bphoto\w*|\bimage\w*|\bpicture\w*|\bvideo\w*|\blikeness\b|\brecording\w*|\bfootage\b"
    r"|\bfotograf\w*|\bfoto\w*|\bimagen\w*|\bim[aá]genes\b|\bv[ií]deos?\b|\bgrabaci\w*", _I)

CLAUSE_BREAK = re.compile(
    r"[;.!?]\s|\bbut\b|\bhowever\b|\balthough\b|\bwhereas\b|\bpero\b|\bsin\s+embargo\b|\baunque\b", _I)
CONDITIONAL = re.compile(r"^\W*(?:if|unless|in case|si|en caso de)\b|\bunless\b|\ba\s+menos\s+que\b", _I)
REVOCATION = re.compile(
    r"\brevok\w*|\brevocation\b|\bwithdraw\w*\s+(?:my\s+|this\s+|the\s+)?(?:consent|authori[sz]ation|permission)"
    r"|\brevoc\w*|\bretirar\w*\s+(?:mi\s+|este\s+|el\s+)?consentimiento", _I)
VAGUE_CHANNEL = re.compile(
    r"\binternet\b|\bonline\b|\bon-line\b|\bweb-based\b|\belectronic\w*\b|\bdigital\s+media\b"
    r"|\bany\s+(?:and\s+all\s+)?(?:form\s+of\s+)?media\b|\ball\s+media\b|\ben\s+l[ií]nea\b"
    r"|\bmedios\s+digitales\b|\bcualquier\s+medio\b|\btodos\s+los\s+medios\b", _I)
OTHER_CHANNEL = re.compile(
    r"\bwebsite\b|\bbrochures?\b|\bprint\w*\b|\bnewsletters?\b|\bteaching\b|\beducation\w*\b"
    r"|\bpublications?\b|\bpresentations?\b|\badvertis\w*\b|\bp[aá]gina\s+web\b"
    r"|\bsitio\s+web\b|\bfolletos?\b|\bdocencia\b|\bense[nñ]anza\b", _I)

FACE = re.compile(r"\bfaces?\b|\bfacial\b|\beyes\b|\brostro\b|\bcara\b|\bidentifiable\b|\bidentificable\b", _I)
DEIDENTIFIED = re.compile(
    r"\bde-?identifi\w*|\bunidentifiable\b|\bnon-?identifiable\b|\banonymi[sz]\w*|\banonymous\b"
    r"|\b(?:face|faces|eyes|features)\s+(?:\w+\s+){0,3}"
    r"(?:blurred|obscured|covered|hidden|masked|pixelated|cropped|removed)"
    r"|\b(?:blur|obscure|cover|hide|mask|pixelate|crop)\w*\s+(?:out\s+)?(?:my\s+|the\s+|their\s+)?(?:face|eyes)"
    r"|\bcannot\s+be\s+(?:recogni[sz]ed|identified)|\bwithout\s+(?:showing\s+)?(?:my|the\s+patient's|his|her)\s+face"
    r"|\bdesidentific\w*|\banonimiz\w*|\ban[oó]nim\w*|\bno\s+identificable\b"
    r"|\bsin\s+(?:mostrar\s+)?(?:mi\s+|el\s+)?rostro|\brostro\s+(?:\w+\s+){0,2}"
    r"(?:cubierto|oculto|difuminado|pixelado|tapado)|\bno\s+(?:se\s+)?(?:me\s+)?pueda\s+reconocer", _I)
IDENTIFIABLE = re.compile(
    r"\bidentifiable\s+(?:photo\w*|image\w*|picture\w*|video\w*|likeness|form)|\bidentifiable\s*:"
    r"|\bface\s+(?:and\s+[\w\s]{0,30})?(?:may|will|can)\s+be\s+(?:shown|visible|seen|displayed|included)"
    r"|\b(?:show|showing|include|including)\s+(?:my|the\s+patient's)\s+(?:full\s+)?face|\brecogni[sz]able\b"
    r"|\bfull[\s-]face\b|\bface\s+(?:\w+\s+){0,2}visible\b|\bmay\s+be\s+(?:recogni[sz]ed|identified)\s+(?:from|in)\b"
    r"|\bidentificable\b|\brostro\s+visible\b|\b(?:mostrar|mostrando|se\s+muestre)\s+(?:mi\s+|el\s+)?rostro"
    r"|\bse\s+me\s+(?:pueda\s+)?reconocer", _I)

EXPIRY_CUE = re.compile(
    r"\bexpir\w*|\bexpiration\b|\bvalid\s+(?:until|through)\b|\bin\s+(?:full\s+)?(?:force|effect)\s+until\b"
    r"|\bends?\s+on\b|\bend\s+date\b|\buntil\b|\bterminat\w*|\bvenc\w*|\bcaduc\w*|\bv[aá]lid[oa]\s+hasta\b"
    r"|\bvigen\w*\s+hasta\b|\bhasta\b|\bfecha\s+de\s+(?:vencimiento|caducidad|expiraci[oó]n)\b", _I)
WEAK_EXPIRY_CUE = re.compile(r"^(?:until|hasta)$", _I)  # counts only beside the words below
AUTHORIZATION_NOUN = re.compile(r"\bauthori[sz]ation\b|\bconsent\b|\bpermission\b|\brelease\b"
                                r"|\bautorizaci[oó]n\b|\bconsentimiento\b|\bpermiso\b", _I)
NO_EXPIRY = re.compile(
    r"\bno\s+time\s+limit\b|\bno\s+expir\w*|\bdoes\s+not\s+expire\b|\bwill\s+not\s+expire\b|\bnever\s+expires\b"
    r"|\bno\s+(?:vence|caduca)\b|\bsin\s+(?:fecha\s+de\s+)?(?:vencimiento|caducidad)\b", _I)
GUARDIAN = re.compile(
    r"\bguardian\w*|\bminor\b|\bparent(?:'s|s)?\s*(?:/|or)\s*(?:legal\s+)?guardian|\blegal\s+representative\b"
    r"|\bpersonal\s+representative\b|\bunder\s+(?:the\s+age\s+of\s+)?18\b|\btutor(?:a|es)?\s+legal\b"
    r"|\bpadre,?\s+madre\s+o\s+tutor|\brepresentante\s+legal\b|\bmenor\s+de\s+edad\b|\bmenor\b", _I)

# Marks in front of an option. "✗" may mean "no" as well as "selected": its meaning is unknown.
TICKED_MARK = r"☒|☑|✓|✔|■|◉|●|\[\s*[xX✓✔]\s*\]|\(\s*[xX✓✔]\s*\)"
EMPTY_MARK = r"☐|□|❏|❑|▢|○|◯|\[\s*\]|\(\s*\)"
UNKNOWN_MARK = r"\[\?\]|✗|✘|[\ue000-\uf8ff]"  # "[?]" is written by consent.pdf; private-use: symbol fonts
MARK = re.compile(rf"(?P<ticked>{TICKED_MARK})|(?P<empty>{EMPTY_MARK})|(?P<unknown>{UNKNOWN_MARK})")
BULLET = re.compile(r"^(?:[•·▪◦‣∙*]|[-–—](?=\s)|\d{1,2}[.)](?=\s)|[a-zA-Z][.)](?=\s))\s*")

# Printed signature lines. Letters only around the words: "Signature____" has no word boundary.
SIGNATURE_WORD = re.compile(r"(?<![A-Za-z])(?:signature|signed\s+by|firma)(?![A-Za-z])", _I)
SIGNATURE_ROLE_WORDS = re.compile(
    r"(?<![A-Za-z])(?:of|the|by|parent|parents|guardian|guardians|legal|patient|participant|client|minor"
    r"|representative|personal|witness|or|and|if|applicable|print|printed|name|person|authorized|del|de|la|el"
    r"|paciente|padre|madre|tutor|representante|testigo|menor|s|y|o|signature|firma|here|sign|signed)(?![A-Za-z])",
    _I)
SIGNATURE_NEXT_LABEL = re.compile(
    r"(?<![A-Za-z])(?:date|fecha|printed|print\s+name|name|nombre|relationship|relaci[oó]n)(?![A-Za-z])", _I)
OPTIONAL_SIGNATURE = re.compile(r"\bif\b|\bwitness\b|\bsi\s+es\b|\btestigo\b|\bcuando\s+proceda\b", _I)
