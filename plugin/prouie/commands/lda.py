"""``prouie lda``: the Loss-guided Data Augmentation loop of Robust UIE (arXiv 2503.03201)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lda",
        help="loss-guided data augmentation: score, select the hardest, fine-tune, evaluate, repeat",
        description="Fine-tune on the original data, score every augmented sample by its loss, "
        "fine-tune (llamafactory-cli train) on the top beta of each (dataset, perturbation) group, "
        "evaluate on the validation set, halve beta and repeat until the validation F1 gains less "
        "than delta. A rerun with the same config resumes a stopped loop at its round.",
    )
    p.add_argument("--config", required=True, type=Path, help="LDA settings (recipes/lda.yaml)")
    p.add_argument(
        "--selection",
        choices=("loss", "random"),
        help="override the config: random is the paper's ablation (same budget, random samples)",
    )
    p.add_argument("--out", help="override the config's output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from prouie.robust.lda import LdaConfig

    if not args.config.exists():
        raise FileNotFoundError(f"config not found: {args.config}")
    try:
        raw = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{args.config}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(
            f"{args.config}: must hold a mapping of LDA settings (see recipes/lda.yaml)"
        )
    for key in ("selection", "out"):
        if getattr(args, key):
            raw[key] = getattr(args, key)
    cfg = LdaConfig.from_dict(raw, str(args.config))

    from prouie.integrations.lda_loop import run_loop

    try:
        state = run_loop(cfg)
    except RuntimeError as exc:  # a failed llamafactory-cli or scoring run: its log says why
        print(f"prouie lda: error: {exc}; rerun the same command to resume", file=sys.stderr)
        return 1
    print(Path(cfg.out, "lda_report.md").read_text(encoding="utf-8"))
    print(f"stopped: {state.stop_reason}; report in {cfg.out}/", file=sys.stderr)
    return 0
