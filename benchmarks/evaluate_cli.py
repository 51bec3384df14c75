"""Speed of the whole ``prouie evaluate`` command against its scoring core, on N predictions.

Takes records from the sample data sets (wikigold NER, FewRel RE, PHEE EE; ../shared/data) and
cycles them to N predictions, a sixth each of: the gold target, a cut-off one, one with chatter
around it, one with wrong values, a refusal, one with an unknown key. Writes them as a ``prouie
predict`` file (each line carries its record) and as LLaMA-Factory's ``generated_predictions.jsonl``
(``prompt``, ``predict``, ``label``), then times, in one process, taking turns within each round:

- core: ``score_items`` on the predictions of a file already read into memory: parsing the
  prediction, the gold units (from the record, or by parsing the ``label`` of a LLaMA-Factory row:
  the same parser on the reference), and the metrics;
- cli: the whole ``prouie evaluate`` on that file (reading, checking, scoring, the report).

Prints, for each file, the median over the rounds of cli time over core time (and the range); the
target is at most 2 for 100,000 predictions. Per-round ratios, not best times, because this
machine's speed drifts by a fifth within a minute.

    python benchmarks/evaluate_cli.py [--n 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from itertools import cycle, islice
from pathlib import Path

from prouie.cli import main as prouie
from prouie.evaluation import read_predictions, score_items
from prouie.generation import format_prompt, user_turn
from prouie.readers import read
from prouie.targets import instruction_for, render_target

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from damage import damaged  # noqa: E402  (the tests' answer damager, shared)

DATA = REPO.parent / "shared" / "data"
SAMPLES = [
    ("conll", "wikigold/wikigold.conll.txt"),
    ("fewrel", "fewrel/val_wiki.json"),
    ("phee", "phee/test.json"),
]


def records(per_set: int) -> list[dict]:
    out = []
    for fmt, rel in SAMPLES:
        if not (DATA / rel).exists():
            sys.exit(f"{DATA / rel} is absent: the sample data live in ../shared/data")
        out += list(islice(read(fmt, DATA / rel), per_set))
    return out


def rounds(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """The time of each run in each of ``repeat`` rounds; the runs take turns within a round, so
    a busy moment on the shared machine does not favour one of them."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def cli_ratios(n: int, repeat: int) -> Iterator[str]:
    """One line per predictions file: the command's time over its core's (see the docstring)."""
    recs = records(2000)
    rows = []
    for i, rec in enumerate(islice(cycle(recs), n)):
        stage = "sa" if i % 2 else "cm"
        target = render_target(rec, stage)
        rows.append((rec, stage, target, damaged(target, i)))
    with tempfile.TemporaryDirectory() as tmp:
        ours, lf = Path(tmp) / "preds.jsonl", Path(tmp) / "generated_predictions.jsonl"
        with ours.open("w", encoding="utf-8") as a, lf.open("w", encoding="utf-8") as b:
            for rec, stage, target, pred in rows:
                prompt = format_prompt(user_turn(instruction_for(rec, stage), rec["text"]))
                line = {"id": rec["id"], "dataset": rec["dataset"], "task": rec["task"]}
                line |= {"prompt": prompt, "prediction": pred, "reference": target, "record": rec}
                a.write(json.dumps(line, ensure_ascii=False) + "\n")
                b.write(json.dumps({"prompt": prompt, "predict": pred, "label": target}) + "\n")
        rows.clear()
        for name, path in [
            ("prouie predict file", ours),
            ("generated_predictions.jsonl alone", lf),
        ]:
            # The core scores the predictions as the command reads them: one record object per
            # line, as in a real file (the rows above share 6,000 records, which would flatter it).
            items = list(read_predictions(path))
            # The benchmark's own 100,000 items are frozen out of the collector: a process
            # running the command would not hold them.
            gc.collect()
            gc.freeze()
            times = rounds(
                {
                    "core": partial(score_items, items, details=False),
                    "cli": partial(
                        prouie, ["evaluate", str(path), "--out", f"{tmp}/r", "--quiet", "--no-plot"]
                    ),
                },
                repeat,
            )
            gc.unfreeze()
            del items
            ratios = sorted(c / k for c, k in zip(times["cli"], times["core"], strict=True))
            yield (
                f"prouie evaluate, {n} predictions, {name}: "
                f"core {statistics.median(times['core']):.2f} s, "
                f"cli {statistics.median(times['cli']):.2f} s: "
                f"cli/core {statistics.median(ratios):.2f}x "
                f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}, {repeat} rounds; target <= 2x)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    for line in cli_ratios(args.n, args.repeat):
        print(line)


if __name__ == "__main__":
    main()
