"""Deep Exploration (DE) phase plan: DE_ner -> DE_re -> DE_ee (paper Eq. 1, Appendix A.3).

The plan is data (``recipes/de_trl.yaml``): per phase the task, the rollouts per prompt
(``num_generations``: 4 / 8 / 8), the epochs (2 / 3 / 3) and the paper's instance count
(80,000 / 50,000 / 9,991); then the GRPO arguments shared by the phases and the SFR options. Each
phase starts from the previous phase's output (the first from the SA checkpoint) and writes its
model to ``<output_dir>/<n>_<task>``. This module only plans; :mod:`prouie.integrations.trl` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

PAPER_PHASES = ("ner", "re", "ee")
DEFAULT_RECIPE = "de_trl.yaml"


@dataclass(frozen=True)
class Phase:
    """One GRPO phase of the recipe."""

    task: str
    num_generations: int
    num_train_epochs: float
    num_samples: int | None = None


@dataclass(frozen=True)
class DERecipe:
    """Phases in order, GRPO arguments shared by every phase, SFR options."""

    phases: tuple[Phase, ...]
    grpo: dict[str, Any] = field(default_factory=dict)
    reward: dict[str, Any] = field(default_factory=dict)


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
    try:
        path = Path(str(resources.files("prouie.recipes") / DEFAULT_RECIPE))
        if path.is_file():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "recipes" / DEFAULT_RECIPE


def load_recipe(path: str | Path | None = None) -> DERecipe:
    """Read a DE recipe YAML; errors name the file and the field."""
    import yaml

    path = Path(path) if path else default_recipe_path()
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a DE recipe must be a mapping")
    unknown = set(raw) - {"phases", "grpo", "reward"}
    if unknown:
        raise ValueError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
    phases_raw = raw.get("phases")
    if not isinstance(phases_raw, list) or not phases_raw:
        raise ValueError(f"{path}: field 'phases' must be a non-empty list")
    phases = []
    for i, ph in enumerate(phases_raw):
        where = f"{path}: field 'phases[{i}]"
        if not isinstance(ph, dict):
            raise ValueError(f"{where}' must be a mapping")
        extra = set(ph) - {"task", "num_generations", "num_train_epochs", "num_samples"}
        if extra:
            raise ValueError(f"{where}' has unknown key(s) {', '.join(sorted(extra))}")
        task = ph.get("task")
        if task not in ("ner", "re", "ee", "slot"):
            raise ValueError(f"{where}.task' must be ner, re, ee or slot, got {task!r}")
        n = ph.get("num_generations")
        if not isinstance(n, int) or n < 2:
            raise ValueError(f"{where}.num_generations' must be an integer >= 2 (GRPO), got {n!r}")
        epochs = ph.get("num_train_epochs")
        if not isinstance(epochs, int | float) or epochs <= 0:
            raise ValueError(f"{where}.num_train_epochs' must be a positive number, got {epochs!r}")
        samples = ph.get("num_samples")
        if samples is not None and (not isinstance(samples, int) or samples <= 0):
            raise ValueError(f"{where}.num_samples' must be a positive integer, got {samples!r}")
        phases.append(Phase(task, n, epochs, samples))
    tasks = [p.task for p in phases]
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"{path}: field 'phases' names a task twice: {tasks}")
    for key in ("grpo", "reward"):
        if not isinstance(raw.get(key) or {}, dict):
            raise ValueError(f"{path}: field '{key}' must be a mapping")
    return DERecipe(tuple(phases), dict(raw.get("grpo") or {}), dict(raw.get("reward") or {}))


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
