"""Deterministic message category and language, used to pick prompt partials and exemplars.

Keyword tables, not a model: the same message always gets the same prompt, and a QA engineer can read
why. Each category scores by weighted cue matches; ties go to the earlier category in PRIORITY.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Category(StrEnum):
    SYMPTOM = "symptom"
    MEDICATION = "medication"
    RESULTS = "results"
    SCHEDULING = "scheduling"
    ADMINISTRATIVE = "administrative"
    COMPLAINT = "complaint"
    MENTAL_HEALTH = "mental_health"
    GRATITUDE = "gratitude"
    GENERAL = "general"


def _cues(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


# Order matters on ties: the riskier reading wins (mental health before complaint, symptom before scheduling).
_TABLE: tuple[tuple[Category, re.Pattern[str], int], ...] = (
    (Category.MENTAL_HEALTH, _cues(
        r"depress\w*", r"anxi\w*", r"panic", r"suicid\w*", r"self[- ]harm", r"hopeless", r"can'?t cope",
        r"therap(?:y|ist)", r"counsel\w*", r"psychiatr\w*", r"mental health", r"stress(?:ed)?", r"insomnia",
        r"drinking", r"alcohol", r"relapse\w*", r"deprimid[oa]", r"ansiedad", r"triste", r"angustia"), 3),
    (Category.COMPLAINT, _cues(
        r"frustrat\w*", r"angry", r"upset", r"unacceptable", r"ridiculous", r"complain\w*",
        r"nobody (?:called|answered)",
        r"no one (?:called|answered)", r"still waiting", r"never (?:called|heard)", r"rude", r"terrible service",
        r"fed up", r"disappoint\w*", r"furious", r"molest[oa]", r"queja", r"enojad[oa]", r"nadie me"), 3),
    (Category.RESULTS, _cues(
        r"results?", r"lab(?:s| work)?", r"blood (?:work|test)", r"a1c", r"cholesterol", r"mri", r"x-?ray",
        r"ct scan", r"ultrasound", r"biopsy", r"mammogram", r"pathology", r"report", r"levels?", r"resultados?",
        r"análisis", r"examen(?:es)?"), 2),
    (Category.MEDICATION, _cues(
        r"refills?", r"prescri\w+", r"medications?", r"medicines?", r"meds", r"pills?", r"tablets?", r"dose\w*",
        r"dosage", r"pharmacy", r"side effects?", r"mg", r"inhaler", r"insulin", r"antibiotic\w*",
        r"receta", r"medicamentos?", r"medicina", r"pastillas?", r"farmacia", r"dosis"), 2),
    (Category.SCHEDULING, _cues(
        r"appointments?", r"schedul\w*", r"reschedul\w*", r"cancel\w*", r"book(?:ing)?", r"availability",
        r"see (?:the )?doctor", r"come in", r"visit", r"follow[- ]up", r"telehealth", r"cita", r"consulta",
        r"cancelar", r"programar"), 2),
    (Category.ADMINISTRATIVE, _cues(
        r"bill(?:ing|ed)?", r"invoice", r"insurance", r"copay", r"charge[ds]?", r"payment", r"records?",
        r"forms?", r"paperwork", r"fmla", r"disability", r"note for (?:work|school)", r"work note", r"referral",
        r"prior auth\w*", r"factura", r"seguro", r"pago", r"formulario", r"expediente"), 2),
    (Category.SYMPTOM, _cues(
        r"pain", r"hurts?", r"ache\w*", r"fever", r"cough\w*", r"rash", r"swell\w*", r"swollen", r"dizz\w*",
        r"nause\w*", r"vomit\w*", r"diarrh\w*", r"bleed\w*", r"headaches?", r"sore", r"itch\w*", r"tired",
        r"fatigue", r"numb\w*", r"short(?:ness)? of breath", r"symptoms?", r"infection", r"lump", r"dolor",
        r"fiebre", r"tos", r"mareo\w*", r"duele", r"sangr\w*", r"hinchad[oa]", r"cansad[oa]"), 2),
    (Category.GRATITUDE, _cues(
        r"thank(?:s| you)", r"grateful", r"appreciate\w*", r"gracias", r"agradecid[oa]"), 1),
)

# A message that is mostly thanks needs no clinical answer; one "thanks" at the end of a question does not.
_ONLY_THANKS = re.compile(r"^\W*(?:(?:thank(?:s| you)|gracias|much|so|very|again|for|everything|all|your|help|"
                          r"doctor|dr\.?|\w+!)\W*){1,14}$", re.IGNORECASE)


def categorize(text: str) -> Category:
    """The message's category; GENERAL when no cue matches."""
    if _ONLY_THANKS.match(text.strip()):
        return Category.GRATITUDE
    best, best_score = Category.GENERAL, 0
    for category, pattern, weight in _TABLE:
        score = len(pattern.findall(text)) * weight
        if score > best_score:
            best, best_score = category, score
    return best


LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}

_STOPWORDS = {
    "en": frozenset([
        "the", "and", "i", "my", "to", "is", "it", "for", "of", "in", "have", "you", "a", "this", "that",
        "with", "was", "me", "on", "not", "be", "are", "at", "can", "do", "what", "how", "your", "will",
        "doctor", "please",
    ]),
    "es": frozenset([
        "el", "la", "los", "las", "y", "de", "que", "en", "mi", "me", "un", "una", "es", "por", "para", "con",
        "no", "se", "lo", "al", "del", "tengo", "estoy", "muy", "pero", "como", "usted", "doctor", "doctora",
        "por", "favor", "gracias",
    ]),
}
_WORD = re.compile(r"[a-záéíóúñü']+", re.IGNORECASE)


def detect_language(text: str, declared: str | None = None) -> str:
    """A supported language code: the declared one when supported, else the stopword majority, else 'en'."""
    if declared:
        primary = declared.split("-")[0].lower()
        if primary in LANGUAGE_NAMES:
            return primary
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    # Accented letters and ñ/¿/¡ are strong Spanish signals in short messages.
    scores["es"] += 2 * len(re.findall(r"[ñ¿¡]|ción\b", text.lower()))
    # One shared word ("la", "me") is not enough: unsupported languages should fall back to English.
    return "es" if scores["es"] >= 2 and scores["es"] > scores["en"] else "en"
