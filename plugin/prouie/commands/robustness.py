"""``prouie robustness``: F1 on original and perturbed records, with the drop per type."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path


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
        help="canonical records joined by order to LLaMA-Factory predictions (one per file)",
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


def _write(path: Path, data: str | bytes) -> None:
    """Through a temporary file: a failed run leaves the previous report intact."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    from prouie.evaluation import read_predictions
    from prouie.robust.robustness import plot, robustness, to_markdown

    preds: list[Path] = args.predictions
    records = args.records
    if records is not None and len(records) != len(preds):
        raise ValueError(f"--records: got {len(records)} files for {len(preds)} predictions files")
    items = []
    for i, path in enumerate(preds):
        items += read_predictions(path, None if records is None else records[i])
    result = robustness(items, loose_match=args.loose)
    result["inputs"] = [str(p) for p in preds]
    md = to_markdown(result, args.title)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "robustness.md", md + "\n")
    _write(out / "robustness.json", json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    if not args.no_plot:
        fd, tmp = tempfile.mkstemp(dir=out, prefix=".robustness.png.", suffix=".png")
        os.close(fd)
        plot(result, tmp)
        os.replace(tmp, out / "robustness.png")
    if not args.quiet:
        print(md)
    print(f"robustness report written to {out}/", file=sys.stderr)
    return 0
