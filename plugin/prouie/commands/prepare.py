"""``prouie prepare``: raw IE data -> LLaMA-Factory alpaca jsonl + dataset_info.json entries."""

from __future__ import annotations

import argparse

from prouie.commands._input import add_input_args, open_input, print_skipped
from prouie.paths import check_output_dir
from prouie.prepare import prepare_alpaca, progress
from prouie.readers import ReadStats


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="write LLaMA-Factory alpaca files (CM or SA prompts/targets) and dataset_info.json",
        description="Read raw IE data and write LLaMA-Factory alpaca jsonl (instruction, input, output) "
        "with the paper's CM or SA prompts and targets, one file per dataset/task/split, and add or "
        "update their entries in OUT/dataset_info.json (other entries are kept).",
    )
    add_input_args(p)
    p.add_argument(
        "--stage", required=True, choices=("cm", "sa"), help="CM (every key) or SA (no empty keys)"
    )
    p.add_argument("--out", required=True, help="dataset_dir for LLaMA-Factory")
    p.add_argument(
        "--name",
        help="dataset name in dataset_info.json (default <dataset>_<stage>_<task>[_<split>])",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_dir(args.out, [args.input])
    stats = ReadStats()
    records = progress(open_input(args, stats), "prepare")
    report = prepare_alpaca(records, args.out, args.stage, stats, split=args.split, name=args.name)
    print_skipped(stats)
    print(report.summary(f"prepare ({args.stage})"))
    for fname, n in report.files.items():
        print(f"  {args.out}/{fname}: {n}")
    return 0
