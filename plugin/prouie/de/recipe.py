"""Deep Exploration (DE) phase plan: DE_ner -> DE_re -> DE_ee (paper Eq. 1, Appendix A.3).

The plan is data (``recipes/de_trl.yaml``): per phase the task, the rollouts per prompt
(``num_generations``: 4 / 8 / 8), the epochs (2 / 3 / 3) and the paper's instance count
(80,000 / 50,000 / 9,991); then the GRPO arguments shared by the phases and the SFR options. Each
phase starts from the previous phase's output (the first from the SA checkpoint) and writes its
model to ``<output_dir>/<n>_<task>``. This module only plans; :mod:`prouie.integrations.trl` runs.
"""

from __future__ import annotations

import random
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from prouie.paths import recipes_dir
from prouie.settings import describe
from prouie.sfr import config_from_kwargs

PAPER_PHASES = ("ner", "re", "ee")
DEFAULT_RECIPE = "de_trl.yaml"
_STRICT = ConfigDict(extra="forbid", frozen=True)


@dataclass(config=_STRICT)
class Phase:
    """One GRPO phase of the recipe."""

    task: Literal["ner", "re", "ee", "slot"]
    num_generations: Annotated[int, Strict(), Field(ge=2)]  # GRPO compares >= 2 rollouts
    num_train_epochs: Annotated[float, Strict(), Field(gt=0)]
    num_samples: Annotated[int, Strict(), Field(gt=0)] | None = None


@dataclass(config=_STRICT)
class DERecipe:
    """Phases in order, GRPO arguments shared by every phase, SFR options.

    The SFR options are checked here (:func:`prouie.sfr.config_from_kwargs`); the GRPO arguments
    by TRL's own parser when the run starts (:func:`prouie.integrations.trl.grpo_config`).
    """

    phases: Annotated[tuple[Phase, ...], Field(min_length=1)]
    grpo: dict[str, Any] = field(default_factory=dict)
    reward: dict[str, Any] = field(default_factory=dict)

    @field_validator("phases")
    @classmethod
    def _once_each(cls, phases: tuple[Phase, ...]) -> tuple[Phase, ...]:
        tasks = [p.task for p in phases]
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"a task comes twice: {tasks}")
        return phases

    @field_validator("reward")
    @classmethod
    def _sfr_options(cls, reward: dict[str, Any]) -> dict[str, Any]:
        config_from_kwargs(**reward)
        return reward


@dataclass(frozen=True)
class PlannedPhase:
    """A phase bound to its input model, data file and output folder."""

    index: int
    phase: Phase
    model_in: str
    data: str
    output_dir: str
    max_steps: int | None


def default_recipe_path() -> Path:
    """``recipes/de_trl.yaml`` as installed (``prouie.recipes``) or in a clone."""
    return recipes_dir() / DEFAULT_RECIPE


def load_recipe(path: str | Path | None = None) -> DERecipe:
    """Read a DE recipe YAML; an error names the file and the field (and close matches).

    >>> load_recipe().phases[0]
    Phase(task='ner', num_generations=4, num_train_epochs=2.0, num_samples=80000)
    """
    import yaml

    path = Path(path) if path else default_recipe_path()
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    try:
        return TypeAdapter(DERecipe).validate_python(raw)
    except ValidationError as exc:
        raise ValueError(f"{path}: {describe(exc, DERecipe, 'field')}") from None


def plan(
    recipe: DERecipe,
    model: str,
    data: dict[str, str],
    output_dir: str | Path,
    phases: list[str] | None = None,
    max_steps: int | None = None,
) -> list[PlannedPhase]:
    """Bind the recipe's phases (or the chosen subset, kept in recipe order) to models and folders.

    >>> r = DERecipe((Phase("ner", 4, 2), Phase("re", 8, 3), Phase("ee", 8, 3)))
    >>> [(p.phase.task, p.model_in) for p in plan(r, "sa", {"ner": "n", "re": "r", "ee": "e"}, "o")]
    [('ner', 'sa'), ('re', 'o/1_ner'), ('ee', 'o/2_re')]
    """
    wanted = list(phases) if phases else [p.task for p in recipe.phases]
    known = [p.task for p in recipe.phases]
    for task in wanted:
        if task not in known:
            raise ValueError(f"phase {task!r} is not in the recipe (phases: {', '.join(known)})")
    missing = [t for t in wanted if not data.get(t)]
    if missing:
        flags = " ".join(f"--{t} RECORDS.jsonl" for t in missing)
        raise ValueError(f"no data for phase(s) {', '.join(missing)}: pass {flags}")
    if max_steps is not None and max_steps <= 0:
        raise ValueError(f"--max-steps must be positive, got {max_steps}")
    out = []
    model_in = str(model)
    for phase in recipe.phases:
        if phase.task not in wanted:
            continue
        index = len(out) + 1
        output = str(Path(output_dir) / f"{index}_{phase.task}")
        out.append(PlannedPhase(index, phase, model_in, data[phase.task], output, max_steps))
        model_in = output
    return out


def phase_rows(
    records_path: str | Path, task: str, num_samples: int | None, seed: int, stage: str = "sa"
) -> tuple[list[dict[str, Any]], int]:
    """GRPO rows of one phase: the task's records, sampled to ``num_samples`` when there are more
    (fewer are all used: the paper's counts are for full-size data). Returns rows and availability."""
    from prouie.records import iter_jsonl
    from prouie.rl_export import trl_row

    records = [ex for ex in iter_jsonl(records_path) if ex["task"] == task]
    if not records:
        raise ValueError(f"{records_path}: no {task} records for the DE {task} phase")
    available = len(records)
    if num_samples is not None and num_samples < available:
        records = random.Random(seed).sample(records, num_samples)
    return [trl_row(ex, stage) for ex in records], available
