"""``prouie lda-score``: per-sample target loss of records (LDA's score), resumable, multi-process."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lda-score",
        help="score records by the model's mean target-token loss (LDA), jsonl beside each id",
        description="Score canonical records by the mean loss over their target tokens, on the "
        "token ids LLaMA-Factory trains on (its template). Appends {id, loss, tokens} lines to "
        "--out and skips ids already there. Launch with torchrun / accelerate launch to shard over "
        "processes (rank 0 merges).",
    )
    p.add_argument("--model", required=True, help="model folder")
    p.add_argument("--adapter", help="LoRA adapter folder, merged into --model for scoring")
    p.add_argument("--records", required=True, type=Path, help="canonical records jsonl")
    p.add_argument("--out", required=True, type=Path, help="scores jsonl (appended, resumed)")
    p.add_argument("--stage", default="cm", choices=("cm", "sa"), help="prompt/target stage")
    p.add_argument("--template", default="qwen3_nothink", help="LLaMA-Factory template name")
    p.add_argument("--cutoff-len", type=int, default=2048, help="LLaMA-Factory cutoff_len")
    p.add_argument("--backend", default="auto", choices=("auto", "transformers", "vllm"))
    p.add_argument("--batch-size", type=int, default=16, help="transformers batch size")
    p.add_argument("--max-batch-tokens", type=int, help="cap on padded tokens per batch")
    p.add_argument("--padding-side", default="right", choices=("left", "right"))
    p.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16")
    p.add_argument("--device", help="transformers device (default: cuda when visible, else cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prouie.integrations.loss_scoring import choose_backend, make_scorer, score_records
    from prouie.records import iter_jsonl

    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    if not args.records.exists():
        raise FileNotFoundError(f"records file not found: {args.records}")
    records = list(iter_jsonl(args.records))
    backend = choose_backend(args.backend)
    opts = {"template": args.template, "cutoff_len": args.cutoff_len, "dtype": args.dtype}
    if args.adapter:
        opts["adapter"] = args.adapter
    if backend == "transformers":
        opts.update(
            batch_size=args.batch_size,
            max_batch_tokens=args.max_batch_tokens,
            padding_side=args.padding_side,
            device=args.device,
        )
    scorer = make_scorer(args.model, backend, **opts)
    out = score_records(records, scorer, args.out, stage=args.stage, progress=not args.quiet)
    print(f"{len(records)} records scored ({backend}) in {out}", file=sys.stderr)
    return 0
