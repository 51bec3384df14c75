"""Input options shared by the commands that read raw IE data."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from prouie.readers import FORMATS, ReadStats, load_label_map, read
from prouie.records import Example


def add_input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="file or folder to read")
    p.add_argument("--format", required=True, choices=FORMATS, help="input format")
    p.add_argument(
        "--task", choices=("ner", "re", "ee", "slot"), help="task (when the input cannot tell)"
    )
    p.add_argument("--dataset", help="dataset name (default: from the input)")
    p.add_argument(
        "--split", help="split to read (ie_instructions: train/dev/test) or to name the output"
    )
    p.add_argument("--schema", help="slot schema YAML (--format slot)")
    p.add_argument(
        "--labels",
        help="iepile: comma-separated label schema (default: labels of the file, in order)",
    )
    p.add_argument(
        "--label-map", help="JSON/YAML mapping from source labels to label words (conll)"
    )
    p.add_argument(
        "--detokenize",
        choices=("space", "rules"),
        default="space",
        help="conll: join tokens with spaces (as the paper's inputs) or glue punctuation (rules)",
    )
    p.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="malformed records: stop with an error naming file, line and field (default), or skip and count",
    )


def open_input(args: argparse.Namespace, stats: ReadStats) -> Iterator[Example]:
    return read(
        args.format,
        args.input,
        task=args.task,
        dataset=args.dataset,
        split=args.split if args.format == "ie_instructions" else None,
        schema=args.schema,
        label_map=load_label_map(args.label_map),
        detokenize=args.detokenize,
        labels=[x.strip() for x in args.labels.split(",")] if args.labels else None,
        stats=stats,
        on_error=args.on_error,
    )


def print_skipped(stats: ReadStats) -> None:
    import sys

    for err in stats.errors[:5]:
        print(f"  skipped: {err}", file=sys.stderr)
