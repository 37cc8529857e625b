"""The deterministic categoriser and language detector that pick prompt partials and exemplars."""

from __future__ import annotations

import pytest

from drafter.classify import Category, categorize, detect_language


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I've had a headache for three days and ibuprofen isn't helping", Category.SYMPTOM),
        ("My knee is swollen and it hurts to walk", Category.SYMPTOM),
        ("Me duele mucho la espalda y tengo fiebre", Category.SYMPTOM),
        ("Can I get a refill of my lisinopril? I have 3 pills left", Category.MEDICATION),
        ("Is it ok to take my metformin dose at night instead? The side effects bother me", Category.MEDICATION),
        ("Necesito renovar mi receta en la farmacia", Category.MEDICATION),
        ("I saw my lab results posted, is my cholesterol level ok?", Category.RESULTS),
        ("Did my MRI report come back?", Category.RESULTS),
        ("¿Ya están mis resultados del análisis?", Category.RESULTS),
        ("I need to reschedule my appointment next week", Category.SCHEDULING),
        ("Necesito cambiar mi cita del martes", Category.SCHEDULING),
        ("I got a bill for a copay that my insurance should cover", Category.ADMINISTRATIVE),
        ("Can you fill out my FMLA paperwork?", Category.ADMINISTRATIVE),
        ("Tengo una pregunta sobre mi factura y el seguro", Category.ADMINISTRATIVE),
        ("This is ridiculous, nobody called me back and I am still waiting. Unacceptable.", Category.COMPLAINT),
        ("I'm frustrated and upset with how rude the front desk was", Category.COMPLAINT),
        ("I've been so depressed and anxious I can't cope", Category.MENTAL_HEALTH),
        ("My panic attacks are back and my therapist is away", Category.MENTAL_HEALTH),
        ("Me he sentido muy triste y con ansiedad", Category.MENTAL_HEALTH),
        ("Thank you so much for your help!", Category.GRATITUDE),
        ("¡Muchas gracias doctor!", Category.GRATITUDE),
        ("Do I need to fast before my physical?", Category.GENERAL),
        ("Hello", Category.GENERAL),
        ("Thanks, but my rash is spreading and it itches", Category.SYMPTOM),
    ],
)
def test_categorize(text: str, category: Category) -> None:
    assert categorize(text) is category


@pytest.mark.parametrize(
    ("text", "declared", "language"),
    [
        ("I have a question about my medication", None, "en"),
        ("Tengo una pregunta sobre mi medicamento", None, "es"),
        ("¿Puedo tomar ibuprofeno?", None, "es"),
        ("Necesito una cita por favor", None, "es"),
        ("My son has a fever", None, "en"),
        ("ok", None, "en"),
        ("Hola", "es-MX", "es"),
        ("Bonjour, j'ai mal à la tête", "fr", "en"),  # unsupported: fall back to detection, then English
        ("Me duele", "EN", "en"),  # a declared supported language wins over detection
    ],
)
def test_detect_language(text: str, declared: str | None, language: str) -> None:
    assert detect_language(text, declared) == language


def test_same_message_same_answer() -> None:
    text = "My pills ran out and my appointment got cancelled"
    assert len({categorize(text) for _ in range(20)}) == 1
