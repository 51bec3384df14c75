"""Reward guard rails: the DE volumes of the paper (A.3) scored on one core, one line per figure.

    .venv/bin/python benchmarks/reward_throughput.py [--re-prompts 50000] [--ee-prompts 9991]

Gold records have the schema size and unit counts of the paper's datasets; each prompt gets GRPO
rollouts: the SA target itself and the usual deviations (a missed unit, a wrong span, a wrong type,
an extra unit, CM-style empty keys, a <think> block, a Markdown fence, a cut-off answer, prose).
Every response goes through ``rewards/sfr_easyr1.py``'s ``compute_score`` (loaded by path, as
EasyR1 loads it) in batches of 512 prompts x their rollouts (EasyR1's rollout batch). Figures:

- DE phase 2: 50,000 RE prompts x 8 rollouts = 400,000 rewards (target: under 60 s);
- DE phase 3: 9,991 EE prompts x 8 rollouts x 3 epochs = 239,784 rewards (target: under 60 s);
- the per-prompt ground-truth cache: the phase-2 time per 100,000 rewards with and without it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import string
import time
from pathlib import Path

from prouie.sfr import encode_ground_truth, ground_truth
from prouie.targets import render_target

REWARD_FILE = Path(__file__).resolve().parents[1] / "rewards" / "sfr_easyr1.py"
BATCH_PROMPTS = 512

WORDS = [
    "".join(random.Random(i).choice(string.ascii_lowercase) for _ in range(3 + i % 7))
    for i in range(4000)
]


def _sentence(rng: random.Random, n: int) -> list[str]:
    return [
        rng.choice(WORDS).capitalize() if rng.random() < 0.2 else rng.choice(WORDS)
        for _ in range(n)
    ]


def _span(rng: random.Random, tokens: list[str], used: set[int]) -> tuple[str, int]:
    for _ in range(50):
        length = rng.choice((1, 1, 2, 2, 3))
        start = rng.randrange(0, len(tokens) - length)
        if not used & set(range(start, start + length)):
            used.update(range(start, start + length))
            return " ".join(tokens[start : start + length]), start
    return tokens[0], 0


def make_record(task: str, rng: random.Random, i: int) -> dict:
    """A record with the schema size and unit counts typical of the task's datasets."""
    tokens = _sentence(rng, rng.randint(15, 40))
    text = " ".join(tokens)
    used: set[int] = set()
    if task == "ner":
        labels = [f"type {k}" for k in range(rng.choice((3, 4, 7, 12, 18)))]
        ents = [
            {"type": rng.choice(labels), "text": _span(rng, tokens, used)[0]}
            for _ in range(rng.randint(1, 4))
        ]
        return {"id": f"n{i}", "task": task, "text": text, "labels": labels, "entities": ents}
    if task == "re":
        labels = [f"relation {k}" for k in range(rng.choice((5, 7, 10, 18, 24)))]
        rels = []
        for _ in range(rng.randint(1, 3)):
            h, t = _span(rng, tokens, used)[0], _span(rng, tokens, used)[0]
            rels.append({"type": rng.choice(labels), "head": {"text": h}, "tail": {"text": t}})
        return {"id": f"r{i}", "task": task, "text": text, "labels": labels, "relations": rels}
    labels = [f"event {k}" for k in range(rng.choice((2, 5, 33)))]
    roles = [f"Role{k}" for k in range(rng.choice((16, 22, 26)))]
    events = []
    for _ in range(rng.randint(1, 2)):
        trigger = _span(rng, tokens, used)[0]
        args = [
            {"role": rng.choice(roles), "text": _span(rng, tokens, used)[0]}
            for _ in range(rng.randint(1, 4))
        ]
        events.append({"type": rng.choice(labels), "trigger": {"text": trigger}, "arguments": args})
    return {
        "id": f"e{i}",
        "task": task,
        "text": text,
        "labels": labels,
        "roles": roles,
        "events": events,
    }


