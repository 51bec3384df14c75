"""Robust UIE (arXiv 2503.03201): perturbations, robustness report and LDA."""

from prouie.robust.kinds import APPLIES_TO, COMBINATIONS, LLM_TYPES, RULE_TYPES, TYPES, parse_types
from prouie.robust.perturb import RuleOptions, TypeSummary, perturb, rule_perturb
from prouie.robust.spans import Edit, SpanBroken, apply_edits

__all__ = [
    "APPLIES_TO",
    "COMBINATIONS",
    "LLM_TYPES",
    "RULE_TYPES",
    "TYPES",
    "Edit",
    "RuleOptions",
    "SpanBroken",
    "TypeSummary",
    "apply_edits",
    "parse_types",
    "perturb",
    "rule_perturb",
]
