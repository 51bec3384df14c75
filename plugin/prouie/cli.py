"""The ``prouie`` command line: one subcommand per module in :mod:`prouie.commands`."""

from __future__ import annotations

import argparse
import importlib
import os
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
    "doctor",
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
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the Python traceback of an error (also: PROUIE_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"prouie.commands.{name}").register(sub)
    return parser


def _debug(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("PROUIE_DEBUG", "") not in ("", "0")


def _one_line(exc: BaseException) -> str:
    """The error as one line; an OSError names its file (``IsADirectoryError`` alone does not)."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """Run one command; the error contract of every command lives here.

    Bad input (malformed data, a bad path, a bad option value) ends with exit status 2 and one
    line naming the file, the line and the field; an unexpected internal error prints one line
    (exit status 1) saying how to see the traceback: ``--debug`` or ``PROUIE_DEBUG=1``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _debug(argv)
    parser = build_parser()
    try:
        # --debug is accepted anywhere on the line, not only before the command name.
        args = parser.parse_args([a for a in argv if a != "--debug"])
    except SystemExit as exc:  # --help, --version or a usage error (argparse printed it)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.func(args) or 0)
    except (RecordError, ValueError, OSError) as exc:
        if debug:
            raise
        print(f"prouie {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"prouie {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"prouie {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(run again with --debug or PROUIE_DEBUG=1 to see the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
