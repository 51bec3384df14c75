"""``prouie stats``: target token lengths CM vs SA in the layout of the paper's Table 6."""

from __future__ import annotations

import argparse

from prouie.commands._input import add_input_args, open_input
from prouie.prepare import progress
from prouie.readers import ReadStats
from prouie.stats import format_table, length_table, load_counter


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats",
        help="target token-length statistics, CM vs SA (paper Table 6 layout)",
        description="Token lengths of the CM and SA targets per task, as P50/P70/P99 buckets of "
        "min/mean/max (each bucket: the examples at or below that percentile).",
    )
    add_input_args(p)
    p.add_argument(
        "--tokenizer",
        help="'qwen' (Qwen BPE via tiktoken, offline), a local tokenizer folder or tokenizer.json; "
        "default: whitespace words",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    unit, count = load_counter(args.tokenizer)
    table = length_table(progress(open_input(args, ReadStats()), "stats"), count)
    print(format_table(table, unit))
    return 0
