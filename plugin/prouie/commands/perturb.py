"""``prouie perturb``: RUIE-Bench perturbations of canonical records (rule-based and LLM-based)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prouie.commands._input import add_input_args, open_input, print_skipped
from prouie.commands._served import add_served_args, client_options


def register(subparsers: argparse._SubParsersAction) -> None:
    from prouie.robust.kinds import TYPES

    p = subparsers.add_parser(
        "perturb",
        help="make perturbed copies of records (typos, lowercase, LLM rewrites) for robustness",
        description="Append perturbed records (gold spans kept exact, meta.parent_id and "
        "meta.perturbation set) to --out. The run is resumable and idempotent by record id, "
        "type and seed: rerunning skips what is already written. LLM types ask an "
        "OpenAI-compatible server (--base-url; key from the environment variable named by "
        "--api-key-env) and cache its answers in SQLite. Types: " + ", ".join(TYPES) + ".",
    )
    add_input_args(p)
    p.add_argument("--out", type=Path, required=True, help="output jsonl (appended)")
    p.add_argument(
        "--types",
        default="all",
        help="comma-separated types, or the groups all (default), rule, llm",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random choices (default 0)")
    p.add_argument(
        "--rejects", type=Path, help="rejected LLM answers (default: <out>.rejects.jsonl)"
    )
    p.add_argument("--summary", type=Path, help="also write the per-type summary as JSON")
    p.add_argument("--typo-rate", type=float, default=0.2, help="share of long words with a typo")
    p.add_argument("--typo-min-length", type=int, default=5, help="letters of a long word")
    p.add_argument(
        "--typo-in-spans",
        action="store_true",
        help="also put typos inside gold spans (the gold strings carry them)",
    )
    llm = p.add_argument_group("LLM (OpenAI-compatible server)")
    llm.add_argument("--model", help="model name the server knows")
    add_served_args(llm, timeout=120.0)
    llm.add_argument("--temperature", type=float, default=0.7)
    llm.add_argument("--max-tokens", type=int, default=512)
    llm.add_argument("--cache", type=Path, help="SQLite answer cache (default: <out>.cache.sqlite)")
    llm.add_argument(
        "--no-response-format",
        action="store_true",
        help="do not send the JSON schema as response_format (for servers that reject it)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prouie.readers import ReadStats
    from prouie.report import write_json
    from prouie.robust.kinds import LLM_TYPES, parse_types
    from prouie.robust.perturb import RuleOptions, perturb

    types = parse_types(args.types)
    if not 0 < args.typo_rate <= 1:
        raise ValueError(f"--typo-rate must be in (0, 1], got {args.typo_rate}")
    if args.typo_min_length < 3:
        raise ValueError(f"--typo-min-length must be at least 3, got {args.typo_min_length}")
    client = None
    if any(t in LLM_TYPES for t in types):
        if not args.base_url or not args.model:
            raise ValueError("LLM-based types need --base-url and --model (or choose --types rule)")
        from prouie.integrations.openai_client import ChatClient

        out: Path = args.out
        client = ChatClient(
            args.base_url,
            args.model,
            **client_options(args),
            cache_path=args.cache or out.with_name(out.name + ".cache.sqlite"),
            temperature=args.temperature,
            max_tokens=args.max_tokens,
        )
    stats = ReadStats()
    try:
        summary = perturb(
            open_input(args, stats),
            types,
            args.seed,
            args.out,
            rejects=args.rejects,
            client=client,
            response_format=not args.no_response_format,
            rule_options=RuleOptions(args.typo_rate, args.typo_min_length, args.typo_in_spans),
            progress=not args.quiet,
        )
    finally:
        if client is not None:
            client.close()
    print_skipped(stats)
    table = {kind: s.as_dict() for kind, s in summary.items()}
    for kind, s in table.items():
        rejected = ", ".join(f"{r}: {n}" for r, n in s["rejected"].items()) or "none"
        failed = ", ".join(f"{r}: {n}" for r, n in s["failed"].items()) or "none"
        print(
            f"{kind}: eligible {s['eligible']}, produced {s['produced']}, already done "
            f"{s['already_done']}, rejected {sum(s['rejected'].values())} ({rejected}), failed "
            f"requests {sum(s['failed'].values())} ({failed}), requests {s['requests']}, cached "
            f"{s['cached']}, tokens {s['prompt_tokens']}+{s['completion_tokens']}, not applicable "
            f"{s['not_applicable']}, nothing to perturb {s['nothing_to_perturb']}",
            file=sys.stderr,
        )
    if args.summary:
        write_json(table, args.summary)
    print(f"perturbed records appended to {args.out}", file=sys.stderr)
    return 0
