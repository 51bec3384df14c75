"""``prouie predict``: generate outputs for prepared data with vLLM, transformers or a served model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prouie.commands._served import add_served_args, client_options
from prouie.generation import BACKENDS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="generate model outputs for canonical records or alpaca data (input of prouie evaluate)",
        description="Generate answers with the training prompt format (LLaMA-Factory qwen3_nothink "
        "chat format, user turn = instruction + newline + input), greedy by default, and write a "
        "predictions jsonl that prouie evaluate scores without any other file.",
    )
    p.add_argument(
        "--model",
        required=True,
        help="model folder (or hub-style id already on disk); with --backend openai, the served "
        "model's name",
    )
    p.add_argument("--adapter", help="LoRA adapter folder (peft) to apply on top of --model")
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="canonical records jsonl, or an alpaca jsonl/json written by prouie prepare (then "
        "--records is required)",
    )
    p.add_argument(
        "--records", type=Path, help="canonical records an alpaca --data was made from (same order)"
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="predictions jsonl; appended to, so a restarted run answers only what is missing",
    )
    p.add_argument(
        "--stage",
        default="sa",
        choices=("cm", "sa"),
        help="instruction used for canonical records: cm (every key) or sa (concise; the stage DE "
        "starts from). Default: sa",
    )
    p.add_argument(
        "--chat-format",
        default="qwen3_nothink",
        choices=("qwen3_nothink", "qwen", "tokenizer", "none"),
        help="prompt wrapping: LLaMA-Factory's qwen3_nothink (default), the tokenizer's own chat "
        "template, or none",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="auto (vLLM when installed and a GPU is visible, else transformers), vllm, "
        "transformers, or openai (any OpenAI-compatible chat endpoint: --base-url)",
    )
    p.add_argument(
        "--constrained",
        action="store_true",
        help="hold every answer to the JSON Schema of its label list (keys = labels, string "
        "values; CM: all required)",
    )
    p.add_argument(
        "--max-value-chars",
        type=int,
        help="with --constrained: at most N characters per value, so that every answer closes "
        "within --max-new-tokens (default: no bound)",
    )
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--temperature", type=float, default=0.0, help="0 (default) is greedy decoding")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=8, help="transformers batch size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16")
    p.add_argument("--device", help="transformers device (default: cuda when visible, else cpu)")
    p.add_argument("--max-model-len", type=int, help="vLLM context length")
    p.add_argument("--limit", type=int, help="only the first N examples")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_served_args(p.add_argument_group("served model (--backend openai)"), timeout=60.0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prouie.generation import GenerationConfig, choose_backend
    from prouie.predict import (
        load_prompts,
        make_generator,
        predict,
    )

    for name in ("max_new_tokens", "batch_size", "concurrency"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    items = load_prompts(args.data, args.records, stage=args.stage, limit=args.limit)
    if not items:
        raise ValueError(f"{args.data}: no examples to predict")
    backend = choose_backend(args.backend)
    cfg = GenerationConfig(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    gen, chunk = make_generator(
        backend,
        args.model,
        cfg,
        chat_format=args.chat_format,
        adapter=args.adapter,
        dtype=args.dtype,
        device=args.device,
        max_model_len=args.max_model_len,
        base_url=args.base_url,
        client_options=client_options(args),
    )
    out, failed = predict(
        items,
        gen,
        args.out,
        cfg,
        constrained=args.constrained,
        max_value_chars=args.max_value_chars,
        progress=not args.quiet,
        chunk=chunk,
    )
    if failed:
        reasons = getattr(gen, "failures", None)
        print(
            f"{len(items) - failed} of {len(items)} prompts answered ({backend}); {failed} failed "
            f"after their retries{f' {reasons}' if reasons else ''} (rows with 'error' in {out}; "
            "run again to retry them)",
            file=sys.stderr,
        )
        return 1
    print(f"{len(items)} predictions ({backend}) written to {out}", file=sys.stderr)
    return 0
