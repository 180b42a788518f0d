"""The grammar of a consent statement, as data: what a grant, a refusal, a condition, an exception,
an open platform list and a revocation look like, in English and Spanish.

consent.clauses reads each statement with these tables; a new wording is a new line here, not new
code. Every table is a list of regular-expression fragments, one family of wordings per line, joined
by compile_table into one case-insensitive pattern with word boundaries around it (GRANT below is
GRANT_RE, and so on). "{publish}" stands for PUBLISH.

How a statement is read (consent.clauses):
  grant        the signer's own verb (GRANT) before the platform with an act of publishing (PUBLISH)
               and images named; or a permission in the signer's own images (PERMISSION: "my
               photos may be posted", "the clinic may use my photographs"); a box ticked under a
               lead-in that grants or asks the signer to choose (CHOOSE: "tick each use you agree
               to"); a Yes to a question that asks for consent (ASKS); "I do not object" (WEAK_GRANT)
               only leans toward a grant: a person looks
  refusal      a negation (NEGATION) in the clause, outside conditions and exceptions
  condition    from a CONDITION marker to the end of the clause ("only if my face is not shown"); a
               condition that hides the signer (HIDDEN, consent.lexicon.DEIDENTIFIED) limits the
               grant to de-identified images, any other one needs a person
  exception    from an EXCEPTION marker to the end of the clause: its platforms are excluded, and
               social media itself excepted means social media is not granted
  list         platforms named beside "social media" limit the grant to them ("including", "such
               as", parentheses), unless the list is open (OPEN_LIST: "etc.", "but not limited to")
  revocation   the signer withdrawing consent now (REVOKES); the right to revoke is not one
  not binding  someone else's rule (POLICY), a description (INFORMING), a question left unanswered;
               a use named as possible (POSSIBLE_USE: "photos may be posted") with nobody granting it
               needs a person
"""
from __future__ import annotations

import re

# An act of publishing: the grant must be for this, not for taking photographs or for treatment.
PUBLISH = [
    r"post\w*", r"publish\w*", r"publication\w*", r"shar(?:e|es|ed|ing)", r"us(?:e|es|ed|ing)", r"display\w*",
    r"upload\w*", r"featur\w*", r"appear\w*", r"show\w*", r"distribut\w*", r"broadcast\w*", r"disclos\w*",
    r"plac\w*", r"public\w*",
    r"publiqu\w*", r"compart\w*", r"us[oa]r?", r"utiliz\w*", r"difund\w*", r"difusi[oó]n", r"mostr\w*",
    r"sub(?:ir|an?|en?|id[oa]s?)", r"divulg\w*", r"empleo", r"emplear", r"aparec\w*", r"aparezc\w*",
]


def compile_table(fragments: list[str], *, anchored: bool = False) -> re.Pattern:
    """One pattern from a table: alternatives in order, whole words, case-insensitive."""
    publish = "(?:" + "|".join(PUBLISH) + ")"
    body = "|".join(f"(?:{f.replace('{publish}', publish)})" for f in fragments)
    return re.compile((r"^\W*" if anchored else "") + rf"(?<![\w'])(?:{body})(?![\w'])", re.IGNORECASE)


PUBLISH_RE = compile_table(PUBLISH)

# The signer's grant verbs. Who speaks is checked apart (consent.lexicon.FIRST_PERSON).
GRANT_RE = compile_table([
    r"authori[sz](?:e|es|ed|ing)", r"consent(?:s|ed|ing)?\s+to", r"(?:I|we|hereby|also|fully)\s+consent",
    r"give\s+(?:my\s+|our\s+)?consent", r"give\s+(?:\S+\s+){0,4}?permission",
    r"permission\s+(?:is|was)\s+(?:hereby\s+)?given",
    r"permit(?:s|ted)?", r"grant(?:s|ed|ing)?", r"agree(?:s|d)?", r"allow(?:s|ed)?", r"approve(?:s|d)?",
    r"(?:am|are)\s+(?:happy|willing|content)\s+(?:for|to)",
    r"autoriz(?:o|a|an|amos|ar|ado|ada)", r"consiento", r"consiente",
    r"(?:doy|otorgo|presto)\s+(?:mi|el)\s+(?:consentimiento|permiso|autorizaci[oó]n)", r"permit[oe]", r"otorgo",
    r"concedo", r"acepto", r"de\s+acuerdo",
])

# Permission stated in the signer's own images: a grant when "my / mis" images are its object.
PERMISSION_RE = compile_table([
    r"(?<!\bI\s)(?:may|can)\s+(?:also\s+)?(?:be\s+)?{publish}",
    r"(?:is|are)\s+(?:allowed|permitted|free)\s+to\s+{publish}",
    r"(?:podr[aá]n?|pueden?)\s+(?:ser\s+)?{publish}",
])

