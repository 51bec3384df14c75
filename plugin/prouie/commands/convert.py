"""``prouie convert``: raw IE data -> canonical Example records (jsonl)."""

from __future__ import annotations

import argparse

from prouie.commands._input import add_input_args, open_input, print_skipped
from prouie.paths import check_output_file
from prouie.prepare import convert_records, progress
from prouie.readers import ReadStats


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="write canonical records (jsonl) for the converters, RL export and evaluation",
        description="Read raw IE data and write canonical Example records, one JSON object per line.",
    )
    add_input_args(p)
    p.add_argument("--out", required=True, help="records.jsonl to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_file(args.out, [args.input])
    stats = ReadStats()
    report = convert_records(progress(open_input(args, stats), "convert"), args.out, stats)
    print_skipped(stats)
    print(report.summary("convert"))
    return 0
