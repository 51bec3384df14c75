"""Throughput of scoring model outputs, against bare ``json.loads`` of the same strings.

Builds N realistic outputs (a mix of NER, RE and EE in the paper's target format, most well formed,
some wrong and some malformed: code fences, chatter around the object, ``<think>`` blocks, cut-off
endings, duplicate keys, single quotes) for synthetic sentences, then times, in one process, bare
``json.loads`` of every output string against ``parse_output`` + ``Evaluator.add`` for every output
(gold units computed beforehand: they belong to the data, not to the outputs). Prints the ratio in
one line; the guard rail is at most 10x. Then prints the whole ``prouie evaluate`` command's time
over its scoring core's for N predictions of the sample data (``evaluate_cli.py``; target at most
2x), unless ``--no-cli``.

    python benchmarks/evaluate_throughput.py [--n 100000] [--repeat 3] [--seed 0] [--no-cli]
"""

from __future__ import annotations

import argparse
import json
import random
import time

from evaluate_cli import cli_ratios
from prouie.metrics import Evaluator
from prouie.parsing import parse_output
from prouie.targets import render_target
from prouie.units import units_from_example

PROSE = (
    "the patient was given a high dose of aspirin after surgery in Boston while doctors at "
    "the general hospital monitored his blood pressure and heart rate for three days before "
    "the committee of Acme Corporation announced a new treatment program with support from "
    "Harvard University and the city council of New York on Monday evening"
)
WORDS = PROSE.split()
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
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the fastest of each counts")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-cli", action="store_true", help="skip the CLI-to-core ratio")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    records = [make_record(rng, i) for i in range(args.n)]
    outputs = [make_output(rng, ex) for ex in records]
    jobs = [
        (ex["dataset"], ex["task"], ex["labels"], ex["roles"] or None, ex["text"], gold, out)
        for ex, gold, out in zip(records, map(units_from_example, records), outputs, strict=True)
    ]

    def baseline() -> None:
        for out in outputs:
            try:  # noqa: SIM105 - contextlib.suppress would slow the baseline down
                json.loads(out)
            except ValueError:
                pass

    def score() -> None:
        ev = Evaluator()
        for dataset, task, labels, roles, text, gold, out in jobs:
            ev.add(dataset, gold, parse_output(out, task, labels, roles, text))

    # Rounds interleave the two so that a busy moment on a shared machine hits both alike.
    best = {baseline: float("inf"), score: float("inf")}
    for _ in range(args.repeat):
        for fn in best:
            t0 = time.perf_counter()
            fn()
            best[fn] = min(best[fn], time.perf_counter() - t0)
    t_base, t_score = best[baseline], best[score]
    print(
        f"evaluate {args.n} outputs: {t_score / args.n * 1e6:.2f} us/output, json.loads "
        f"{t_base / args.n * 1e6:.2f} us/output, ratio {t_score / t_base:.2f}x (target <= 10)"
    )
    if not args.no_cli:
        del records, outputs, jobs
        for line in cli_ratios(args.n, repeat=5):
            print(line)


if __name__ == "__main__":
    main()
