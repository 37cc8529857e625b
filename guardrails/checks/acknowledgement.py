"""The reply should open by acknowledging the patient's concern."""

from __future__ import annotations

import re
from itertools import islice

from guardrails.checks._text import WORD, sentences
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_MARKERS = re.compile(
    r"\b(?:sorry|i\s+understand|understandabl[ey]|thank\s+you\s+for\s+(?:telling|letting|sharing|writing|reaching|"
    r"your|checking|asking|the\s+update)|thanks\s+for|that\s+sounds|i\s+can\s+(?:imagine|see|hear)|it\s+makes\s+sense|"
    r"must\s+be|i\s+hear|concern|worr\w*|frustrat\w*|uncomfortable|hard|difficult|painful|scary|stressful|"
    r"good\s+question|glad|welcome|sounds\s+good|great\s+that|it'?s\s+great|happy\s+to\s+hear|siento|entiendo|"
    r"gracias\s+por|lamento|comprendo|con\s+gusto|de\s+nada|esperamos\s+que)",
    re.IGNORECASE)
_STOP = frozenset(
    "the and for you your with have has that this what from about been will would could "
    "should please thank thanks there their they them when then than just some into over also very".split()
)


def _content(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if len(w) > 3 and w.lower() not in _STOP}


def check(ctx: OutputContext) -> list[Finding]:
    """Warn when the first two sentences neither acknowledge nor refer to what the patient wrote."""
    spans = list(islice(sentences(ctx.draft), 2))  # the opening: the rest need not be split
    if not spans:
        return []
    opening = ctx.draft[spans[0][0]:spans[-1][1]]
    if _MARKERS.search(opening) or len(_content(opening) & _content(ctx.message)) >= 2:
        return []
    return [Finding(check="acknowledgement", severity=Severity.WARN, code="missing", span=spans[0],
                    message="The draft does not open by acknowledging the patient's concern.",
                    suggestion="Start with one sentence naming their concern and how it affects them.")]