# Questions whose "Yes" grants: they ask for the signer's consent to publish.
ASKS_RE = compile_table([
    r"may\s+(?:we|the\s+\w+|\w+)\s+{publish}", r"can\s+(?:we|the\s+\w+)\s+{publish}",
    r"do\s+you\s+(?:consent|agree|authori[sz]e|allow|permit|give|grant|approve)",
    r"would\s+you\s+(?:allow|permit|let|agree|consent)", r"would\s+you\s+like\s+(?:us|the\s+\w+)\s+to\s+{publish}",
    r"are\s+you\s+(?:happy|willing|ok|okay)\s+(?:for|to|with)",
    r"is\s+it\s+(?:ok|okay|alright|all\s+right)\s+(?:for\s+us\s+)?(?:to|if)\s+(?:we\s+)?{publish}",
    r"podemos\s+{publish}", r"(?:nos\s+)?(?:autoriza|permite|acepta)", r"est[aá]\s+de\s+acuerdo",
])

# A lead-in asking the signer to choose what they grant: the boxes ticked under it are grants.
CHOOSE_RE = compile_table([
    r"(?:tick|check|mark|initial|select|circle|choose)\w*\s+(?:\S+\s+){0,10}?(?:you|that\s+you)\s+(?:\w+\s+)?"
    r"(?:agree|consent|authori[sz]e|approve|allow|permit|give|accept)",
    r"(?:marque|se[nñ]ale|indique)\w*\s+(?:\S+\s+){0,10}?(?:que\s+)?(?:autoriza|acepta|consiente|permite)",
])

# "I do not object": it leans toward a grant without making one; a person must look.
WEAK_GRANT_RE = compile_table([
    r"(?:do|does)\s+not\s+object", r"don['’]t\s+object", r"(?:have|has)\s+no\s+objection", r"no\s+objection",
    r"don['’]t\s+mind", r"do\s+not\s+mind", r"no\s+me\s+opongo", r"no\s+tengo\s+inconveniente",
])

NEGATION_RE = compile_table([
    r"not", r"\w+n['’]t", r"no", r"never", r"nor", r"neither", r"none", r"nothing", r"nobody", r"no\s+one", r"cannot",
    r"refus\w*", r"declin\w*", r"withh[oe]ld\w*", r"prohibit\w*", r"forbid\w*", r"deny", r"denied",
    r"opt(?:s|ed)?[\s-]+out", r"without",
    r"nunca", r"ni", r"tampoco", r"jam[aá]s", r"sin", r"niego", r"rechazo", r"prohib\w*", r"nada", r"nadie",
])
# Negation words that refuse nothing: "including but not limited to", the right to opt out.
NEUTRAL_NEGATION_RE = compile_table([
    r"(?:but\s+)?not\s+limited\s+to", r"without\s+limitation", r"not\s+only", r"no\s+longer\s+(?:be\s+)?protect\w*",
    r"(?:can|may|could|right\s+to)\s+opt[\s-]+out",
    r"sin\s+limitarse\s+a", r"no\s+limitad[oa]s?\s+a", r"no\s+s[oó]lo",
])

# A condition runs from its marker to the end of the clause.
CONDITION_RE = compile_table([
    r"(?:but\s+)?only\s+(?:if|when|after|once|where)", r"on\s+(?:the\s+)?condition\s+that", r"provided(?:\s+that)?",
    r"providing(?:\s+that)?", r"as\s+long\s+as", r"so\s+long\s+as", r"unless", r"subject\s+to",
    r"siempre\s+(?:y\s+cuando|que)", r"(?:con\s+la|a)\s+condici[oó]n\s+de\s+que", r"s[oó]lo\s+si",
    r"s[oó]lo\s+(?:despu[eé]s|cuando|una\s+vez)", r"a\s+menos\s+que", r"salvo\s+que", r"excepto\s+si",
    r"(?<!even\s)if", r"in\s+case", r"(?:once|after|when|whenever)\s+(?:I|we|you|my)", r"si",
    r"(?:despu[eé]s\s+de\s+que|cuando|una\s+vez\s+que)\s+(?:yo|mi|se)",
])
# A statement opening with a condition: it runs to the first comma ("If my face is not shown, ...").
LEADING_CONDITION_RE = compile_table([r"if", r"unless", r"in\s+case", r"si", r"en\s+caso\s+de"], anchored=True)
# What a de-identifying condition says beyond consent.lexicon.DEIDENTIFIED: the signer not seen.
HIDDEN_RE = compile_table([
    r"(?:face|faces|eyes|features|identity)\s+(?:\w+\s+){0,3}(?:not|never)\s+(?:be\s+)?"
    r"(?:shown|visible|seen|displayed|included|recogni[sz]able|identifiable|revealed)",
    r"(?:I|me)\s+(?:\w+\s+){0,2}(?:not|never)\s+(?:be\s+)?(?:recogni[sz]ed|recogni[sz]able|identified|identifiable)",
    r"(?:rostro|cara)\s+no\s+(?:sea|se)\s+\w+", r"no\s+se\s+(?:vea|muestre|reconozca)\s+(?:mi\s+)?(?:rostro|cara)",
])

