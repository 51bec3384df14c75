"""Differential check of the scoring core: the same generated outputs, scored by two checkouts.

Generates, deterministically, clean and damaged model outputs for synthetic records of every task
(NER, RE, EE, slot) and records for each output: its units, its problem list, its per-sentence
metrics (strict and loose) and its SFR sub-scores (through the public ``prouie.sfr`` API).

    # mode 1: save a digest of the results of the checkout on PYTHONPATH
    PYTHONPATH=/path/to/old/plugin python benchmarks/differential_check.py save digest.bin
    # mode 2: compare the checkout on PYTHONPATH to that digest, listing every difference by kind
    PYTHONPATH=plugin python benchmarks/differential_check.py compare digest.bin
    # one output's generated text and current results (index as printed by compare)
    PYTHONPATH=plugin python benchmarks/differential_check.py show re 1234

The digest holds, per output, a 4-byte hash of all its results, a 1-byte hash of each of the four
parts (to say which part changed) and a bit mask of its problem kinds (to say which kinds came or
went): 10 bytes an output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from prouie.metrics import sentence_counts, slot_matches
from prouie.parsing import parse_output
from prouie.sfr import encode_ground_truth, score_response
from prouie.targets import render_target
from prouie.units import PROBLEM_KINDS, Units, units_from_example

TASKS = ("ner", "re", "ee", "slot")
OUTPUTS_PER_RECORD = 50
RECORD_SIZE = 10  # bytes per output in the digest

# Phrases with the separators and case quirks the parser must cope with.
PHRASES = [
    "Ann",
    "Bob Smith",
    "ACME Corp",
    "Upper Marlboro , Md.",
    "USA",
    "Paris, France",
    "Europe",
    "New York",
    "new york",
    "Zoë",
    "東京",
    "Dr. Who: Returns",
    "salt; pepper",
    "A | B",
    "x",
    "the patient",
    "aspirin",
    "500 mg",
    "headache",
    "Kevin",
    "Therese",
    "IBM",
    "O'Neil",
    'the "big" one',
    "back\\slash",
    "  spaced  ",
    "Mid,dle",
    "tab\there",
    "Lyon",
    "Rhône",
]
NER_LABELS = ["person", "location", "organization", "misc", "Drug", "date value"]
RE_LABELS = ["work for", "Located in", "located in", "part of", "born in", "kill"]
EE_LABELS = ["Attack", "Die", "Transport", "Adverse event", "Meet"]
EE_ROLES = ["Attacker", "Target", "Place", "Subject", "Effect", "Time"]
SLOT_LABELS = ["body", "action", "color", "size", "price range"]


def make_record(task: str, i: int, rng: random.Random) -> dict[str, Any]:
    """A synthetic canonical record of ``task``; its strings are substrings of its text."""
    phrases = rng.sample(PHRASES, rng.randint(2, 7))
    text = " and ".join(phrases) + rng.choice(["", ".", " here", " ; end"])

    def span(p: str) -> dict[str, Any]:
        return {"text": p, "start": text.find(p), "end": text.find(p) + len(p)}

    rec: dict[str, Any] = {"id": f"{task}-{i}", "dataset": "diff", "task": task, "text": text}
    if task == "ner" or task == "slot":
        labels = rng.sample(NER_LABELS if task == "ner" else SLOT_LABELS, rng.randint(1, 4))
        rec["labels"] = labels
        picked = rng.sample(phrases, rng.randint(0, min(4, len(phrases))))
        rec["entities"] = [{"type": rng.choice(labels), **span(p)} for p in picked]
    elif task == "re":
        labels = rng.sample(RE_LABELS, rng.randint(1, 4))
        rec["labels"] = labels
        rec["relations"] = [
            {
                "type": rng.choice(labels),
                "head": {"type": "x", **span(rng.choice(phrases))},
                "tail": {"type": "x", **span(rng.choice(phrases))},
            }
            for _ in range(rng.randint(0, 3))
        ]
    else:
        labels = rng.sample(EE_LABELS, rng.randint(1, 3))
        rec["labels"] = labels
        rec["roles"] = rng.sample(EE_ROLES, rng.randint(1, 4))
        rec["events"] = [
            {
                "type": rng.choice(labels),
                "trigger": span(rng.choice(phrases)),
                "arguments": [
                    {"role": rng.choice(rec["roles"]), **span(rng.choice(phrases))}
                    for _ in range(rng.randint(0, 3))
                ],
            }
            for _ in range(rng.randint(0, 3))
        ]
    return rec


def _edit_values(obj: dict[str, str], rng: random.Random) -> dict[str, str]:
    """A plausible wrong answer: values case-changed, cut, joined, emptied or swapped."""
    out = dict(obj)
    for key in list(out):
        v = out[key]
        r = rng.random()
        if r < 0.15:
            out[key] = v.lower()
        elif r < 0.25:
            out[key] = v + " | " + rng.choice(PHRASES)
        elif r < 0.32:
            out[key] = v[: rng.randint(0, len(v))]
        elif r < 0.38:
            out[key] = v + " | "
        elif r < 0.44:
            out[key] = v.replace(", ", ",")
        elif r < 0.50:
            out[key] = " | ".join([v, v])
    if out and rng.random() < 0.2:
        del out[rng.choice(list(out))]
    return out


DAMAGES = (
    "clean_sa",
    "clean_cm",
    "edited",
    "truncated",
    "truncated_edited",
    "think",
    "fence",
    "chatter",
    "chatter_truncated",
    "sketch_first",
    "single_quotes",
    "trailing_comma",
    "duplicate_key",
    "unknown_key",
    "non_string",
    "char_deleted",
    "char_inserted",
    "not_object",
    "garbage",
    "brace_storm",
    "cut_after_separator",
    "case_key",
    "nested",
    "unclosed_think",
    "escaped",
)


def make_output(rec: dict[str, Any], k: int, rng: random.Random) -> tuple[str, str]:
    """The ``k``-th generated output of ``rec``: (damage kind, text)."""
    kind = DAMAGES[k % len(DAMAGES)] if k < len(DAMAGES) else rng.choice(DAMAGES)
    sa, cm = render_target(rec, "sa"), render_target(rec, "cm")
    base = json.loads(rng.choice([sa, cm]))
    edited = json.dumps(_edit_values(base, rng), ensure_ascii=rng.random() < 0.3)
    clean = rng.choice([sa, cm, edited])
    cut = rng.randint(0, max(0, len(clean) - 1))
    if kind == "clean_sa":
        return kind, sa
    if kind == "clean_cm":
        return kind, cm
    if kind == "edited":
        return kind, edited
    if kind in ("truncated", "truncated_edited"):
        return kind, (clean if kind == "truncated" else edited)[:cut]
    if kind == "think":
        return kind, f"<think>\nLet me see {{ maybe }}.\n</think>\n\n{clean}"
    if kind == "unclosed_think":
        return kind, rng.choice([f"<think>\n{clean[:cut]}", f"{clean}\n<think>more"])
    if kind == "fence":
        tail = rng.choice(["\n```", "\n```\nDone.", ""])
        return kind, f"Here:\n```json\n{clean}{tail}"
    if kind == "chatter":
        return kind, rng.choice([f"Sure:\n{clean}", f"{clean}\nHope this helps.", f"A {clean} B"])
    if kind == "chatter_truncated":
        return kind, "Sure:\n" + clean[:cut]
    if kind == "sketch_first":
        sketch = rng.choice(['{"type": "entity"}', "{type: entity}", "{}", '{"a": 1}'])
        return kind, f"Format: {sketch}\n{rng.choice([clean, clean[:cut]])}"
    if kind == "single_quotes":
        return kind, clean.replace('"', "'")
    if kind == "trailing_comma":
        return kind, clean[:-1].rstrip() + ", }" if clean.endswith("}") else clean
    if kind == "duplicate_key":
        key = rng.choice(rec["labels"])
        return kind, f'{{"{key}": "Ann", ' + clean[1:] if len(clean) > 2 else clean
    if kind == "unknown_key":
        return kind, '{"Unknown": "Ann", ' + clean[1:] if len(clean) > 2 else clean
    if kind == "non_string":
        obj = json.loads(clean)
        if obj:
            obj[rng.choice(list(obj))] = rng.choice([[], ["Ann", "Bob"], 3, None, {"a": "b"}, 1.5])
        return kind, json.dumps(obj)
    if kind == "char_deleted":
        return kind, clean[:cut] + clean[cut + 1 :]
    if kind == "char_inserted":
        return kind, clean[:cut] + rng.choice('{}"",:| \\[') + clean[cut:]
    if kind == "not_object":
        return kind, rng.choice(['["Ann"]', '"Ann"', "42", "null", "[]", "true", "1e400"])
    if kind == "garbage":
        return kind, rng.choice(["", "   ", "I do not know.", "person: Ann", "{", "}", "{{}}"])
    if kind == "brace_storm":
        n = rng.randint(1, 300)
        return kind, rng.choice(["{" * n + "}" * (n - 1), "}" * n + "{" * n, '{"' * n, "[" * n])
    if kind == "cut_after_separator":
        key = rng.choice(rec["labels"])
        return kind, f'{{"{key}": "' + rng.choice(["Ann |", "Ann ", "Ann | ", "Ann, ", "Ann;"])
    if kind == "case_key":
        return kind, clean.replace(rec["labels"][0], rec["labels"][0].upper())
    if kind == "nested":
        return kind, '{"answer": ' + clean + "}"
    return kind, clean.replace("a", "\\u0061")  # escaped


def outputs(task: str, n: int, seed: int = 0) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(record, damage kind, output) for ``n`` outputs of ``task``, always the same ones."""
    rng = random.Random(f"{seed}-{task}")
    for i in range((n + OUTPUTS_PER_RECORD - 1) // OUTPUTS_PER_RECORD):
        rec = make_record(task, i, rng)
        for k in range(min(OUTPUTS_PER_RECORD, n - i * OUTPUTS_PER_RECORD)):
            kind, text = make_output(rec, k, rng)
            yield rec, kind, text


def _units_repr(u: Units) -> list[Any]:
    groups = sorted((e, t, sorted(a)) for e, t, a in u.groups)
    return [u.task, sorted(u.types), sorted(u.pairs), sorted(u.triples), groups, list(u.slots)]


def results(rec: dict[str, Any], gt: str, gold: Units, text: str) -> list[Any]:
    """The four parts recorded for one output: units, problems, metrics, SFR sub-scores."""
    parsed = parse_output(text, rec["task"], rec["labels"], rec.get("roles"), rec["text"])
    problems = [[p.kind, p.key, p.detail] for p in parsed.problems] + [parsed.ok]
    if rec["task"] == "slot":
        metrics = [slot_matches(gold, parsed.units, ok=parsed.ok, loose_match=m) for m in (0, 1)]
    else:
        metrics = [
            {k: (c.tp, c.pred, c.gold) for k, c in sentence_counts(gold, parsed.units, **m).items()}
            for m in ({}, {"loose_match": True})
        ]
    terms = score_response(text, gt).terms
    sfr = {k: float(f"{v:.12g}") for k, v in sorted(terms.items())}
    return [_units_repr(parsed.units), problems, metrics, sfr]


def _hash(obj: Any, size: int) -> bytes:
    data = json.dumps(obj, ensure_ascii=False, sort_keys=True, default=sorted).encode()
    return hashlib.blake2b(data, digest_size=size).digest()


def digest_of(parts: list[Any]) -> bytes:
    """10 bytes: hash of all parts, a byte per part, the problem-kind mask."""
    mask = 0
    for kind, *_ in parts[1][:-1]:
        mask |= 1 << PROBLEM_KINDS.index(kind)
    return _hash(parts, 4) + b"".join(_hash(p, 1) for p in parts) + mask.to_bytes(2, "big")


def run(n: int) -> Iterator[tuple[str, int, str, str, bytes]]:
    """(task, index, damage kind, output, digest) for every generated output."""
    for task in TASKS:
        last_id, gt, gold = None, "", None
        for i, (rec, kind, text) in enumerate(outputs(task, n)):
            if rec["id"] != last_id:
                last_id, gt, gold = rec["id"], encode_ground_truth(rec), units_from_example(rec)
            yield task, i, kind, text, digest_of(results(rec, gt, gold, text))


PARTS = ("units", "problems", "metrics", "sfr")


def _kinds(mask: int) -> set[str]:
    return {k for i, k in enumerate(PROBLEM_KINDS) if mask >> i & 1}


def compare(path: str, n: int, examples: int) -> int:
    """Print every difference from the digest at ``path``, counted by kind; the number of them."""
    with open(path, "rb") as fh:
        old = fh.read()
    by_kind: Counter = Counter()
    shown: Counter = Counter()
    total = differing = 0
    saved_per_task = len(old) // RECORD_SIZE // len(TASKS)  # a smaller n compares a prefix
    for task, i, kind, text, new in run(n):
        total += 1
        pos = TASKS.index(task) * saved_per_task + i
        was = old[pos * RECORD_SIZE : (pos + 1) * RECORD_SIZE]
        if was == new:
            continue
        differing += 1
        parts = "+".join(p for j, p in enumerate(PARTS) if was[4 + j] != new[4 + j]) or "?"
        before, after = (
            _kinds(int.from_bytes(was[8:], "big")),
            _kinds(int.from_bytes(new[8:], "big")),
        )
        change = " ".join(
            [*(f"+{k}" for k in sorted(after - before)), *(f"-{k}" for k in sorted(before - after))]
        )
        label = f"{task:<4} {kind:<20} {parts:<28} {change}"
        by_kind[label] += 1
        if shown[label] < examples:
            shown[label] += 1
            print(f"  e.g. [{' '.join(label.split())}] {task} {i}: {text[:160]!r}")
    print(f"{total} outputs compared, {differing} differ")
    for label, count in sorted(by_kind.items()):
        print(f"{count:8d}  {label}")
    return differing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["save", "compare", "show"])
    ap.add_argument("arg", help="digest file (save/compare) or task (show)")
    ap.add_argument("index", nargs="?", type=int, default=0, help="show: output index")
    ap.add_argument("--per-task", type=int, default=100_000)
    ap.add_argument("--examples", type=int, default=2, help="compare: outputs shown per kind")
    args = ap.parse_args()
    if args.mode == "save":
        with open(args.arg, "wb") as fh:
            for *_, digest in run(args.per_task):
                fh.write(digest)
        return 0
    if args.mode == "compare":
        compare(args.arg, args.per_task, args.examples)
        return 0
    n = args.index + 1
    for i, (rec, kind, text) in enumerate(outputs(args.arg, n)):
        if i == args.index:
            gt, gold = encode_ground_truth(rec), units_from_example(rec)
            print(json.dumps({"record": rec, "kind": kind, "output": text}, ensure_ascii=False))
            for name, part in zip(PARTS, results(rec, gt, gold, text), strict=True):
                print(f"{name}: {json.dumps(part, ensure_ascii=False, default=sorted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
