"""``prouie doctor``: framework versions, the LLaMA-Factory converters, known incompatibilities."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="check this environment: framework versions, converters, known incompatibilities",
        description="Print the versions of the frameworks prouie works with, whether LLaMA-Factory "
        "sees prouie's dataset converters in this interpreter, and every known incompatibility "
        "with its fix. Exit status 1 when one applies here.",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prouie import __version__
    from prouie.doctor import converters_registered, findings, versions

    v = versions()
    print(f"prouie {__version__}")
    for name, version in v.items():
        print(f"  {name:<14} {version or 'not installed'}")
    if v["LLaMA-Factory"] is not None:
        ok, why = converters_registered()
        print(f"LLaMA-Factory converters registered: {'yes' if ok else 'NO'} ({why})")
    applying = 0
    print("Known incompatibilities:")
    for f in findings(v):
        applying += f.applies
        print(f"  [{'APPLIES' if f.applies else 'ok'}] {f.problem}\n      fix: {f.fix}")
    return 1 if applying else 0