# An exception runs from its marker to the end of the clause: "except TikTok, which I do not authorize".
EXCEPTION_RE = compile_table([
    r"except(?:\s+for|\s+on|\s+in)?", r"excepting", r"excluding", r"exclusive\s+of", r"other\s+than",
    r"with\s+the\s+exception\s+of", r"apart\s+from", r"aside\s+from", r"not\s+including", r"but\s+not",
    r"excepto", r"salvo", r"excluyendo", r"a\s+excepci[oó]n\s+de", r"con\s+excepci[oó]n\s+de",
    r"(?<!al\s)(?<!lo\s)menos", r"pero\s+no", r"sin\s+incluir",
])

# Platforms named beside "social media" are the whole grant unless the list is open.
OPEN_LIST_RE = compile_table([
    r"etc", r"and\s+so\s+on", r"(?:but\s+)?not\s+limited\s+to", r"without\s+limitation", r"and\s+(?:any\s+)?other",
    r"or\s+(?:any\s+)?other", r"as\s+well\s+as\s+(?:any\s+)?other", r"and\s+more", r"among\s+others",
    r"any\s+(?:\w+\s+)?(?:social|platform|network|channel)",
    r"all\s+(?:\w+\s+)?(?:social|platforms|networks|channels)",
    r"entre\s+otr[ao]s", r"y\s+otr[ao]s", r"u\s+otr[ao]s", r"etc[eé]tera",
    r"cualquier\s+(?:otra\s+)?(?:red|plataforma)",
    r"todas\s+las\s+(?:redes|plataformas)",
])

# The signer withdrawing consent now: a revocation letter, not the right to revoke.
_GIVEN = r"(?:\w+\s+){0,4}?(?:consent|authori[sz]ation|permission|release|agreement|approval|it|this|that)"
REVOKES_RE = compile_table([
    r"I\s+(?:hereby\s+|now\s+|therefore\s+)?(?:am\s+(?:hereby\s+|now\s+)?)?"
    r"(?:revok|withdraw|rescind|cancel|retract)\w*\s+" + _GIVEN,
    r"I\s+(?:wish|want|would\s+like|am\s+writing|write)\s+to\s+(?:revoke|withdraw|rescind|cancel|retract)\s+" + _GIVEN,
    r"notice\s+that\s+I\s+(?:revoke|withdraw|rescind)", r"I\s+no\s+longer\s+(?:\w+\s+)?"
    r"(?:consent|authori[sz]e|agree|give|grant|allow|permit|wish|want)",
    r"revoco", r"retiro\s+(?:mi|el)", r"anulo", r"ya\s+no\s+(?:autorizo|consiento|acepto|deseo|permito|doy|quiero)",
    r"(?:deseo|quiero)\s+(?:revocar|retirar|cancelar)",
])
# Before a revoking verb these make it hypothetical: "If I withdraw my consent, ...".
HYPOTHETICAL_RE = compile_table([
    r"if", r"when", r"whenever", r"once", r"should", r"unless", r"si", r"cuando", r"en\s+caso",
])

# Someone other than the signer acts or is spoken of: staff rules, other patients.
POLICY_RE = compile_table([
    r"(?:staff|employees|team\s+members|personnel|providers|clinicians|workforce|marketing\s+team)"
    r"(?:\s+\w+){0,2}\s+(?:must|shall|should|may|are|will|agree|consent|is|need)",
    r"all\s+staff", r"patients\s+who", r"other\s+patients", r"of\s+patients",
    r"patient\s+(?:photo\w*|image\w*|pictures?)",
    r"their\s+own", r"el\s+personal", r"los\s+empleados", r"de\s+(?:los\s+)?pacientes", r"otros\s+pacientes",
])
# A description the signer acknowledges, not a permission given: "I understand that ... may be posted".
INFORMING_RE = compile_table([
    r"I\s+understand", r"I\s+acknowledge", r"I\s+am\s+aware", r"I\s+reali[sz]e", r"I\s+recogni[sz]e",
    r"entiendo", r"comprendo", r"soy\s+consciente", r"reconozco",
])

# A possible use named without anybody granting it ("photographs may be posted on Facebook").
POSSIBLE_USE_RE = compile_table([
    r"(?:may|will|can|might|could|shall|would)\s+(?:also\s+)?be\s+(?:posted|published|shared|used|displayed|uploaded"
    r"|featured|shown|placed|included)",
    r"(?:podr[aá]n?|pueden?|ser[aá]n?)\s+(?:ser\s+)?(?:publicad|compartid|usad|utilizad|difundid|mostrad)\w*",
])
