"""The ``prouie`` command line: one subcommand per module in :mod:`prouie.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

from prouie import __version__
from prouie.records import RecordError

# Subcommand modules, in the order ``prouie --help`` lists them.
COMMANDS = (
    "prepare",
    "convert",
    "stats",
    "plan",
    "predict",
    "evaluate",
    "export_rl",
    "de",
    "quickstart",
    "perturb",
    "robustness",
    "lda",
    "lda_score",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prouie",
        description="Universal information extraction recipes (ProUIE, Robust-UIE) for "
        "LLaMA-Factory, EasyR1, verl and TRL.",
    )
    parser.add_argument("--version", action="version", version=f"prouie {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"prouie.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"prouie.commands.{name}":
                continue  # a command this installation does not ship
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RecordError as exc:
        print(f"prouie {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"prouie {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