def rollouts(ex: dict, rng: random.Random, k: int) -> list[str]:
    """``k`` outputs for a record: mostly right or nearly right, some malformed (SA-stage mix)."""
    target = json.loads(render_target(ex, "sa"))
    keys = list(target)
    out = []
    for _ in range(k):
        kind = rng.choices(
            ["exact", "drop", "span", "type", "extra", "cm", "think", "fence", "cut", "prose"],
            weights=[30, 12, 14, 8, 10, 6, 6, 5, 5, 4],
        )[0]
        obj = dict(target)
        key = rng.choice(keys)
        if kind == "drop" and len(keys) > 1:
            obj.pop(key)
        elif kind == "span":
            obj[key] = obj[key].replace(obj[key][: rng.randint(1, 3)], "", 1)
        elif kind == "type":
            obj[rng.choice(ex["labels"])] = obj.pop(key)
        elif kind == "extra":
            obj[key] = obj[key] + " | " + rng.choice(WORDS)
        elif kind == "cm":
            obj = {label: obj.get(label, "") for label in ex["labels"]}
        text = json.dumps(obj, ensure_ascii=False)
        if kind == "think":
            text = "<think>\n\n</think>\n\n" + text
        elif kind == "fence":
            text = "```json\n" + text + "\n```"
        elif kind == "cut":
            text = text[: max(2, len(text) * 2 // 3)]
        elif kind == "prose":
            text = "The input mentions no such " + ex["labels"][0] + "."
        out.append(text)
    return out


def batches(task: str, prompts: int, rollouts_per_prompt: int, epochs: int, seed: int) -> list:
    """EasyR1 reward inputs for ``epochs`` passes over ``prompts`` prompts, in rollout batches."""
    rng = random.Random(seed)
    exs = [make_record(task, rng, i) for i in range(prompts)]
    gts = [encode_ground_truth(ex) for ex in exs]
    out: list[list[dict]] = []
    for _ in range(epochs):
        for start in range(0, prompts, BATCH_PROMPTS):
            out.append(
                [
                    {"response": r, "response_length": len(r) // 4, "ground_truth": gt}
                    for ex, gt in zip(
                        exs[start : start + BATCH_PROMPTS],
                        gts[start : start + BATCH_PROMPTS],
                        strict=True,
                    )
                    for r in rollouts(ex, rng, rollouts_per_prompt)
                ]
            )
    return out


def score_all(compute_score, work: list) -> float:
    """Seconds to score every batch, starting with an empty ground-truth cache."""
    if hasattr(ground_truth._decode_text, "cache_clear"):
        ground_truth._decode_text.cache_clear()
    start = time.perf_counter()
    for batch in work:
        compute_score(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--re-prompts", type=int, default=50_000, help="paper A.3: 50,000")
    parser.add_argument("--ee-prompts", type=int, default=9_991, help="paper A.3: 9,991")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as promised
    spec = importlib.util.spec_from_file_location("sfr_easyr1", REWARD_FILE)
    reward = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reward)

    work = batches("re", args.re_prompts, 8, 1, args.seed)
    n = sum(map(len, work))
    t = score_all(reward.compute_score, work)
    print(
        f"DE phase 2 (RE): {n:,} rewards through {REWARD_FILE.name} in {t:.1f} s on one core (target < 60 s)"
    )

    # The same work with every ground truth decoded again for each of its rollouts.
    cached = ground_truth._decode_text
    ground_truth._decode_text = cached.__wrapped__
    try:
        t_uncached = score_all(reward.compute_score, work)
    finally:
        ground_truth._decode_text = cached
    print(
        f"ground-truth cache: {t / n * 1e5:.2f} s per 100,000 RE rewards with it, "
        f"{t_uncached / n * 1e5:.2f} s without (x{t_uncached / t:.2f})"
    )

    work = batches("ee", args.ee_prompts, 8, 3, args.seed + 1)
    n = sum(map(len, work))
    t = score_all(reward.compute_score, work)
    print(
        f"DE phase 3 (EE): {n:,} rewards through {REWARD_FILE.name} in {t:.1f} s on one core (target < 60 s)"
    )


if __name__ == "__main__":
    main()
