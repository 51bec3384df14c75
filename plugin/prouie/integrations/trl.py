"""TRL glue: SFR as ``GRPOTrainer`` reward functions, and the DE phases on ``GRPOTrainer``.

A TRL reward function is called as ``f(prompts=..., completions=..., completion_ids=...,
**columns)`` where ``columns`` are the dataset's other columns (here ``ground_truth``, written by
:func:`prouie.rl_export.trl_row`) plus ``trainer_state``; it returns one float per completion, or
``None`` for a completion it does not score. Completions are strings, or lists of chat messages
when the prompts are conversational.

TRL is imported inside the functions that need it, so the reward callables work without TRL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prouie.sfr import config_from_kwargs, score_response


def completion_text(completion: Any) -> str:
    """The text of a completion: a string as is; for chat messages, the last assistant message's
    content (text parts joined when the content is a list of parts).

    >>> completion_text([{"role": "assistant", "content": '{"person": "Kevin"}'}])
    '{"person": "Kevin"}'
    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "{}"}]}])
    '{}'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, Mapping) and message.get("role", "assistant") == "assistant":
                content = message.get("content")
                if isinstance(content, str):
                    return content
                if isinstance(content, Sequence):
                    return "".join(
                        part.get("text", "")
                        for part in content
                        if isinstance(part, Mapping) and part.get("type", "text") == "text"
                    )
                return ""
    return ""


class SFRReward:
    """A configured SFR reward for ``GRPOTrainer(reward_funcs=[...])``.

    A class rather than a closure so that the configured reward pickles (TRL and ``accelerate``
    may copy reward functions into other processes). ``__name__`` names the reward in TRL's logs
    (``rewards/<name>/mean``). With ``task`` set, rows of other tasks get ``None`` (not scored by
    this function), which lets one run combine per-task variants.

    >>> gt = ('{"task": "ner", "labels": ["person"], "text": "Kevin", '
    ...       '"gold": {"pairs": [["person", "Kevin"]]}}')
    >>> SFRReward(variant="fine")(['{"person": "Kevin"}', "?"], ground_truth=[gt, gt])
    [1.0, 0.0]
    """

    def __init__(
        self,
        variant: str = "sfr",
        *,
        task: str | None = None,
        ground_truth_key: str = "ground_truth",
        name: str | None = None,
        **sfr_options: Any,
    ) -> None:
        self.config = config_from_kwargs(variant=variant, **sfr_options)
        self.task = task
        self.ground_truth_key = ground_truth_key
        default = "sfr" if self.config.variant == "sfr" else f"sfr_{self.config.variant}"
        self.__name__ = name or (f"{default}_{task}" if task else default)

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        if self.ground_truth_key not in kwargs:
            columns = sorted(
                k for k in kwargs if k not in ("prompts", "completion_ids", "trainer_state")
            )
            raise KeyError(
                f"SFR reward needs the dataset column {self.ground_truth_key!r} (write the data with "
                f"prouie.rl_export.trl_row); the dataset has: {', '.join(columns) or 'no columns'}"
            )
        scores: list[float | None] = []
        for completion, gt in zip(completions, kwargs[self.ground_truth_key], strict=True):
            result = score_response(completion_text(completion), gt, self.config)
            scores.append(None if self.task and result.task != self.task else result.score)
        return scores

    def __repr__(self) -> str:
        return f"SFRReward(name={self.__name__!r}, variant={self.config.variant!r}, task={self.task!r})"


def sfr_reward(
    completions: Sequence[Any], ground_truth: Sequence[Any], **kwargs: Any
) -> list[float | None]:
    """The paper's SFR with the A.3 defaults as a plain TRL reward function.

    >>> gt = ('{"task": "ner", "labels": ["person"], "text": "Kevin", '
    ...       '"gold": {"pairs": [["person", "Kevin"]]}}')
    >>> sfr_reward(['{"person": "Kevin"}'], ground_truth=[gt])
    [1.0]
    """
    return _DEFAULT(completions, ground_truth=ground_truth)


