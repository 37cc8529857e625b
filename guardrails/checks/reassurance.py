"""False reassurance: promising it is nothing, before anyone has looked."""

from __future__ import annotations

from guardrails.checks._prefilter import Pattern
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

FALSE_REASSURANCE = Pattern(
    r"\bnothing\s+(?:at\s+all\s+)?to\s+worry\s+about\b|\bno\s+(?:need|reason)\s+to\s+(?:worry|be\s+(?:worried|concerned|seen))"
    r"|\b(?:definitely|certainly|surely|almost\s+certainly|probably)\s+(?:not|nothing)\b(?:\s+(?:serious|cancer|"
    r"dangerous|to\s+worry))?|\bi(?:'m|\s+am)\s+(?:sure|certain|confident)\s+(?:it(?:'s|\s+is)|you(?:'re|\s+are|'ll|\s+will))"
    r"\s+(?:fine|nothing|ok|okay|normal|be\s+fine|harmless)|\b(?:completely|perfectly|totally)\s+(?:normal|harmless|fine)\b"
    r"|\bnothing\s+serious\b|\bnot\s+(?:anything\s+)?serious\b|\bdon'?t\s+(?:you\s+)?worry\b|\bno\s+cause\s+for\s+concern\b"
    r"|\brest\s+assured\b|\bit(?:'s|\s+is)\s+(?:just|only)\s+(?:a|an|your)\s+\w+|\bnot\s+cancer\b|\bwill\s+go\s+away\s+on\s+its\s+own\b"
    r"|\bi(?:'m|\s+am)\s+sure\s+(?:it|they|this|everything)\s+(?:will|'ll)\s+(?:come\s+back\s+)?(?:be\s+)?"
    r"(?:fine|normal|ok|okay|negative|clear)|\byou(?:'ll|\s+will)\s+be\s+(?:back\s+to\s+(?:normal|yourself)|fine|ok)\b"
    r"|\bno\s+se\s+preocupe\b|\bno\s+es\s+nada\b|\bno\s+es\s+grave\b")


def check(ctx: OutputContext) -> list[Finding]:
    """Block reassurance no one can give by message; it stops patients from seeking care."""
    span = FALSE_REASSURANCE.search(ctx.draft)
    if not span:
        return []
    return [Finding(check="false_reassurance", severity=Severity.BLOCK, code="false_reassurance", span=span,
                    message="The draft reassures the patient before anyone has assessed them.",
                    suggestion="Acknowledge the worry and say what the care team will do, without ruling things out.")]
