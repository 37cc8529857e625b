"""Guardrails: pure checks on patient messages and draft replies. No web, SQL or LLM client here."""

from guardrails.context import InputContext, OutputContext, PracticePolicy
from guardrails.finding import Finding, Severity, Target, Urgency
from guardrails.policy import Policy, PolicyError, load_policy, parse_policy
from guardrails.registry import CHECKS, Check, run_checks

__all__ = [
    "CHECKS",
    "Check",
    "Finding",
    "InputContext",
    "OutputContext",
    "Policy",
    "PolicyError",
    "PracticePolicy",
    "Severity",
    "Target",
    "Urgency",
    "load_policy",
    "parse_policy",
    "run_checks",
]