_DEFAULT = SFRReward()


# ----------------------------------------------------------------------------- DE phases


def import_grpo() -> tuple[type, type]:
    """``trl.GRPOConfig`` and ``trl.GRPOTrainer``.

    trl 0.24 stores the result of ``transformers.utils.import_utils._is_package_available(name)``
    as a flag, and transformers 5 returns a ``(found, version)`` tuple there, which is always true:
    trl then imports optional packages that are absent (``mergekit`` first) and GRPOTrainer fails
    to import. The flags are turned back into booleans before the trainer module loads.
    """
    try:
        import trl.import_utils as trl_imports
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("`prouie de` needs TRL: pip install trl") from exc
    for name, value in list(vars(trl_imports).items()):
        if name.startswith("_") and name.endswith("_available") and isinstance(value, tuple):
            setattr(trl_imports, name, bool(value[0]))
    from trl import GRPOConfig, GRPOTrainer

    return GRPOConfig, GRPOTrainer


def grpo_config(output_dir: str | Path, **args: Any) -> Any:
    """A ``trl.GRPOConfig`` built by TRL's own argument parser (``HfArgumentParser``).

    An unknown argument raises a ``ValueError`` that names it and suggests close matches; a bad
    value raises what ``GRPOConfig`` raises. ``prouie de`` calls this before the first phase, so
    a typo in a recipe fails before any model is loaded.

    >>> grpo_config("out", num_generations=4, lerning_rate=1e-6)
    Traceback (most recent call last):
    ...
    ValueError: unknown GRPO argument 'lerning_rate'; did you mean 'learning_rate', 'logging_strategy'?
    """
    import dataclasses

    from transformers import HfArgumentParser

    from prouie.settings import suggest

    config_class, _ = import_grpo()
    names = [f.name for f in dataclasses.fields(config_class) if f.init]
    for name in args:
        if name not in names:
            raise ValueError(f"unknown GRPO argument {name!r}" + suggest(name, names))
    (config,) = HfArgumentParser(config_class).parse_dict({**args, "output_dir": str(output_dir)})
    return config


def phase_config(
    output_dir: str | Path,
    num_generations: int,
    num_train_epochs: float,
    grpo_args: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    seed: int = 0,
) -> Any:
    """The ``trl.GRPOConfig`` of one DE phase: the recipe's GRPO arguments plus the phase's own."""
    return grpo_config(
        output_dir,
        **{"per_device_train_batch_size": num_generations, **(grpo_args or {})},
        num_generations=num_generations,
        num_train_epochs=num_train_epochs,
        max_steps=max_steps if max_steps is not None else -1,
        seed=seed,
    )


def run_grpo_phase(
    model: str,
    rows: list[dict[str, Any]],
    output_dir: str | Path,
    *,
    num_generations: int,
    num_train_epochs: float,
    reward: SFRReward,
    grpo_args: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Train one DE phase with ``trl.GRPOTrainer`` and save the model (and tokenizer) to
    ``output_dir``; returns the trainer's log history."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, GRPOTrainer = import_grpo()

    config = phase_config(output_dir, num_generations, num_train_epochs, grpo_args, max_steps, seed)
    tokenizer = AutoTokenizer.from_pretrained(model)
    policy = AutoModelForCausalLM.from_pretrained(model, **(config.model_init_kwargs or {}))
    if not hasattr(policy, "warnings_issued"):
        # trl 0.24's GRPOTrainer writes to ``model.warnings_issued``, which transformers 5 models
        # no longer have.
        policy.warnings_issued = {}
    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=[reward],
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    trainer.train()
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    history = list(trainer.state.log_history)
    Path(output_dir, "de_log_history.json").write_text(json.dumps(history, indent=1), "utf-8")
    return history
