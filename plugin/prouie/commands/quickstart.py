"""``prouie quickstart``: both papers end to end on the embedded corpus and a tiny local model."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from prouie.quickstart.pipeline import PRESETS

    p = sub.add_parser(
        "quickstart",
        help="both papers on a CPU in minutes: corpus, tiny model, CM -> SA -> DE, perturbations, "
        "LDA, robustness, one report",
        description="Write the embedded NER/RE/EE corpus, build a tiny model from scratch, train "
        "CM phase 1 -> 2 -> 3 -> SA with llamafactory-cli and the project's recipes, DE with TRL "
        "and SFR, evaluate on the test split after every stage; then perturb every split, run one "
        "LDA round (loss-guided and random selection) and report the robustness of the final and "
        "the LDA model. Writes one report. A rerun skips the steps whose outputs exist.",
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
    p.add_argument(
        "--base-url",
        help="OpenAI-compatible endpoint (e.g. http://127.0.0.1:8000/v1 of `vllm serve`): adds the "
        "LLM-based perturbations; the API key is read from OPENAI_API_KEY",
    )
    p.add_argument("--llm-model", help="model name the --base-url server knows")
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
        llm_model=args.llm_model,
        log=lambda line: print(line, flush=True),
    )
    start = time.perf_counter()
    timings = qs.run()
    report = write_report(qs, timings, args.sizes)
    print(f"quickstart finished in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(f"report: {report}")
    return 0
