"""``prouie robustness``: F1 on original and perturbed records, with the drop per type."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prouie.paths import atomic_files, check_input, check_output_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "robustness",
        help="F1 per task and perturbation type, with absolute and relative drops",
        description="Score predictions on original records and on records made by prouie "
        "perturb (told apart by meta.perturbation), and write robustness.md, robustness.json "
        "and robustness.png into --out. Each type's drop is measured against the original "
        "records it was made from.",
    )
    p.add_argument("predictions", nargs="+", type=Path, help="prediction jsonl file(s)")
    p.add_argument(
        "--records",
        type=Path,
        nargs="+",
        help="canonical records (original and perturbed) that LLaMA-Factory predictions are joined to, by id or input text",
    )
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument(
        "--loose",
        action="store_true",
        help="match strings case-insensitively with whitespace runs collapsed (default: exact)",
    )
    p.add_argument("--title", default="Robustness", help="title of the Markdown report")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG chart")
    p.add_argument("--quiet", action="store_true", help="do not print the tables")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prouie.evaluation import read_predictions
    from prouie.record_index import RecordIndex
    from prouie.report import write_json
    from prouie.robust.robustness import plot, robustness, to_markdown

    preds: list[Path] = args.predictions
    out: Path = args.out
    for path in [*preds, *(args.records or [])]:
        check_input(path)
    check_output_dir(out, [*preds, *(args.records or [])])
    index = RecordIndex.from_files(args.records) if args.records else None
    items = [item for path in preds for item in read_predictions(path, index)]
    result = robustness(items, loose_match=args.loose)
    result["inputs"] = [str(p) for p in preds]
    md = to_markdown(result, args.title)
    with atomic_files(out) as outs:  # every report file replaced together, or none
        outs.get("robustness.md").write(md + "\n")
        write_json(result, outs.path("robustness.json"))
        if not args.no_plot:
            plot(result, outs.path("robustness.png"))
    if not args.quiet:
        print(md)
    print(f"robustness report written to {out}/", file=sys.stderr)
    return 0
