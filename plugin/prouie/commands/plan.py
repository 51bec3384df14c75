"""``prouie plan``: the paper's stage mixes as exact ``num_samples`` in dataset_info.json."""

from __future__ import annotations

import argparse

from prouie.paths import check_input, check_output_dir
from prouie.plan import STAGES, format_plan, make_plan, write_plan


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="write the CM/SA stage mixes (exact 2:8, 3:3:4, 1:1 counts) into dataset_info.json",
        description="Count the records per task, scale the paper's stage mixes (A.3, Table 9) to "
        "them with the ratios kept exact, and add one dataset_info.json entry per stage and task "
        "(prouie_<stage>_<task>, with num_samples) for recipes/cm_phase1..3.yaml and sa.yaml. "
        "Inputs are canonical record files (read by prouie's registered converters, which render "
        "CM or SA on the fly) or alpaca files written by `prouie prepare`.",
    )
    for task in ("ner", "re", "ee"):
        p.add_argument(
            f"--{task}",
            nargs="+",
            default=[],
            metavar="FILE",
            help=f"{task.upper()} canonical records (.jsonl) or CM alpaca files from prouie prepare",
        )
    for task in ("re", "ee"):
        p.add_argument(
            f"--sa-{task}",
            nargs="+",
            default=[],
            metavar="FILE",
            help=f"{task.upper()} data for SA (default: --{task}); needed when --{task} gives "
            "alpaca files: the SA alpaca files of `prouie prepare --stage sa`",
        )
    p.add_argument("--out", required=True, help="dataset_dir of the recipes (default there: data)")
    p.add_argument(
        "--stages",
        nargs="+",
        default=[s.name for s in STAGES],
        choices=[s.name for s in STAGES],
        metavar="STAGE",
        help="stages to plan: " + ", ".join(s.name for s in STAGES) + " (default: all)",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the paper's counts (e.g. 0.1 for a tenth-size run; default 1)",
    )
    p.add_argument(
        "--oversample",
        action="store_true",
        help="keep the target counts when a task has too few records (LLaMA-Factory then repeats "
        "records) instead of scaling the whole mix down",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inputs = [*args.ner, *args.re, *args.ee, *args.sa_re, *args.sa_ee]
    for path in inputs:
        check_input(path)
    check_output_dir(args.out, inputs)
    plan = make_plan(
        {"ner": args.ner, "re": args.re, "ee": args.ee},
        {"re": args.sa_re, "ee": args.sa_ee},
        stages=args.stages,
        scale=args.scale,
        oversample=args.oversample,
    )
    print(format_plan(plan))
    if args.dry_run:
        print("dry run: nothing written")
        return 0
    path = write_plan(plan, args.out)
    n = sum(len(sp.counts) for sp in plan.stages)
    print(f"wrote {n} entries to {path}")
    return 0
