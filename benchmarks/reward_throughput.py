"""SFR reward throughput on realistic model outputs, against bare ``json.loads`` of the same outputs.

    .venv/bin/python benchmarks/reward_throughput.py [--prompts 50000] [--rollouts 8] [--seed 0]

For each task it builds gold records of realistic size (schema and unit counts of the paper's
datasets), then GRPO-style rollouts per prompt: the SA target itself and the usual deviations
(a missed unit, a wrong span, a wrong type, an extra unit, CM-style empty keys, a <think> block, a
Markdown fence, a cut-off answer, prose without JSON). It prints, per task:

- rewards/s through ``score_response`` with every cache cleared before the run (each ground truth
  is decoded once, then reused for its rollouts, as in training), and the ratio of its time to
  ``json.loads`` of the same outputs (the target is at most 3);
- the same through ``score_response``, the entry every framework adapter calls;
- the two halves apart: ``parse_output`` alone and ``score_units`` on already parsed units;
- for RE, the floor: the least work any RE SFR must do (see ``re_floor``), for scale.

Every time is the best of three runs (the machine may be shared).

Then it scores the DE phase-2 volume (``--prompts`` x ``--rollouts`` RE responses, paper A.3:
50,000 x 8 = 400,000) through the EasyR1 batch entry point on one core, in batches of
512 prompts x 8 rollouts (EasyR1's rollout batch), and prints the time (target under 60 s).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import time
from collections.abc import Callable

from prouie import sfr
from prouie.integrations.easyr1 import compute_score
from prouie.parsing import parse_output
from prouie.sfr import encode_ground_truth, score_response, score_units
from prouie.targets import render_target

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


def _clear_caches() -> None:
    sfr._decode_cached.cache_clear()
    sfr._re_gold_views.cache_clear()
    sfr._ee_gold_views.cache_clear()


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_task(task: str, prompts: int, k: int, seed: int) -> None:
    rng = random.Random(seed)
    exs = [make_record(task, rng, i) for i in range(prompts)]
    gts = [encode_ground_truth(ex) for ex in exs]
    pairs = [(out, gt) for ex, gt in zip(exs, gts, strict=True) for out in rollouts(ex, rng, k)]
    outputs = [o for o, _ in pairs]

    def baseline() -> None:
        loads = json.loads
        for o in outputs:
            # A bare try/except, not contextlib.suppress: the baseline should cost json.loads only.
            try:  # noqa: SIM105
                loads(o)
            except ValueError:
                pass

    def sfr_cold() -> None:
        for o, g in pairs:
            sfr._score(o, g, sfr.DEFAULT_CONFIG)

    def sfr_cached() -> None:
        for o, g in pairs:
            score_response(o, g)

    gold = [sfr.decode_ground_truth(g) for _, g in pairs]
    parsed = [
        parse_output(o, gt.task, gt.labels, gt.roles or None, gt.text, gt.ref)
        for (o, _), gt in zip(pairs, gold, strict=True)
    ]

    def parse_only() -> None:
        for (o, _), gt in zip(pairs, gold, strict=True):
            parse_output(o, gt.task, gt.labels, gt.roles or None, gt.text, gt.ref)

    def score_only() -> None:
        for gt, p in zip(gold, parsed, strict=True):
            score_units(gt.units, p.units, parsed=p.ok, clean=not p.problems)

    def cold(fn: Callable[[], object]) -> float:
        def run() -> object:
            _clear_caches()
            return fn()

        return min(_time(run) for _ in range(3))

    t_json = min(_time(baseline) for _ in range(3))
    t_cold = cold(sfr_cold)
    t_cached = cold(sfr_cached)
    t_parse = min(_time(parse_only) for _ in range(3))
    t_units = cold(score_only)
    t_floor = min(_time(re_floor(pairs)) for _ in range(3)) if task == "re" else None
    n = len(pairs)
    distinct = len(set(pairs))
    print(
        f"{task:>4}: {n} outputs ({distinct} distinct); json.loads {n / t_json:,.0f}/s\n"
        f"      SFR (parse + score)      {n / t_cold:>9,.0f}/s  ratio to json.loads {t_cold / t_json:5.1f}\n"
        f"      SFR via score_response   {n / t_cached:>9,.0f}/s  ratio to json.loads {t_cached / t_json:5.1f}\n"
        f"        of which parse_output  {n / t_parse:>9,.0f}/s  ratio to json.loads {t_parse / t_json:5.1f}\n"
        f"        of which score_units   {n / t_units:>9,.0f}/s  ratio to json.loads {t_units / t_json:5.1f}"
    )
    if t_floor is not None:
        print(
            f"      floor (see re_floor)     {n / t_floor:>9,.0f}/s  ratio to json.loads {t_floor / t_json:5.1f}"
        )


def re_floor(pairs: list[tuple[str, str]]) -> Callable[[], object]:
    """The least work any RE SFR must do per rollout, for scale: decode (orjson), split the
    triples, the six set measures of Eq. (8) and the sub-score dict, with the gold sets
    precomputed, no problem classification, no ground-truth decoding, and malformed outputs
    scored as empty instead of repaired. Not a reward: a lower bound on one."""
    import orjson

    w = sfr.DEFAULT_CONFIG.re  # the A.3 weights SFR itself uses
    jobs = []
    for out, gt in pairs:
        g = sfr.decode_ground_truth(gt).units
        jobs.append((out, g.types, g.triples, g.heads, g.tails))

    def run() -> list[dict[str, float]]:
        results = []
        for out, gt_, gr, gh, ga in jobs:
            try:
                obj = orjson.loads(out)
            except orjson.JSONDecodeError:
                obj = {}
            if type(obj) is not dict:
                obj = {}
            pr: set[tuple[str, str, str]] = set()
            pt: set[str] = set()
            for k, v in obj.items():
                if v and type(v) is str:
                    for part in v.split(" | "):
                        h, _, t = part.partition(", ")
                        pr.add((k, h, t))
                        pt.add(k)
            ph = {(t, h) for t, h, _ in pr}
            pa = {(t, a) for t, _, a in pr}
            it, ir, ih, ia = len(gt_ & pt), len(gr & pr), len(gh & ph), len(ga & pa)
            ng, npt, ngr, npr = len(gt_), len(pt), len(gr), len(pr)
            cov_t = it / ng if ng else 0.0
            f1_h = 2 * ih / (len(gh) + len(ph)) if gh or ph else 1.0
            f1_a = 2 * ia / (len(ga) + len(pa)) if ga or pa else 1.0
            f1_r = 2 * ir / (ngr + npr) if ngr + npr else 1.0
            u_t, u_r = ng + npt - it, ngr + npr - ir
            djac_t = 1 - it / u_t if u_t else 1.0
            djac_r = 1 - ir / u_r if u_r else 1.0
            coarse = w.w_t * cov_t
            fine = w.w_h * f1_h + w.w_a * f1_a + w.w_r * f1_r**w.gamma
            penalty = w.lambda_t * djac_t + w.lambda_r * djac_r
            raw = coarse + fine - penalty
            score = 0.0 if raw < 0 else 1.0 if raw > 1 else raw
            results.append(
                {
                    "score": score,
                    "raw": raw,
                    "coarse": coarse,
                    "fine": fine,
                    "penalty": penalty,
                    "parsed": 1.0,
                    "clean": 1.0,
                    "cov_t": cov_t,
                    "f1_h": f1_h,
                    "f1_a": f1_a,
                    "f1_r": f1_r,
                    "djac_t": djac_t,
                    "djac_r": djac_r,
                }
            )
        return results

    return run


def bench_phase2(prompts: int, k: int, seed: int) -> None:
    rng = random.Random(seed + 1)
    exs = [make_record("re", rng, i) for i in range(prompts)]
    gts = [encode_ground_truth(ex) for ex in exs]
    batches = []
    batch: list[dict] = []
    for ex, gt in zip(exs, gts, strict=True):
        for out in rollouts(ex, rng, k):
            batch.append({"response": out, "response_length": len(out) // 4, "ground_truth": gt})
        if len(batch) >= 512 * k:
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)
    n = sum(len(b) for b in batches)
    _clear_caches()
    elapsed = _time(lambda: [compute_score(b) for b in batches])
    print(
        f"DE phase 2 volume: {prompts:,} RE prompts x {k} rollouts = {n:,} responses scored "
        f"through rewards/sfr_easyr1.py's compute_score in {elapsed:.1f} s on one core "
        f"({n / elapsed:,.0f}/s; target < 60 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--prompts", type=int, default=50_000, help="phase-2 prompts (paper: 50,000)"
    )
    parser.add_argument("--rollouts", type=int, default=8, help="rollouts per prompt (paper RE: 8)")
    parser.add_argument("--task-prompts", type=int, default=2000, help="prompts per task table row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for task in ("ner", "re", "ee"):
        bench_task(task, args.task_prompts, args.rollouts, args.seed)
    bench_phase2(args.prompts, args.rollouts, args.seed)


if __name__ == "__main__":
    main()
