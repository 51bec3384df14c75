"""The perturbation types of RUIE-Bench and the tasks each applies to.

Paper 2503.03201 builds 14 (task, perturbation) combinations for NER, RE and event detection from
two rule-based types (Typo Injection, Lowercase Conversion) and five LLM-based ones. Lowercase
Conversion is the combination treated as not applicable to EE: an event trigger is a common word
(verb or noun) whose case carries no cue, so lowercasing attacks nothing the event task depends on
(docs/robust.md). 3 + 2 + 1 + 1 + 1 + 3 + 3 = 14.
"""

from __future__ import annotations

from prouie.settings import suggest

RULE_TYPES = ("typo_injection", "lowercase")
LLM_TYPES = (
    "replace_entity",
    "replace_triple",
    "replace_trigger",
    "change_context",
    "extend_sentence",
)
TYPES = RULE_TYPES + LLM_TYPES

APPLIES_TO: dict[str, tuple[str, ...]] = {
    "typo_injection": ("ner", "re", "ee"),
    "lowercase": ("ner", "re"),
    "replace_entity": ("ner",),
    "replace_triple": ("re",),
    "replace_trigger": ("ee",),
    "change_context": ("ner", "re", "ee"),
    "extend_sentence": ("ner", "re", "ee"),
}

# Every (task, type) pair the benchmark covers, in table order.
COMBINATIONS: tuple[tuple[str, str], ...] = tuple(
    (task, kind) for task in ("ner", "re", "ee") for kind in TYPES if task in APPLIES_TO[kind]
)


def parse_types(spec: str | None) -> list[str]:
    """Comma-separated type names (``all``, ``rule`` and ``llm`` are groups) in canonical order.

    >>> parse_types("lowercase,typo_injection")
    ['typo_injection', 'lowercase']
    """

    groups = {"all": TYPES, "rule": RULE_TYPES, "llm": LLM_TYPES}
    chosen: set[str] = set()
    for name in (spec or "all").split(","):
        name = name.strip()
        if name in groups:
            chosen.update(groups[name])
        elif name in TYPES:
            chosen.add(name)
        else:
            hint = suggest(name, [*TYPES, *groups])
            raise ValueError(f"unknown perturbation type {name!r}{hint}; known: {', '.join(TYPES)}")
    return [t for t in TYPES if t in chosen]
