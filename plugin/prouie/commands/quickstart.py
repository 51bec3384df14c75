"""``prouie quickstart``: ProUIE's stages end to end on the embedded corpus and a tiny local model."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from prouie.quickstart.pipeline import PRESETS

    p = sub.add_parser(
        "quickstart",
        help="run the whole method on a CPU in minutes: corpus, tiny model, CM -> SA -> DE, report",
        description="Write the embedded NER/RE/EE corpus, build a tiny model from scratch, train "
        "CM phase 1 -> 2 -> 3 -> SA with llamafactory-cli and the project's recipes, DE with TRL "
        "and SFR, evaluate on the test split after every stage and write one report. A rerun "
        "skips the steps whose outputs exist.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("out/quickstart"),
        help="working folder (default: %(default)s)",
    )
    p.add_argument("--model", help="start from this checkpoint folder instead of the tiny model")
    p.add_argument(
        "--data",
        type=Path,
        help="folder of canonical records <task>_<split>.jsonl (task ner/re/ee, split "
        "train/validation/test; `prouie convert` writes them from any supported format) instead of "
        "the embedded corpus",
    )
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for the LLM-based perturbations")
    p.add_argument(
        "--sizes",
        default="default",
        choices=sorted(PRESETS),
        help="size preset: default (the measured CPU choice) or ci (smallest that trains every "
        "stage)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prouie.quickstart.pipeline import PRESETS, Quickstart
    from prouie.quickstart.report import write_report

    qs = Quickstart(
        args.out,
        PRESETS[args.sizes],
        model=args.model,
        data=args.data,
        base_url=args.base_url,
        log=lambda line: print(line, flush=True),
    )
    start = time.perf_counter()
    timings = qs.run()
    report = write_report(qs, timings, args.sizes)
    print(f"quickstart finished in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(f"report: {report}")
    return 0
