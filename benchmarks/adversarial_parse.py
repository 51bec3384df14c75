"""Worst-case parsing time: adversarial outputs against a clean output of the same length.

A degenerate policy in GRPO produces outputs such as brace storms, deep nesting, unbalanced quotes
and long repeats; each must be settled in time linear in its length (see prouie.parsing). For each
length up to 8,000 characters this times ``parse_output`` on every adversarial family and on a
clean NER target of the same length (entities of one to three words joined by " | ", each checked
against the input sentence, as in evaluation), and prints the worst family's time as a multiple
of the clean one, then the time of 20 hostile outputs of 1 MB each. The guard rail is at most 20x.
A second line does the same for one long malformed object within the parser's repair cap, which
goes through ``json_repair``: it shows what that library costs per character.

    python benchmarks/adversarial_parse.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from prouie.parsing import parse_output

LABELS = ["person", "location", "organization"]
NAMES = "Kevin Therese ACME Paris New York Ann Bob Lyon Rhône Zoë IBM Boston"
WORDS = NAMES.split()
INPUT = " and ".join(WORDS)


def clean(n: int) -> str:
    """A well-formed NER target of about ``n`` characters."""
    values: list[str] = []
    i = 0
    while len(", ".join(values)) + 60 < n:
        values.append(" ".join(WORDS[(i + k) % len(WORDS)] for k in range(1 + i % 3)))
        i += 1
    third = len(values) // 3 + 1
    obj = [
        f'"{lab}": "{" | ".join(values[j * third : (j + 1) * third])}"'
        for j, lab in enumerate(LABELS)
    ]
    return "{" + ", ".join(obj) + "}"


def _fit(unit: str, n: int, head: str = "", tail: str = "") -> str:
    return (head + unit * n)[: n - len(tail)] + tail


FAMILIES: dict[str, Callable[[int], str]] = {
    "open braces": lambda n: "{" * n,
    "braces then closers": lambda n: "{" * (n // 2) + "}" * (n // 2 - 1),
    "closers then braces": lambda n: "}" * (n // 2) + "{" * (n // 2),
    "brackets": lambda n: "[" * n,
    "empty pairs": lambda n: _fit('{"a": [', n // 2) + "[]" * (n // 4),
    "deep objects": lambda n: _fit('{"person": ', n),
    "deep closed objects": lambda n: '{"a": ' * (n // 12) + "1" + "}" * (n // 12),
    "quotes": lambda n: '"' * n,
    "brace quotes": lambda n: _fit('{"', n),
    "escaped quotes": lambda n: _fit('\\"', n, '{"person": "'),
    "unclosed value": lambda n: _fit("Kevin | ", n, '{"person": "'),
    "many objects": lambda n: _fit('{"x": "y"} ', n),
    "invalid objects": lambda n: _fit('{"person": "Kevin",, } ', n),
    "single quotes": lambda n: _fit("{'person': 'Kevin'} ", n),
    "trailing commas": lambda n: _fit('{"person": "Kevin",', n),
    "pair separators": lambda n: _fit("Kevin, ", n, '{"person": "', '"}'),
    "think tags": lambda n: _fit("<think>", n),
    "fences": lambda n: _fit("```json\n{", n),
    "prose braces": lambda n: _fit("so { and } then ", n),
}
# One long malformed object within the repair cap: what json_repair itself costs, for scale.
REPAIRS: dict[str, Callable[[int], str]] = {
    "long invalid object": lambda n: _fit('"person": "Kevin",, ', n, "{", "}"),
    "long single-quoted object": lambda n: _fit("'person': 'Kevin', ", n, "{", "}"),
    "long unquoted object": lambda n: _fit("person: Kevin [x], ", n, "{", "}"),
}


def best_time(text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        parse_output(text, "ner", LABELS, None, INPUT)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per output; the fastest counts")
    ap.add_argument("--verbose", action="store_true", help="print every family's ratio")
    args = ap.parse_args()
    for title, families in (("adversarial parse", FAMILIES), ("repair (json_repair)", REPAIRS)):
        worst = (0.0, "", 0)
        for n in (500, 1000, 2000, 4000, 8000):
            base = best_time(clean(n), args.repeat)
            for name, make in families.items():
                ratio = best_time(make(n), args.repeat) / base
                if args.verbose:
                    print(f"{n:5d} {name:<26} {ratio:6.1f}x")
                worst = max(worst, (ratio, name, n))
        ratio, name, n = worst
        print(f"{title}: worst {name!r} at {n} chars {ratio:.1f}x a clean output (target <= 20)")
    hostile = ["{" * 1_000_000, "}" * 500_000 + "{" * 500_000] * 10
    t0 = time.perf_counter()
    for text in hostile:
        parse_output(text, "ner", LABELS, None, INPUT)
    print(f"20 hostile outputs of 1 MB: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
