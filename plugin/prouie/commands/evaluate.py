"""``prouie evaluate``: score predictions and write a Markdown table, a JSON result and a PNG chart."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from prouie.commands._input import add_allow_empty
from prouie.paths import atomic_files, check_input, check_output_dir
from prouie.records import RecordError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score predictions (prouie predict output or LLaMA-Factory generated_predictions.jsonl)",
        description="Score predictions with the paper's metrics (NER/RE micro-F1, EE trigger and "
        "argument F1, slot ExactAcc) per dataset and task, and report the output problems. Writes "
        "report.md, report.json and report.png into --out.",
    )
    p.add_argument("predictions", nargs="+", type=Path, help="prediction jsonl file(s)")
    p.add_argument(
        "--records",
        type=Path,
        nargs="+",
        help="canonical records jsonl the evaluated data was made from; LLaMA-Factory rows are "
        "joined to them by id or input text (any order, any subset). Not needed when the prompts "
        "are prouie's templates: task, labels and input are read from the prompt, gold from label",
    )
    p.add_argument(
        "--dataset",
        help="data set name of LLaMA-Factory rows scored without --records (default: the run "
        "folder of generated_predictions.jsonl, else the file name)",
    )
    p.add_argument(
        "--slot",
        action="store_true",
        help="without --records: prompts that the NER and slot templates share are slot filling "
        "(default: NER)",
    )
    p.add_argument(
        "--out", type=Path, help="report folder (default: beside the first predictions file)"
    )
    p.add_argument(
        "--loose",
        action="store_true",
        help="match strings case-insensitively with whitespace runs collapsed (default: exact)",
    )
    p.add_argument("--no-plot", action="store_true", help="skip the PNG chart")
    p.add_argument(
        "--details", action="store_true", help="also write details.jsonl (problems per output)"
    )
    p.add_argument("--title", default="Evaluation", help="title of the Markdown report")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table on stdout")
    add_allow_empty(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prouie.evaluation import count_lines, read_predictions, score_items
    from prouie.metrics import Evaluator
    from prouie.record_index import RecordIndex
    from prouie.report import plot, to_markdown, write_json

    preds: list[Path] = args.predictions
    out: Path = args.out or preds[0].parent / f"{preds[0].stem}_eval"
    for path in [*preds, *(args.records or [])]:
        check_input(path)
    check_output_dir(out, [*preds, *(args.records or [])])
    index = RecordIndex.from_files(args.records) if args.records else None

    evaluator = Evaluator(loose_match=args.loose)
    details = []
    for path in preds:
        items = read_predictions(
            path, index, dataset=args.dataset, shared_task="slot" if args.slot else "ner"
        )
        total = count_lines(path) if not args.quiet else None
        _, det = score_items(
            items,
            evaluator,
            progress=bool(total and total > 1000),
            total=total,
            details=args.details,
        )
        details += det

    if not evaluator.scores and not args.allow_empty:
        raise RecordError(
            str(preds[0]), "<file>", "holds no predictions; pass --allow-empty to accept that"
        )
    result = evaluator.result()
    result["inputs"] = {
        "predictions": [str(p) for p in preds],
        "records": [str(r) for r in args.records] if args.records else None,
    }
    md = to_markdown(result, title=args.title)
    if index is not None:
        result["coverage"] = cov = index.coverage()
        if cov["subset"]:
            note = (
                f"Scored {cov['scored']} of {cov['records']} records (a subset: the predictions "
                "cover only these; "
                + ", ".join(
                    f"{d['task']}/{d['dataset'] or '-'} {d['scored']}/{d['records']}"
                    for d in cov["datasets"]
                )
                + ")."
            )
            md += "\n\n" + note
            print(note, file=sys.stderr)
    with atomic_files(out) as outs:  # every report file replaced together, or none
        outs.get("report.md").write(md + "\n")
        write_json(result, outs.path("report.json"))
        if args.details:
            fh = outs.get("details.jsonl")
            for d in details:
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
        if not args.no_plot:
            plot(result, outs.path("report.png"))
    if not args.quiet:
        print(md)
    print(f"report written to {out}/", file=sys.stderr)
    return 0
