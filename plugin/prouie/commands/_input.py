"""Input options shared by the commands that read raw IE data, built from the readers' registry."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from prouie.paths import check_input
from prouie.readers import FORMATS, ReadStats, formats, get_format, read
from prouie.records import Example, RecordError

# Options of the command itself that a format may also take (``--split`` names prepare's output).
_COMMAND_OPTIONS = {"split"}


def add_input_args(p: argparse.ArgumentParser) -> None:
    """``--input``, ``--format`` and every registered format's own options (once per flag)."""
    p.add_argument("--input", required=True, help="file or folder to read")
    # No argparse ``choices``: the registry's error suggests the closest format names.
    p.add_argument("--format", required=True, help=f"input format: {', '.join(FORMATS)}")
    p.add_argument(
        "--split", help="split to read (ie_instructions: train/dev/test) or to name the output"
    )
    takers: dict[str, list[str]] = {}
    for fmt in formats():
        for opt in fmt.options:
            takers.setdefault(opt.name, []).append(fmt.name)
    seen = set(_COMMAND_OPTIONS)
    for fmt in formats():
        for opt in fmt.options:
            if opt.name in seen:
                continue
            seen.add(opt.name)
            p.add_argument(
                opt.flag,
                dest=opt.name,
                choices=opt.choices,
                help=f"{opt.help} [{', '.join(takers[opt.name])}]",
            )
    add_allow_empty(p)
    p.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="malformed records: stop with an error naming file, line and field (default), or "
        "skip and count",
    )


def add_allow_empty(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept an input that yields no records (default: an error)",
    )


def open_input(args: argparse.Namespace, stats: ReadStats) -> Iterator[Example]:
    """The records of ``--input`` with the chosen format's options; fails early on a bad path or
    an option the format does not take, and at the end on an empty input unless ``--allow-empty``."""
    spec = get_format(args.format)
    check_input(args.input, folder=spec.folder)
    taken = {o.name: o for o in spec.options}
    options = {}
    for fmt in formats():
        for opt in fmt.options:
            value = getattr(args, opt.name, None)
            if value is None or opt.name in options:
                continue
            if opt.name not in taken:
                if opt.name in _COMMAND_OPTIONS:
                    continue
                raise ValueError(
                    f"{opt.flag} does not apply to --format {args.format} "
                    f"(its options: {', '.join(o.flag for o in spec.options) or 'none'})"
                )
            options[opt.name] = taken[opt.name].parse(value) if taken[opt.name].parse else value
    records = read(args.format, args.input, stats=stats, on_error=args.on_error, **options)
    return _non_empty(records, args.input, stats, args.allow_empty)


def _non_empty(
    records: Iterator[Example], path: str, stats: ReadStats, allow_empty: bool
) -> Iterator[Example]:
    yield from records
    print_warnings(stats)
    if stats.read == 0 and not allow_empty:
        why = f" (all {stats.skipped} skipped as malformed)" if stats.skipped else ""
        raise RecordError(
            str(Path(path)), "<file>", f"yields no records{why}; pass --allow-empty to accept that"
        )


def print_warnings(stats: ReadStats) -> None:
    for message in stats.warnings:
        print(f"warning: {message}", file=sys.stderr)
    stats.warnings.clear()


def print_skipped(stats: ReadStats) -> None:
    for err in stats.errors[:5]:
        print(f"  skipped: {err}", file=sys.stderr)
