"""Urgency triage of the patient message: emergency, urgent same-day, or routine.

Deterministic patterns for the presentations that must never wait in an inbox, with three guards
that keep ordinary messages quiet: negation ("no chest pain"), history ("chest pain last year") and
co-occurrence rules where one word alone is not enough (a stiff neck needs a fever). Third person
("my dad has chest pain") is as urgent as first person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guardrails.checks._prefilter import Pattern
from guardrails.checks._text import clause_bounds
from guardrails.context import InputContext
from guardrails.finding import Finding, Severity, Urgency


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    level: Urgency
    label: str
    pattern: Pattern
    requires: Pattern | None = None  # must also appear somewhere in the message


def _p(pattern: str) -> Pattern:
    # Rule patterns run on every message: Pattern skips the rules whose words the message lacks.
    return Pattern(pattern)


def _re(pattern: str) -> re.Pattern[str]:
    # Used on short windows around a hit, with pos/endpos: plain re.
    return re.compile(pattern, re.IGNORECASE)


_WHO = r"(?:my|his|her|their|the|your)"
_FEVER = _p(r"\b(?:fever\w*|temp(?:erature)?\s+(?:of\s+)?(?:10[0-9]|3[89])|feverish|febrile|fiebre|calentura)\b")

_P = r"(?:my|his|her|their|the|your|mi|su)"
RULES: tuple[Rule, ...] = (
    Rule("chest_pain", Urgency.EMERGENCY, "chest pain or pressure",
         _p(r"\bchest\s+(?:pains?|pressure|tightness|hurts?|hurting|is\s+tight|pian\w*)\b"
            r"|\bpain\s+in\s+" + _P + r"\s+chest\b|\bcrushing\s+(?:pain|pressure)\b|\bheart\s+attack\b"
            r"|\bchest\s+(?:is|feels)\s+(?:killing|crushing|heavy|tight|squeez\w*|like)"
            r"|\belephant\s+(?:sitting\s+)?on\s+" + _P + r"\s+chest\b|\bpressure\s+in\s+" + _P + r"\s+chest\b"
            r"|\bpain\s+(?:radiat\w*|spread\w*|going|goes|shoot\w*)\s+(?:down|to|into|up)\s+" + _P
            + r"\s+(?:left\s+)?(?:arm|jaw)\b|\bdolor\s+(?:de|en\s+el)\s+pecho\b|\bme\s+duele\s+el\s+pecho\b"
            r"|\bpecho\s+apretado\b|\bopresión\s+en\s+el\s+pecho\b"
            r"|\b(?:heart|chest)\s+(?:feels|is)\s+(?:like\s+)?(?:\w+\s+){0,3}(?:squeez\w*|crush\w*|in\s+a\s+vise)")),
    Rule("breathing", Urgency.EMERGENCY, "trouble breathing",
         _p(r"\b(?:can'?t|cannot|can\s+not|cant|unable\s+to|hard\s+to|struggling\s+to)\s+(?:breath|breathe|brethe)\b"
            r"|\b(?:trouble|difficulty|problems?|hard\s+time)\s+(?:breath(?:e|ing)|catching\s+" + _P + r"\s+breath)"
            r"|\bshort(?:ness)?\s+of\s+breath\b|\bgasping\b|\bcan'?t\s+catch\s+" + _P + r"\s+breath\b"
            r"|\b(?:turning|lips?\s+(?:are|is|turning|look))\s+(?:blue|gr[ae]y)\b|\bgr[ae]y\s+colou?red\b"
            r"|\bbreathing\s+(?:is\s+)?(?:really\s+|very\s+|real\s+)?(?:fast|noisy|labou?red|hard|shallow|weird)"
            r"|\bribs\s+suck\w*\s+in\b|\bwheez\w*.{0,40}\b(?:breath|ribs|blue|can'?t)"
            r"|\bno\s+puedo\s+respirar\b|\b(?:le|me)\s+cuesta\s+respirar\b|\bfalta\s+de\s+aire\b|\bme\s+ahogo\b")),
    Rule("stroke", Urgency.EMERGENCY, "possible stroke signs",
         _p(r"\b(?:face|facial|smile)\s+(?:is\s+|looks\s+|went\s+)?(?:droop\w*|crooked|uneven|lopsided|twisted|weird)"
            r"|\bslurr(?:ed|ing)\b|\bone\s+side\s+(?:of\s+" + _P + r"\s+(?:body|face)\s+)?(?:is\s+|went\s+|feels\s+)?"
            r"(?:numb|weak|limp)|\b(?:right|left)\s+side\s+(?:of\s+" + _P + r"\s+(?:body|face)\s+)?"
            r"(?:went|is|feels|got|"
            r"has\s+gone)\s+(?:numb|weak|limp|heavy|dead)|\b(?:having|had|is\s+having)\s+a\s+stroke\b"
            r"|\bsudden(?:ly)?\s+(?:can'?t|cannot)\s+(?:see|speak|talk|move)|\bsudden(?:ly)?\s+(?:lost|loss\s+of)\s+"
            r"(?:vision|sight|speech)|\blost\s+(?:the\s+)?vision\s+in\s+one\s+eye\b|\bcurtain\s+(?:came|coming)\s+down"
            r"|\bcan'?t\s+(?:find\s+" + _P + r"\s+words|lift\s+" + _P + r"\s+arm|raise\s+" + _P + r"\s+arm)"
            r"|\b(?:all\s+of\s+a\s+sudden|suddenly)\s+confused\b|\bcara\s+torcida\b|\bno\s+puede\s+hablar\b"
            r"|\bboca\s+(?:torcida|chueca)\b")),
    Rule("bleeding", Urgency.EMERGENCY, "severe bleeding",
         _p(r"\bbleed\w*\b[^.!?\n]{0,30}\b(?:won'?t|wont|will\s+not|doesn'?t|does\s+not|isn'?t|not)\s+stop"
            r"|\b(?:heavy|severe|lots\s+of|a\s+lot\s+of|uncontrolled|gushing|spurting)\s+(?:bleeding|blood)\b"
            r"|\bspurting\b|\bblood\s+(?:won'?t|wont|keeps?)\s+(?:stop|coming)|\b(?:coughing|vomiting|throwing)\s+"
            r"(?:up\s+)?blood\b|\bcoffee\s+grounds?\b|\bsoak\w*\s+(?:through\s+)?(?:a\s+|\d+\s+|two\s+)?(?:pads?|towels?)"
            r"|\bsangrado\s+que\s+no\s+para\b|\bno\s+(?:para|deja)\s+de\s+sangrar\b|\bempapad[oa]\s+de\s+sangre\b"
            r"|\bgasa\s+est[aá]\s+empapada\b")),
    Rule("anaphylaxis", Urgency.EMERGENCY, "severe allergic reaction",
         _p(r"\b(?:throat|tongue|lips?|garganta|lengua)\s+(?:is\s+|are\s+|feels?\s+)?(?:swell\w*|swollen|closing|tight)"
            r"|\banaphyla\w*|\bused\s+(?:my|an|his|her)\s+epi\s?-?pen\b|\bepi\s?-?pen\b.{0,60}\b(?:still|can'?t|worse)"
            r"|\bhives\b.{0,60}\b(?:wheez\w*|breath\w*|throat|swallow|pass\s+out|faint|dizzy)"
            r"|\bse\s+me\s+est[aá]\s+hinchando\s+la\s+garganta\b|\bme\s+cuesta\s+tragar\b|\bcan'?t\s+swallow\b"
            r"|\b(?:face|eyes?|mouth)\s+(?:is\s+|are\s+)?(?:swell\w*|swollen|puff\w*)\b")),
    Rule("self_harm", Urgency.EMERGENCY, "thoughts of suicide or self-harm",
         _p(r"\b(?:kill|killing|hurt|hurting|harm|harming|cut|cutting)\s+(?:my\s?self|him\s?self|her\s?self)\b"
            r"|\bsuicid\w*|\bend\s+(?:my|his|her)\s+life\b|\bend\s+it\s+all\b|\bkms\b"
            r"|\b(?:don'?t|do\s+not|dont)\s+want\s+to\s+(?:live|be\s+alive|be\s+here|wake\s+up)\b"
            r"|\bbetter\s+off\s+(?:dead|without\s+me)\b|\bwants?\s+to\s+die\b|\bno\s+reason\s+to\s+live\b"
            r"|\bgoodbye\s+(?:messages?|notes?|letters?)\b|\bsuicide\s+note\b"
            r"|\busing\s+it\s+on\s+myself\b|\bno\s+quiero\s+vivir\b|\bquitarme\s+la\s+vida\b|\bmatarme\b")),
    Rule("overdose", Urgency.EMERGENCY, "possible overdose or poisoning",
         _p(r"\bover\s?dos\w*|\bdouble\s?-?dos\w*|\b(?:took|swallowed|ate|drank|taken|tomó|se\s+tomó)\b[^.!?\n]{0,40}"
            r"\b(?:too\s+many|whole\s+(?:bottle|week)|entire\s+bottle|handful|double\s+dose|\d{2,}\s+(?:of\s+)?"
            r"(?:\w+\s+){0,2}(?:pills|tablets)|all\s+(?:of\s+)?(?:my|his|her|the)\s+(?:pills|tablets|meds)|varias\s+pastillas)"
            r"|\b(?:got\s+into|ate\s+some\s+of|drank\s+some\s+of)\b[^.!?\n]{0,40}\b(?:pills|medicine|meds|supplement|"
            r"bottle|cleaner|bleach)|\btook\s+(?:my|his|her)\s+insulin\s+twice\b|\bpoison(?:ed|ing)\b"
            r"|\b(?:drank|swallowed)\s+(?:bleach|antifreeze|cleaner|detergent)")),
    Rule("seizure", Urgency.EMERGENCY, "seizure",
         _p(r"\b(?:having|had|has|is\s+having)\s+(?:a\s+|\d\s+)?(?:seizure|convulsion|fit)s?\b|\bseizing\b|\bconvulsing\b"
            r"|\bshaking\s+all\s+over\b.{0,40}\beyes\b|\beyes\s+rolled\s+back\b|\bseizures\s+back\s+to\s+back\b"
            r"|\bjerking\b|\bfoaming\s+at\s+the\s+mouth\b"
            r"|\bconvulsi[oó]n\b")),
    Rule("fainting", Urgency.EMERGENCY, "fainting or unresponsive",
         _p(r"\b(?:fainted|fainting|passed\s+out|blacked\s+out|lost\s+consciousness|unconscious|unresponsive|collapsed"
            r"|not\s+responding|isn'?t\s+responding|won'?t\s+respond"
            r"|won'?t\s+wake\s+up|can'?t\s+wake\s+(?:him|her|them)|me\s+desmay[eé]|se\s+desmay[oó]|no\s+despierta)\b")),
    Rule("infant_fever", Urgency.EMERGENCY, "fever in a baby under 3 months",
         _p(r"\b(?:newborn|new\s+born|(?:[1-9]|1[0-2])\s*-?\s*(?:weeks?|wks?)(?:\s*-?\s*old)?"
            r"|\d{1,2}\s*-?\s*days?\s*-?\s*old|(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
            r"\s*-?\s*weeks?(?:\s*-?\s*old)?|(?:1|2|one|two)\s*-?\s*months?\s*-?\s*old|de\s+(?:[1-9]|1[0-2])\s+semanas"
            r"|de\s+(?:1|2|un|dos)\s+mes(?:es)?)\b"),
         requires=_p(r"\b(?:fever\w*|temp(?:erature)?\b|feels?\s+(?:really\s+)?hot|fiebre|3[89](?:\.\d)?|10[0-4](?:\.\d)?)")),
    Rule("pregnancy", Urgency.EMERGENCY, "pregnancy warning sign",
         _p(r"\b(?:baby|fetus)\b[^.!?\n]{0,30}\b(?:not\s+moving|isn'?t\s+moving|stopped\s+moving|moving\s+less|"
            r"hasn'?t\s+moved|moving\s+(?:way\s+|much\s+|a\s+lot\s+)?less)|\bonly\s+felt\b[^.!?\n]{0,20}\bkicks?\b"
            r"|\bcontractions\s+every\b|\b(?:felt|feel|feeling)\s+the\s+baby\s+move\b|\b(?:reduced|decreased|less|no)\s+"
            r"(?:fetal|baby)\s+movements?\b|\bwater\s+(?:broke|has\s+broken)\b|\bleaking\s+fluid\b"
            r"|\bpregnan\w*\b[^.!?\n]{0,100}\bbleed\w*|\bbleed\w*\b[^.!?\n]{0,100}\bpregnan\w*"
            r"|\bembarazada\b[^.!?\n]{0,60}\bsangr\w*|\b\d{2}\s+(?:weeks|wks)\b[^.!?\n]{0,80}\b(?:seeing\s+spots|"
            r"terrible\s+headache|swol\w*)")),
    Rule("worst_headache", Urgency.EMERGENCY, "sudden severe headache",
         _p(r"\bworst\s+(?:headache|head\s+pain)\b|\bthunderclap\b|\bsudden\w*\s+(?:severe|terrible|excruciating|"
            r"explosive|splitting)\s+headache\b|\bheadache\b.{0,30}\blightning\b|\bworst\s+of\s+my\s+life\b"
            r"|\b(?:hit|came\s+on|started)\s+(?:me\s+)?(?:in|within)\s+(?:seconds|a\s+second|an\s+instant)\b"
            r"|\bpeor\s+dolor\s+de\s+cabeza\b")),
    Rule("fever_stiff_neck", Urgency.EMERGENCY, "fever with a stiff neck",
         _p(r"\bstiff\s+neck\b|\bneck\s+(?:is\s+)?(?:stiff|rigid)\b|\bcan'?t\s+(?:bend|touch)\s+(?:my|his|her)\s+chin\b"
            r"|\bcuello\s+r[ií]gido\b|\b(?:bends?|bending|move|moving)\s+(?:his|her|my)?\s*neck\b|\bneck\s+hurts\s+to\s+move"
            r"|\bcan'?t\s+look\s+down\b"),
         requires=_FEVER),
    Rule("high_fever", Urgency.URGENT, "high or lasting fever",
         _p(r"\b(?:fever|temp\w*|fiebre)\s+(?:of\s+|is\s+|was\s+|at\s+|de\s+|keeps\s+going\s+up\s+to\s+)?"
            r"(?:10[3-6]|39\.[5-9]|39|4[01])\b|\bfever\s+(?:for|since)\s+(?:[3-9]|three|four|five|six|seven)\s+days\b"
            r"|\bfor\s+(?:[3-9]|three|four|five)\s+days\b.{0,40}\bfever|\bfiebre\s+alta\b"
            r"|\b(?:fever|temp\w*)\b[^.!?\n]{0,40}\bfor\s+(?:[3-9]|three|four|five|six|seven)\s+days\b")),
    Rule("severe_pain", Urgency.URGENT, "severe pain",
         _p(r"\b(?:severe|unbearable|excruciating|intense|terrible|really\s+bad|worst)\s+(?:\w+\s+)?pain\b"
            r"|\bpain\s+is\s+(?:unbearable|severe|a\s+10)\b|\b(?:10|ten)\s*(?:/|out\s+of)\s*10\b|\bpain\s+is\s+a\s+10\b"
            r"|\bdolor\s+muy\s+fuerte\b|\bcan'?t\s+put\s+(?:any\s+)?weight\s+on\b|\b(?:[7-9]|10)\s*/\s*10\b"
            r"|\bcan'?t\s+get\s+out\s+of\s+bed\b")),
    Rule("dehydration", Urgency.URGENT, "cannot keep fluids down",
         _p(r"\bcan'?t\s+keep\s+(?:anything|fluids|water|food)\s+down\b|\bhaven'?t\s+(?:peed|urinated)\b"
            r"|\bmouth\s+(?:is\s+)?(?:super\s+|very\s+)?dry\b.{0,40}\b(?:dizzy|vomit\w*)|\bdizzy\s+when\s+i\s+stand\b"
            r"|\bni\s+agua\s+sin\s+vomitar\b|\bno\s+(?:puedo|puede)\s+(?:tomar|retener)\b|\bwon'?t\s+(?:drink|eat\s+or\s+drink)\b"
            r"|\bno\s+wet\s+diapers?\b|\bthrowing\s+up\s+all\s+(?:day|night)\b")),
    Rule("infection_spreading", Urgency.URGENT, "spreading infection signs",
         _p(r"\bred\s+(?:streaks?|lines?)\b|\bspreading\s+redness\b|\bredness\b[^.!?\n]{0,40}\bspread\w*|\bpus\b"
            r"|\bdrew\s+a\s+line\b|\bwarm\s+to\s+(?:the\s+)?touch\b"
            r"|\brojez\w*\s+se\s+est[aá]\s+extendiendo\b|\bse\s+puso\s+roja\s+y\s+caliente\b")),
    Rule("blood_in_output", Urgency.URGENT, "blood in urine or stool",
         _p(r"\bblood\s+in\s+(?:my\s+|his\s+|her\s+)?(?:urine|stool|pee|poop)\b|\bblack\s+(?:tarry\s+)?stools?\b"
            r"|\bpee(?:ing)?\s+blood\b|\bsangre\s+en\s+(?:la\s+)?(?:orina|heces)\b"
            r"|\bblack\s+(?:tarry\s+|sticky\s+)?(?:poop|poo|bowel\s+movements?)\b|\btarry\b")),
    Rule("allergic_reaction", Urgency.URGENT, "allergic reaction",
         _p(r"\ballergic\s+reaction\b|\bbroke\s+out\s+in\s+hives\b|\bhives\b|\breacci[oó]n\s+al[eé]rgica\b"
            r"|\bronchas\b|\bwelts\b|\brash\b[^.!?\n]{0,60}\b(?:since|after)\s+(?:i\s+|he\s+|she\s+)?(?:started|taking|began)")),
)

@dataclass(frozen=True, slots=True)
class Pair:
    """Fires when a body/event term and a severity or onset cue occur within `window` characters.

    Patients paraphrase ("a sack of flour on my breastbone", "words coming out wrong"); pairs of concepts
    generalise to wordings no phrase list anticipates.
    """

    code: str
    level: Urgency
    label: str
    term: Pattern
    cue: re.Pattern[str]  # searched only in a window around the term, with position bounds
    window: int = 60
    requires: Pattern | None = None


PAIRS: tuple[Pair, ...] = (
    Pair("chest_pain", Urgency.EMERGENCY, "chest pain or pressure",
         _p(r"\b(?:chest|breast\s?bone|sternum|pecho)\b"),
         _re(r"\b(?:heav\w*|pressure|tight\w*|squeez\w*|crush\w*|vi[cs]e|band|weight|sitting\s+on|elephant|sack|"
            r"clutch\w*|presi[oó]n|peso|apret\w*|opresi[oó]n|dolor)\b")),
    Pair("chest_pain", Urgency.EMERGENCY, "chest pain spreading to arm or jaw",
         _p(r"\b(?:chest|breast\s?bone|pecho|indigestion|heartburn)\b"),
         _re(r"\b(?:jaw|left\s+arm|shoulder\s+blade|brazo\s+izquierdo|mand[ií]bula)\b"), window=120),
    Pair("breathing", Urgency.EMERGENCY, "trouble breathing",
         _p(r"\b(?:breath\w*|breathe|aire|respir\w*)\b|\bget\s+(?:enough\s+)?air\b"),
         _re(r"\b(?:can'?t|cannot|cant|hard|full|gasp\w*|hunger|struggl\w*|labou?r\w*|fish|stirrer|straw|no\s+puede|"
            r"recuperar|falta|terminar)\b"), window=40),
    Pair("breathing", Urgency.EMERGENCY, "blue or grey colour",
         _p(r"\b(?:lips?|labios|face|skin|fingers|cara)\b"),
         _re(r"\b(?:blue\w*|purple|morad\w*|gr[ae]y\w*|azul\w*)\b"), window=40),
    Pair("breathing", Urgency.EMERGENCY, "rescue inhaler not working",
         _p(r"\b(?:inhaler|puffer|nebuli[sz]er|albuterol|ventolin)\b"),
         _re(r"\b(?:not\s+helping|doing\s+nothing|isn'?t\s+(?:working|helping)|no\s+help|every\s+\d+\s*min\w*|"
            r"\d+\s+times\s+in\s+the\s+last)\b"), window=80),
    Pair("breathing", Urgency.EMERGENCY, "laboured breathing in a child",
         _p(r"\b(?:ribs|nostrils|neck|tummy)\b"), _re(r"\b(?:suck\w*|flar\w*|pull\w*\s+in|caving)\b"), window=40),
    Pair("breathing", Urgency.EMERGENCY, "low oxygen",
         _p(r"\b(?:pulse\s?ox\w*|oxygen|o2|sats?|saturation)\b"), _re(r"\b(?:[5-8][0-9])\s*%?"), window=40),
    Pair("stroke", Urgency.EMERGENCY, "speech problems",
         _p(r"\b(?:words?|speech|speak\w*|talk\w*|habla\w*|palabras)\b"),
         _re(r"\b(?:wrong|jumbled|garbled|slurr\w*|mixed\s+up|raro|enredad\w*|nonsense|won'?t\s+come\s+out|"
            r"can'?t\s+get\s+(?:them|it)\s+out)\b"), window=40),
    Pair("stroke", Urgency.EMERGENCY, "a limb that will not work",
         _p(r"\b(?:arm|leg|hand|brazo|pierna|mano)s?\b"),
         _re(r"\b(?:won'?t|wouldn'?t|would\s+not|can'?t|cannot|no\s+puede)\s+(?:\w+\s+){0,2}(?:obey|move|work|lift|grip|hold|"
            r"levantar|mover)|\bkeeps?\s+dropping\b"), window=40),
    Pair("stroke", Urgency.EMERGENCY, "face drooping or numb on one side",
         _p(r"\b(?:face|mouth|smile|boca|cara)\b"),
         _re(r"\b(?:droop\w*|crooked|lopsided|twist\w*|torci\w*|uneven|numb|dormida)\b"), window=30),
    Pair("stroke", Urgency.EMERGENCY, "sudden loss of vision",
         _p(r"\b(?:vision|sight)\b"),
         _re(r"\b(?:half|went\s+(?:dark|black)|curtain|all\s+of\s+a\s+sud+en|suddenly|de\s+repente)\b"), window=40),
    Pair("bleeding", Urgency.EMERGENCY, "heavy bleeding",
         _p(r"\b(?:blood|bleed\w*|nosebleed|sangr\w*|hemorrhag\w*)\b"),
         _re(r"\b(?:won'?t\s+stop|wont\s+stop|not\s+stop\w*|no\s+para|squirt\w*|spurt\w*|pouring|gushing|mouthfuls?|"
            r"soak\w*|clots\s+(?:the\s+size|coming)|puddle|cupful|over\s+an\s+hour)\b"), window=80),
    Pair("anaphylaxis", Urgency.EMERGENCY, "swelling of tongue, throat or face",
         _p(r"\b(?:tongue|throat|lips?|face|eyelids?|lengua|garganta|labios)\b"),
         _re(r"\b(?:swell\w*|swollen|too\s+big|thick|closing|cierra|hinch\w*)\b"), window=40,
         requires=_p(r"\b(?:sting|stung|bee|wasp|peanuts?|nuts?|shellfish|shrimp|camarones|mariscos|antibiotic\w*|dose|"
                     r"allerg\w*|hives|welts|wheez\w*|hoarse|epi\s?-?pen)\b")),
    Pair("self_harm", Urgency.EMERGENCY, "possible plan for self-harm",
         _p(r"\b(?:gun|rope|cuerda|pills|pastillas|bridge|jump|knife|garage|engine\s+running)\b"),
         _re(r"\b(?:ready|lista|permanent\w*|end\s+(?:it|things)|myself|point\s+anymore|how\s+it\s+feels|goodbye|"
            r"not\s+be\s+around|jump\s+from|top\s+of)\b"), window=100),
    Pair("self_harm", Urgency.EMERGENCY, "farewell or hopelessness",
         _p(r"\b(?:affairs\s+in\s+order|good\s+home\s+for|(?:don'?t|do\s+not|no)\s+see\s+the\s+point|"
            r"no\s+point\s+(?:anymore|in\s+(?:living|going))|make\s+it\s+permanent|seguir\s+viviendo|"
            r"nothing\s+(?:left\s+)?to\s+live\s+for|can'?t\s+go\s+on)\b"),
         _re(r"\b(?:shan'?t|won'?t)\s+(?:be\s+)?need\w*|\bthank\s+you\s+for\s+(?:your|all)|\bgoodbye|\banymore|\bpills|"
            r"\bready|\bgun|\brope|\bcuerda|\bquiero|\bthinking|\bpermanent"), window=200),
    Pair("overdose", Urgency.EMERGENCY, "swallowed too much medicine",
         _p(r"\b(?:took|swallowed|ate|chewed|got\s+into|drank|did|tom[oó]|se\s+tom[oó])\b"),
         _re(r"\b(?:rest\s+of\s+the\s+bottle|the\s+bottle|whole\s+bottle|\d{2,}\s+pills|pills|tablets|meds|frasco|"
            r"pastillas|insulin\s+twice|twice|fentanyl|how\s+many)\b"), window=60,
         requires=_p(r"\b(?:toddler|baby|son|daughter|kid|child|hijo|hija|sleepy|drowsy|confused|won'?t\s+wake|blue|"
                     r"barely|not\s+making\s+sense|sweaty|shaky|\d{2,}\s+pills|rest\s+of\s+the\s+bottle|"
                     r"whole|entire|frasco\s+entero|casi\s+el\s+frasco|how\s+many)\b")),
    Pair("seizure", Urgency.EMERGENCY, "seizure",
         _p(r"\b(?:fits?|seizures?|shaking|jerking|convuls\w*|twitching)\b"),
         _re(r"\b(?:another|came\s+round|third|won'?t\s+stop|not\s+answering|not\s+responding|floor|minutes|no\s+se\s+detiene|"
            r"all\s+over|eyes)\b"), window=80),
    Pair("fainting", Urgency.EMERGENCY, "fainting or collapse",
         _p(r"\b(?:keel\w*\s+over|keeps?\s+(?:fainting|passing\s+out|falling)|collaps\w*|hard\s+to\s+wake|"
            r"barely\s+(?:awake|conscious)|se\s+desmay\w*)\b"),
         _re(r"\b(?:today|now|times|hit\s+(?:her|his|my)\s+head|pale|confused|won'?t)\b"), window=100),
    Pair("pregnancy", Urgency.EMERGENCY, "pregnancy warning sign",
         _p(r"\b(?:(?:1[2-9]|[2-4]\d)\s*(?:weeks|wks|semanas)(?!\s+old)|pregnan\w*|embarazada)\b"),
         _re(r"\b(?:tighten\w*|contraction\w*|every\s+\d+\s*min\w*|bleed\w*|spotting|leak\w*|fluid|gone\s+quiet|"
            r"hasn'?t\s+moved|not\s+moving|kicks|seeing\s+(?:spots|stars|lights|sparkl\w*)|zigzag|sparkl\w*|puffed|"
            r"swollen|swelling|pounding\s+headache|sangr\w*|no\s+se\s+mueve|contracciones)\b"), window=140),
    Pair("worst_headache", Urgency.EMERGENCY, "sudden severe headache",
         _p(r"\b(?:headache|head\s+pain|dolor\s+de\s+cabeza|head|migraines?|today'?s\s+was)\b"),
         _re(r"\b(?:in\s+an\s+instant|seconds|thunder\w*|clap|never\s+(?:in\s+my\s+\w+\s+years\s+)?had\s+one|"
            r"out\s+of\s+nowhere|explod\w*|peaked|de\s+golpe|de\s+repente)\b"), window=80),
    Pair("fever_stiff_neck", Urgency.EMERGENCY, "fever with a stiff neck",
         _p(r"\b(?:neck|cuello)\b"),
         _re(r"\b(?:stiff|rigid|steel|rod|can'?t\s+bend|hurts\s+to\s+move|can'?t\s+look\s+down|r[ií]gido|duro)\b"),
         window=40,
         requires=_p(r"\b(?:fever\w*|burning\s+up|temp\w*|3[89](?:\.\d)?|10[0-4](?:\.\d)?|fiebre|chills|hot)\b")),
)

_NEGATION = _re(r"\b(?:no|not|never|denies|deny|denied|without|free\s+of|negative\s+for|don'?t\s+have|do\s+not\s+have"
               r"|doesn'?t\s+have|haven'?t\s+had|hasn'?t\s+had|didn'?t\s+have|nor|sin|niega)\b")
_HISTORY = _re(r"\b(?:(?<!since\s)(?:last|past)\s+(?:year|month|summer|winter|spring|fall|autumn)"
               r"|\d+\s+(?:years?|yrs?|months?)\s+ago|years?\s+ago|months\s+ago|in\s+the\s+past|used\s+to|history\s+of"
               r"|back\s+in\s+(?:19|20)\d\d|in\s+(?:19|20)\d\d|as\s+a\s+(?:child|kid)|in\s+college|at\s+(?:age\s+)?\d{2}\b"
               r"|turned\s+out\s+to\s+be|i\s+messaged\s+about|resolved|went\s+away|stopped\s+(?:yesterday|last)"
               r"|(?:back\s+)?in\s+(?:high\s+school|college|my\s+twenties)|none\s+since|(?:last|past)\s+week"
               r"|when\s+i\s+was\s+\d+|once\s+when)\b")
# "…is happening now" wins over an older mention in the same message ("stent last year; pain started 15 min ago").
_PRESENT = _re(r"\b(?:started|starting|right\s+now|now|today|tonight|just\s+(?:had|now)|keeps?\s+thinking|"
               r"can'?t\s+stop\s+thinking|"
               r"this\s+morning|\d+\s*(?:min(?:ute)?s?|hours?|hrs?)"
               r"\s+ago|an?\s+hour\s+ago|currently|again|still|ahora|hoy|hace\s+(?:un\s+rato|una\s+hora))\b")
_RESOLVED = _re(r"\b(?:all\s+better|better\s+now|feel\s+fine\s+now|turned\s+out\s+to\s+be|went\s+away|resolved|"
               r"cleared\s+up|gone\s+now|none\s+since"
               r"|ya\s+(?:pas[oó]|se\s+me\s+quit[oó]))\b")
# Reassurance right after the symptom negates it ("hives, breathing is fine").
_AFTER_NEGATION = _re(r"[\s,]*(?:is|are|seems?|feels?|looks?)\s+(?:fine|normal|ok|okay)\b|[\s,]+(?:fine|normal)\b")
# Words that speak about a condition in general, or in jest, not about someone having it now.
_GENERAL = _re(r"\b(?:what\s+(?:is|are|causes)|can\s+\w+\s+cause|difference\s+between|information\s+(?:on|about)"
               r"|risk\s+of|prevent|signs\s+of|symptoms\s+of|reading\s+about|curious|screened|screening|how\s+do\s+i\s+store"
               r"|nearly\s+had|almost\s+had|gave\s+me\s+a|jk|lmao|just\s+kidding|i\s+feel\s+fine"
               r"|if\s+(?:\w+\s+){0,3}ever|what\s+should\s+i\s+do\s+if|plan\s+for|fake\w*|pretend\w*|i\s+read)\b")


def _negated(text: str, start: int, clause_start: int) -> bool:
    # A negator earlier in the clause covers the list that follows it ("denies chest pain or shortness of breath").
    window = " ".join(text[clause_start:start].split()[-8:])
    return bool(_NEGATION.search(window))


def triage(text: str) -> list[tuple[Rule, tuple[int, int], str]]:
    """Every rule that fires, with its span and a qualifier: 'current', 'history' or 'general'."""
    hits: list[tuple[Rule, tuple[int, int], str]] = []
    for rule in RULES:
        if rule.requires is not None and not any(
            not _negated(text, start, clause_bounds(text, start, end)[0])
            for start, end in rule.requires.finditer(text)
        ):
            continue
        for start, end in rule.pattern.finditer(text):
            c_start, c_end = clause_bounds(text, start, end)
            if _negated(text, start, c_start) or _AFTER_NEGATION.match(text, end, min(len(text), end + 24)):
                continue
            own = text[c_start:c_end]
            context = text[max(0, c_start - 80):min(c_end, end + 40)]
            if _RESOLVED.search(own):
                qualifier = "history"
            elif _PRESENT.search(own):
                qualifier = "current"
            elif _HISTORY.search(context):
                qualifier = "history"
            else:
                qualifier = "general" if _GENERAL.search(context) else "current"
            hits.append((rule, (start, end), qualifier))
            break  # one span per rule is enough to flag it
    found = {rule.code for rule, _, _ in hits}
    for pair in PAIRS:
        if pair.code in found:
            continue
        hit = _pair_hit(text, pair)
        if hit is not None:
            hits.append(hit)
            found.add(pair.code)
    return hits


def _qualify(text: str, start: int, end: int) -> str | None:
    """None when negated; otherwise 'current', 'history' or 'general' for the span."""
    c_start, c_end = clause_bounds(text, start, end)
    if _negated(text, start, c_start) or _AFTER_NEGATION.match(text, end, min(len(text), end + 24)):
        return None
    own = text[c_start:c_end]
    context = text[max(0, c_start - 80):min(c_end, end + 40)]
    if _RESOLVED.search(own):
        return "history"
    if _PRESENT.search(own):
        return "current"
    if _HISTORY.search(context):
        return "history"
    return "general" if _GENERAL.search(context) else "current"


def _present(text: str, start: int, end: int) -> bool:
    """The span is not negated ("no bleeding", "no fever")."""
    return _qualify(text, start, end) is not None


def _pair_hit(text: str, pair: Pair) -> tuple[Rule, tuple[int, int], str] | None:
    if pair.requires is not None and not any(_present(text, s, e) for s, e in pair.requires.finditer(text)):
        return None
    for t_start, t_end in pair.term.finditer(text):
        lo, hi = max(0, t_start - pair.window), min(len(text), t_end + pair.window)
        cue = next((c for c in pair.cue.finditer(text, lo, hi) if _present(text, c.start(), c.end())), None)
        if cue is None:
            continue
        start, end = min(t_start, cue.start()), max(t_end, cue.end())
        qualifier = _qualify(text, t_start, t_end)
        if qualifier is None:
            continue
        return Rule(pair.code, pair.level, pair.label, pair.term), (start, end), qualifier
    return None


def check(ctx: InputContext) -> list[Finding]:
    """Flag emergencies and same-day problems; past or general mentions become info notes."""
    findings: list[Finding] = []
    for rule, span, qualifier in triage(ctx.text):
        if qualifier != "current":
            as_what = "past history" if qualifier == "history" else "a general question"
            findings.append(Finding(
                check="urgency", severity=Severity.INFO, code=f"{qualifier}_{rule.code}", target="message", span=span,
                message=f"Mentions {rule.label}, but as {as_what}.",
                suggestion="Confirm it is not happening now.",
            ))
            continue
        emergency = rule.level is Urgency.EMERGENCY
        findings.append(Finding(
            check="urgency", severity=Severity.WARN, code=rule.code, target="message", span=span,
            message=f"{'Emergency' if emergency else 'Same-day'}: the patient describes {rule.label}.",
            suggestion="Contact the patient now; the reply must carry emergency guidance." if emergency
            else "Review today.",
        ))
    return findings


def level_of(findings: list[Finding]) -> Urgency:
    """The triage level implied by urgency findings (codes of current presentations)."""
    codes = {f.code for f in findings if f.check == "urgency"}
    levels = [rule.level for rule in RULES if rule.code in codes]
    return min(levels, key=lambda u: u.rank, default=Urgency.ROUTINE)
