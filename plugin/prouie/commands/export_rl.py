"""``prouie export-rl``: canonical records -> EasyR1 jsonl or verl parquet for the DE stage."""

from __future__ import annotations

import argparse

from prouie.commands._input import add_allow_empty
from prouie.paths import check_input, check_output_file
from prouie.rl_export import FORMAT_PROMPT, TARGETS, export


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-rl",
        help="write GRPO data (EasyR1 jsonl / verl parquet) whose ground truth the SFR reward reads",
        description="Write the Deep Exploration (GRPO) data of canonical records: the SA prompt "
        "(instruction + newline + text) and a JSON ground truth with task, labels, input text and "
        "gold units.",
    )
    p.add_argument("--target", required=True, choices=TARGETS, help="framework to write for")
    p.add_argument(
        "--input", required=True, action="append", help="records jsonl (repeat for several files)"
    )
    p.add_argument(
        "--out", required=True, help="file to write (.jsonl for easyr1, .parquet for verl)"
    )
    p.add_argument("--task", choices=("ner", "re", "ee", "slot"), help="keep only this task")
    p.add_argument(
        "--num-samples",
        type=int,
        help="sample exactly this many records (paper A.3: 80000 NER, 50000 RE, 9991 EE)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument(
        "--stage",
        choices=("sa", "cm"),
        default="sa",
        help="prompt template stage (default sa: DE starts from the SA checkpoint)",
    )
    p.add_argument("--split", default="train", help="verl extra_info.split (default train)")
    p.add_argument("--prompt-key", default="prompt", help="easyr1 prompt column (data.prompt_key)")
    p.add_argument("--answer-key", default="answer", help="easyr1 answer column (data.answer_key)")
    add_allow_empty(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in args.input:
        check_input(path)
    check_output_file(args.out, args.input)
    report = export(
        args.target,
        args.input,
        args.out,
        task=args.task,
        num_samples=args.num_samples,
        seed=args.seed,
        stage=args.stage,
        split=args.split,
        prompt_key=args.prompt_key,
        answer_key=args.answer_key,
        allow_empty=args.allow_empty,
    )
    print(report.summary())
    if args.target == "easyr1":
        print(
            f"  EasyR1: data.train_files={report.path} data.prompt_key={args.prompt_key} "
            f"data.answer_key={args.answer_key} data.format_prompt=templates/{FORMAT_PROMPT}"
        )
    else:
        print(f"  verl: data.train_files={report.path} (reward: rewards/sfr_verl.py)")
    return 0
