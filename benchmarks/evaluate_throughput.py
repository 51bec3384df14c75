"""Throughput of scoring model outputs, against bare ``json.loads`` of the same strings.

Builds N realistic outputs (a mix of NER, RE and EE in the paper's target format, most well formed,
some wrong and some malformed: code fences, chatter around the object, ``<think>`` blocks, cut-off
endings, duplicate keys, single quotes) for synthetic sentences, then times in one process:

- baseline: ``json.loads`` of every output string (failures caught);
- score: ``parse_output`` + ``Evaluator.add`` for every output, gold units computed beforehand
  (they belong to the data, not to the outputs: a reward or an evaluation computes them once);
- score+gold: the same with gold units computed from the records inside the timed loop;
- floor: the least any evaluation that classifies problems must do (one flat loop, no repair).

Prints the ratios; the target for ``score`` is at most 3x the baseline.

    python benchmarks/evaluate_throughput.py [--n 100000] [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import time

from prouie.metrics import Evaluator
from prouie.parsing import decode_object, parse_output
from prouie.targets import render_target
from prouie.units import units_from_example, units_from_obj

WORDS = [
    "the",
    "patient",
    "was",
    "given",
    "a",
    "high",
    "dose",
    "of",
    "aspirin",
    "after",
    "surgery",
    "in",
    "Boston",
    "while",
    "doctors",
    "at",
    "the",
    "general",
    "hospital",
    "monitored",
    "his",
    "blood",
    "pressure",
    "and",
    "heart",
    "rate",
    "for",
    "three",
    "days",
    "before",
    "the",
    "committee",
    "of",
    "Acme",
    "Corporation",
    "announced",
    "a",
    "new",
    "treatment",
    "program",
    "with",
    "support",
    "from",
    "Harvard",
    "University",
    "and",
    "the",
    "city",
    "council",
    "of",
    "New",
    "York",
    "on",
    "Monday",
    "evening",
]
NER_LABELS = ["person", "organization", "location", "miscellaneous"]
RE_LABELS = ["work for", "located in", "organization in", "live in", "kill"]
EE_LABELS = ["adverse event", "potential therapeutic event"]
EE_ROLES = [
    "Subject",
    "Effect",
    "Treatment",
    "Treatment.Drug",
    "Treatment.Dosage",
    "Treatment.Time_elapsed",
]


def _sentence(rng: random.Random) -> list[str]:
    n = rng.randint(12, 40)
    start = rng.randrange(len(WORDS))
    return [WORDS[(start + i) % len(WORDS)] for i in range(n)]


def _span(rng: random.Random, toks: list[str], used: set[int]) -> tuple[str, int] | None:
    for _ in range(10):
        i = rng.randrange(len(toks))
        k = rng.randint(1, 3)
        if any(j in used for j in range(i, i + k)) or i + k > len(toks):
            continue
        used.update(range(i, i + k))
        start = len(" ".join(toks[:i])) + (1 if i else 0)
        return " ".join(toks[i : i + k]), start
    return None


def make_record(rng: random.Random, i: int) -> dict:
    toks = _sentence(rng)
    text = " ".join(toks)
    task = rng.choice(("ner", "ner", "re", "ee"))
    used: set[int] = set()
    ex = {
        "id": str(i),
        "dataset": f"synthetic_{task}",
        "task": task,
        "text": text,
        "roles": [],
        "entities": [],
        "relations": [],
        "events": [],
        "meta": {},
    }
    if task == "ner":
        ex["labels"] = NER_LABELS
        for _ in range(rng.randint(0, 4)):
            sp = _span(rng, toks, used)
            if sp:
                ex["entities"].append(
                    {
                        "type": rng.choice(NER_LABELS),
                        "text": sp[0],
                        "start": sp[1],
                        "end": sp[1] + len(sp[0]),
                    }
                )
    elif task == "re":
        ex["labels"] = RE_LABELS
        for _ in range(rng.randint(0, 3)):
            h, t = _span(rng, toks, used), _span(rng, toks, used)
            if h and t:
                ex["relations"].append(
                    {
                        "type": rng.choice(RE_LABELS),
                        "head": {"text": h[0], "start": h[1], "end": h[1] + len(h[0])},
                        "tail": {"text": t[0], "start": t[1], "end": t[1] + len(t[0])},
                    }
                )
    else:
        ex["labels"] = EE_LABELS
        ex["roles"] = EE_ROLES
        for _ in range(rng.randint(0, 2)):
            trig = _span(rng, toks, used)
            if not trig:
                continue
            args = []
            for role in rng.sample(EE_ROLES, rng.randint(0, 4)):
                a = _span(rng, toks, used)
                if a:
                    args.append(
                        {"role": role, "text": a[0], "start": a[1], "end": a[1] + len(a[0])}
                    )
            ex["events"].append(
                {
                    "type": rng.choice(EE_LABELS),
                    "trigger": {"text": trig[0], "start": trig[1], "end": trig[1] + len(trig[0])},
                    "arguments": args,
                }
            )
    return ex


def make_output(rng: random.Random, ex: dict) -> str:
    """A model-like output for a record: mostly right, sometimes wrong, sometimes malformed."""
    stage = rng.choice(("cm", "sa"))
    obj = json.loads(render_target(ex, stage))
    r = rng.random()
    if r < 0.25 and obj:
        # a wrong or missing value
        k = rng.choice(list(obj))
        obj[k] = "" if rng.random() < 0.5 else " ".join(rng.sample(WORDS, 2))
    elif r < 0.30:
        obj["unknown type"] = "x"
    text = json.dumps(obj, ensure_ascii=False)
    m = rng.random()
    if m < 0.02:
        text = f"```json\n{text}\n```"
    elif m < 0.03:
        text = f"Here is the result: {text} Hope this helps."
    elif m < 0.04:
        text = "<think>\nLet me look at the entities.\n</think>\n\n" + text
    elif m < 0.05:
        text = text[: max(1, int(len(text) * rng.uniform(0.3, 0.95)))]
    elif m < 0.055 and len(obj) >= 1:
        k = next(iter(obj))
        text = text[:-1] + f', "{k}": "{obj[k]}"}}'
    elif m < 0.06:
        text = text.replace('"', "'")
    elif m < 0.062:
        text = "I cannot find any entities in this sentence."
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5, help="rounds; the fastest of each counts")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    records = [make_record(rng, i) for i in range(args.n)]
    outputs = [make_output(rng, ex) for ex in records]
    golds = [units_from_example(ex) for ex in records]
    jobs = [
        (ex["dataset"], ex["task"], ex["labels"], ex["roles"] or None, ex["text"], g, out)
        for ex, g, out in zip(records, golds, outputs, strict=True)
    ]

    def baseline() -> None:
        loads = json.loads
        for out in outputs:
            try:  # noqa: SIM105 - contextlib.suppress would slow the baseline down
                loads(out)
            except ValueError:
                pass

    def score() -> Evaluator:
        ev = Evaluator()
        add = ev.add
        for ds, task, labels, roles, text, gold, out in jobs:
            add(ds, gold, parse_output(out, task, labels, roles, text))
        return ev

    def score_with_gold() -> Evaluator:
        ev = Evaluator()
        add = ev.add
        for ex, out in zip(records, outputs, strict=True):
            add(
                ex["dataset"],
                units_from_example(ex),
                parse_output(out, ex["task"], ex["labels"], ex["roles"] or None, ex["text"]),
            )
        return ev

    # Where the time goes: the same work split into its stages.
    decoded = [decode_object(out)[0] for out in outputs]
    parsed = [
        parse_output(out, task, labels, roles, text)
        for _, task, labels, roles, text, _, out in jobs
    ]

    def stage_decode() -> None:
        for out in outputs:
            decode_object(out)

    def stage_units() -> None:
        for (_, task, labels, roles, text, _, _), obj in zip(jobs, decoded, strict=True):
            if obj is not None:
                units_from_obj(obj, task, labels, roles, text)

    def stage_add() -> None:
        ev = Evaluator()
        for (ds, *_, gold, _), p in zip(jobs, parsed, strict=True):
            ev.add(ds, gold, p)

    def floor() -> tuple[int, int, int, int]:
        # The least any evaluation that classifies problems must do, for scale: decode (orjson),
        # split values into units, check keys, values and substrings, count matches. One flat
        # loop, problems as plain tuples, no repair (a malformed output counts as empty).
        import orjson

        tp = n_pred = n_gold = n_problems = 0
        for _, task, labels, roles, text, gold, out in jobs:
            problems: list[tuple[str, ...]] = []
            try:
                obj = orjson.loads(out)
            except orjson.JSONDecodeError:
                obj = {}
                problems.append(("unparseable",))
            if type(obj) is not dict:
                obj = {}
            pred: set[tuple[str, ...]] = set()
            for k, v in obj.items():
                if k not in labels:
                    problems.append(("unknown_key", k))
                    continue
                if type(v) is not str:
                    problems.append(("non_string_value", k))
                    continue
                if not v:
                    continue
                parts = v.split(" | ")
                if len(parts) > 1 and len(set(parts)) != len(parts):
                    problems.append(("duplicate_value", k))
                for part in parts:
                    if task == "ner":
                        if part not in text:
                            problems.append(("not_substring", k, part))
                        pred.add((k, part))
                    elif task == "re":
                        h, sep, t = part.partition(", ")
                        if not sep or not h or not t:
                            problems.append(("malformed_pair", k, part))
                            continue
                        if h not in text:
                            problems.append(("not_substring", k, h))
                        if t not in text:
                            problems.append(("not_substring", k, t))
                        pred.add((k, h, t))
                    else:
                        pieces = part.split("; ")
                        trigger, _, pieces[0] = pieces[0].partition(": ")
                        if trigger not in text:
                            problems.append(("not_substring", k, trigger))
                        for piece in pieces:
                            r, _, a = piece.partition(": ")
                            if roles and r not in roles:
                                problems.append(("malformed_group", k, r))
                            if a not in text:
                                problems.append(("not_substring", k, a))
                            pred.add((k, r, a))
            g = gold.pairs if task == "ner" else gold.triples if task == "re" else gold.arguments
            tp += len(g & pred)
            n_pred += len(pred)
            n_gold += len(g)
            n_problems += len(problems)
        return tp, n_pred, n_gold, n_problems

    # Rounds interleave every variant so that a busy moment on a shared machine hits them alike; each
    # variant keeps its fastest round.
    variants = [baseline, score, score_with_gold, stage_decode, stage_units, stage_add, floor]
    times = [float("inf")] * len(variants)
    for _ in range(args.repeat):
        for i, fn in enumerate(variants):
            t0 = time.perf_counter()
            fn()
            times[i] = min(times[i], time.perf_counter() - t0)
    t_base, t_score, t_gold, t_decode, t_units, t_add, t_floor = times
    ev = score()
    res = ev.result()["tasks"]
    bad = sum(d["outputs_with_problems"] for t in res.values() for d in t["datasets"].values())
    unparseable = sum(d["unparseable"] for t in res.values() for d in t["datasets"].values())
    mean_len = sum(map(len, outputs)) / len(outputs)
    print(
        f"outputs: {args.n} (mean {mean_len:.0f} chars; {bad} with problems, {unparseable} unparseable)"
    )
    print(f"json.loads baseline : {t_base:.3f} s ({t_base / args.n * 1e6:.2f} us/output)")
    print(
        f"parse + score       : {t_score:.3f} s ({t_score / args.n * 1e6:.2f} us/output)  ratio {t_score / t_base:.2f}x (target <= 3)"
    )
    print(
        f"gold + parse + score: {t_gold:.3f} s ({t_gold / args.n * 1e6:.2f} us/output)  ratio {t_gold / t_base:.2f}x"
    )
    print(
        f"  stages: decode (repairs included) {t_decode / t_base:.2f}x, units_from_obj "
        f"{t_units / t_base:.2f}x, Evaluator.add {t_add / t_base:.2f}x"
    )
    print(
        f"floor (see floor())  : {t_floor:.3f} s ({t_floor / args.n * 1e6:.2f} us/output)  ratio {t_floor / t_base:.2f}x"
    )
    for task, t in res.items():
        scores = {m: round(100 * t["micro"][m]["f1"], 2) for m in t["metrics"]}
        print(f"  {task}: micro F1 {scores}")


if __name__ == "__main__":
    main()
