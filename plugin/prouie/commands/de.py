"""``prouie de``: the Deep Exploration phases on TRL's GRPOTrainer with the SFR reward.

The phases, their rollouts per prompt, epochs and sample counts come from ``recipes/de_trl.yaml``
(paper A.3); each phase starts from the previous phase's model. This is the path that needs no GPU
(a small model on a CPU); the paper-scale runs use EasyR1 or verl (``recipes/de_*.yaml``,
``recipes/de_easyr1.sh``, ``recipes/de_verl.sh``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from prouie.de import PAPER_PHASES, load_recipe, phase_rows, plan
from prouie.report import write_json


def _key_value(text: str) -> tuple[str, Any]:
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "de",
        help="run the DE phases (GRPO with SFR) on TRL's GRPOTrainer",
        description="Deep Exploration: GRPO phases NER -> RE -> EE with the Stepwise Fine-grained "
        "Reward, each starting from the previous phase's model, on TRL's GRPOTrainer.",
    )
    p.add_argument("--model", required=True, help="starting model folder (the SA checkpoint)")
    for task in PAPER_PHASES:
        p.add_argument(f"--{task}", metavar="RECORDS.jsonl", help=f"records of the {task} phase")
    p.add_argument("--output-dir", required=True, help="one sub-folder per phase is written here")
    p.add_argument("--recipe", help="DE recipe YAML (default: recipes/de_trl.yaml)")
    p.add_argument(
        "--phases",
        help="comma-separated subset of the recipe's phases, run in recipe order (default: all)",
    )
    p.add_argument("--max-steps", type=int, help="stop every phase after this many steps")
    p.add_argument(
        "--num-samples", type=int, help="prompts per phase (default: the recipe's paper counts)"
    )
    p.add_argument("--variant", help="SFR variant: sfr, coarse or fine (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0, help="sampling and training seed (default 0)")
    p.add_argument(
        "--grpo",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="override a trl.GRPOConfig argument of the recipe (repeatable; YAML values)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prouie.integrations.trl import SFRReward, phase_config, run_grpo_phase

    recipe = load_recipe(args.recipe)
    data = {t: getattr(args, t) for t in PAPER_PHASES if getattr(args, t)}
    phases = [s.strip() for s in args.phases.split(",") if s.strip()] if args.phases else None
    planned = plan(recipe, args.model, data, args.output_dir, phases, args.max_steps)
    reward_options = dict(recipe.reward)
    if args.variant:
        reward_options["variant"] = args.variant
    reward = SFRReward(**reward_options)
    grpo = {**recipe.grpo, **dict(args.grpo)}
    for step in planned:  # TRL's parser checks every phase's arguments before any model loads
        phase_config(
            step.output_dir,
            step.phase.num_generations,
            step.phase.num_train_epochs,
            grpo,
            step.max_steps,
            args.seed,
        )

    manifest: dict[str, Any] = {"model": args.model, "reward": reward_options, "phases": []}
    for step in planned:
        ph = step.phase
        num_samples = args.num_samples or ph.num_samples
        rows, available = phase_rows(step.data, ph.task, num_samples, args.seed)
        print(
            f"DE phase {step.index} ({ph.task}): {len(rows)} of {available} prompts, "
            f"{ph.num_generations} rollouts each, {ph.num_train_epochs} epochs"
            + (f", at most {step.max_steps} steps" if step.max_steps else "")
            + f"; {step.model_in} -> {step.output_dir}",
            flush=True,
        )
        history = run_grpo_phase(
            step.model_in,
            rows,
            step.output_dir,
            num_generations=ph.num_generations,
            num_train_epochs=ph.num_train_epochs,
            reward=reward,
            grpo_args=grpo,
            max_steps=step.max_steps,
            seed=args.seed,
        )
        steps = max((h.get("step", 0) for h in history), default=0)
        manifest["phases"].append(
            {
                "index": step.index,
                "task": ph.task,
                "model_in": step.model_in,
                "output_dir": step.output_dir,
                "num_generations": ph.num_generations,
                "num_train_epochs": ph.num_train_epochs,
                "prompts": len(rows),
                "steps": steps,
            }
        )
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(manifest, out / "de_manifest.json")
    final = planned[-1].output_dir if planned else args.model
    print(f"DE done: final model {final} (manifest {out / 'de_manifest.json'})")
    return 0
