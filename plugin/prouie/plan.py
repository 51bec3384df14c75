"""Stage mixes of the paper (A.3, Table 9) as exact LLaMA-Factory sample counts.

The paper trains CM phase 1 on NER only (845,646 instances), phase 2 on NER:RE = 2:8 (44,951 +
179,794), phase 3 on NER:RE:EE = 3:3:4 (7,494 + 7,494 + 9,991) and SA on RE:EE = 1:1 (9,000 +
9,000, streamlined targets). :func:`plan_stage` turns a stage and the number of records a user
has per task into per-task counts that keep the stated ratio exactly, and :func:`write_plan`
writes them as ``num_samples`` of ``dataset_info.json`` entries whose names the recipes use.

How LLaMA-Factory (0.9.5, ``data/loader.py``) applies ``num_samples``, per dataset entry and
before datasets are merged: a random permutation of the entry's rows cut to ``num_samples``
(without replacement); when ``num_samples`` exceeds the rows, every row once and the rest drawn
with replacement. The permutation uses numpy's global generator, seeded from ``seed`` before data
loading, so every process draws the same rows. ``max_samples`` then truncates each entry again
(the recipes leave it unset), ``streaming`` ignores ``num_samples`` (unset), and
``mix_strategy: concat`` (the default, set explicitly in the recipes) concatenates the entries
as they are, so the counts reach the trainer unchanged; the ``interleave_*`` strategies would
resample them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from math import floor, gcd
from pathlib import Path
from typing import Any

from prouie.prepare import entry_name
from prouie.records import RecordError, iter_json_lines, iter_rows, load_json

TASK_NAMES = {"ner": "NER", "re": "RE", "ee": "EE"}


@dataclass(frozen=True)
class StageSpec:
    """One training stage of the paper: its tasks, stated ratio and instance counts."""

    name: str
    render: str  # "cm" (every key) or "sa" (no empty keys)
    tasks: tuple[str, ...]
    ratio: tuple[int, ...]
    paper_counts: tuple[int, ...]

    @property
    def reduced(self) -> tuple[int, ...]:
        """The ratio in lowest terms (2:8 -> 1:4): one mix unit."""
        g = 0
        for r in self.ratio:
            g = gcd(g, r)
        return tuple(r // g for r in self.ratio)

    @property
    def paper_unit(self) -> int:
        """Largest number of units whose counts stay within every paper count.

        The paper's counts are close to, not exactly, the stated ratios (44,951:179,794 is
        2:7.9996; 7,494:7,494:9,991 is 3:3:3.9996); the plan keeps the ratio exact.
        """
        return min(c // r for c, r in zip(self.paper_counts, self.reduced, strict=True))

    @property
    def ratio_text(self) -> str:
        return ":".join(str(r) for r in self.ratio)

    @property
    def tasks_text(self) -> str:
        return ":".join(TASK_NAMES[t] for t in self.tasks)

    @property
    def recipe(self) -> str:
        return f"recipes/{self.name}.yaml"


STAGES: tuple[StageSpec, ...] = (
    StageSpec("cm_phase1", "cm", ("ner",), (1,), (845_646,)),
    StageSpec("cm_phase2", "cm", ("ner", "re"), (2, 8), (44_951, 179_794)),
    StageSpec("cm_phase3", "cm", ("ner", "re", "ee"), (3, 3, 4), (7_494, 7_494, 9_991)),
    StageSpec("sa", "sa", ("re", "ee"), (1, 1), (9_000, 9_000)),
)
STAGE_BY_NAME = {s.name: s for s in STAGES}


@dataclass
class StagePlan:
    """Counts for one stage and what the planner did to reach them."""

    spec: StageSpec
    available: dict[str, int]
    counts: dict[str, int]
    unit: int
    target_unit: int
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def achieved(self) -> tuple[int, ...]:
        """The counts' ratio in lowest terms, written on the stated ratio's scale (2:8, not 1:4)."""
        counts = [self.counts[t] for t in self.spec.tasks]
        g = 0
        for c in counts:
            g = gcd(g, c)
        lowest = [c // g for c in counts]
        stated_gcd = 0
        for r in self.spec.ratio:
            stated_gcd = gcd(stated_gcd, r)
        if tuple(lowest) == self.spec.reduced:
            return tuple(c * stated_gcd for c in lowest)
        return tuple(lowest)

    @property
    def exact(self) -> bool:
        """Whether the counts are exactly in the stated ratio."""
        return self.achieved == self.spec.ratio

    def entries(self) -> dict[str, int]:
        """entry name -> num_samples."""
        return {entry_name(self.spec.name, t): self.counts[t] for t in self.spec.tasks}


def plan_stage(
    spec: StageSpec, available: dict[str, int], *, scale: float = 1.0, oversample: bool = False
) -> StagePlan:
    """Per-task sample counts for ``spec`` given the records available per task.

    The mix is a whole number of units of the stated ratio in lowest terms (2:8 -> 1 NER + 4 RE),
    so the ratio holds exactly. The target is the paper's mix (``paper_unit`` units) times
    ``scale``. When a task has fewer records than the target needs, the whole mix shrinks to the
    largest number of units every task can fill without repeating a record, and a note says so;
    with ``oversample`` the target stays and LLaMA-Factory repeats records instead.

    >>> p = plan_stage(STAGE_BY_NAME["cm_phase2"], {"ner": 10**6, "re": 10**6})
    >>> p.counts, p.achieved
    ({'ner': 44948, 're': 179792}, (2, 8))
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    missing = [t for t in spec.tasks if available.get(t, 0) <= 0]
    if missing:
        names = ", ".join(TASK_NAMES[t] for t in missing)
        raise ValueError(f"{spec.name} needs {spec.tasks_text} data but has no {names} records")
    reduced = spec.reduced
    target_unit = floor(spec.paper_unit * scale)
    notes: list[str] = []
    paper = dict(zip(spec.tasks, spec.paper_counts, strict=True))
    exact_paper = {t: spec.paper_unit * r for t, r in zip(spec.tasks, reduced, strict=True)}
    if exact_paper != paper:
        notes.append(
            "the paper's counts ("
            + " + ".join(f"{paper[t]:,}" for t in spec.tasks)
            + f") are not exactly {spec.ratio_text}; the exact {spec.ratio_text} mix closest below "
            "them is " + " + ".join(f"{exact_paper[t]:,}" for t in spec.tasks)
        )
    if scale != 1.0:
        notes.append(
            f"--scale {scale:g}: target {target_unit:,} units instead of {spec.paper_unit:,}"
        )
    if target_unit == 0:
        raise ValueError(
            f"{spec.name}: --scale {scale:g} leaves no data (less than one {spec.ratio_text} unit)"
        )

    avail_unit = min(available[t] // r for t, r in zip(spec.tasks, reduced, strict=True))
    unit = target_unit
    if avail_unit < target_unit:

        def need(tasks: Iterable[str]) -> str:
            return ", ".join(
                f"{TASK_NAMES[t]} has {available[t]:,} records, the mix needs {target_unit * r:,}"
                for t, r in zip(spec.tasks, reduced, strict=True)
                if t in tasks
            )

        short = [
            t for t, r in zip(spec.tasks, reduced, strict=True) if available[t] < target_unit * r
        ]
        binding = [
            t for t, r in zip(spec.tasks, reduced, strict=True) if available[t] // r == avail_unit
        ]
        if oversample:
            notes.append(
                f"--oversample: {need(short)}; LLaMA-Factory takes every record once and draws "
                "the rest with replacement"
            )
        elif avail_unit == 0:
            raise ValueError(
                f"{spec.name}: too little data for one {spec.ratio_text} unit "
                f"({spec.tasks_text} = " + ":".join(str(r) for r in reduced) + f"): {need(binding)}"
            )
        else:
            unit = avail_unit
            if len(spec.tasks) == 1:
                notes.append(f"{need(binding)}: all of them are used")
            else:
                notes.append(
                    f"scaled the whole mix down to {unit:,} of {target_unit:,} units "
                    f"({100 * unit / target_unit:.3g}%) to keep {spec.ratio_text} exact without "
                    f"repeating records: {need(binding)}"
                )
    counts = {t: unit * r for t, r in zip(spec.tasks, reduced, strict=True)}
    return StagePlan(spec, dict(available), counts, unit, target_unit, notes)


# ----------------------------------------------------------------------------- sources


@dataclass
class Source:
    """One input file: canonical records or a prepared alpaca file, and its row count."""

    path: Path
    kind: str  # "records" or "alpaca"
    rows: int


def _first_object(path: Path) -> tuple[str, Any]:
    """The first JSON object of a .jsonl file (or of a .json array) and where it is."""
    if path.suffix == ".json":
        data = load_json(path)
        if not isinstance(data, list):
            raise RecordError(
                str(path), "<file>", "a .json data file must hold a JSON array of rows"
            )
        if not data:
            raise RecordError(str(path), "<file>", "is empty")
        return f"{path}[0]", data[0]
    for where, obj in iter_json_lines(path):
        return where, obj
    raise RecordError(str(path), "<file>", "is empty")


def count_alpaca(path: Path) -> int:
    """Rows of a prepared alpaca file; each needs string ``instruction`` and ``output``."""
    n = 0
    for where, row in iter_rows(path):
        if not isinstance(row, dict):
            raise RecordError(where, "<row>", "must be a JSON object")
        for key in ("instruction", "output"):
            if not isinstance(row.get(key), str):
                raise RecordError(
                    where, key, "must be a string (an alpaca row from `prouie prepare`)"
                )
        n += 1
    return n


def load_source(path: str | Path, task: str) -> Source:
    """Inspect an input file: canonical records of ``task`` (checked in full) or alpaca rows."""
    from prouie.integrations.llamafactory import check_loadable

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix not in (".jsonl", ".json"):
        raise ValueError(f"{path}: expected a .jsonl (or .json) file")
    where, first = _first_object(path)
    if isinstance(first, dict) and "task" in first and "text" in first:
        if path.suffix != ".jsonl":
            raise ValueError(f"{path}: canonical records must be a .jsonl file")
        rows = check_loadable(path, task=task)
        return Source(path, "records", rows)
    if isinstance(first, dict) and "instruction" in first and "output" in first:
        return Source(path, "alpaca", count_alpaca(path))
    raise RecordError(
        where,
        "<row>",
        "is neither a canonical record (task, text, labels, ...) nor an alpaca row "
        "(instruction, input, output)",
    )


# ----------------------------------------------------------------------------- writing


def _formatting(sources: list[Source], task: str, render: str) -> dict[str, Any]:
    from prouie.integrations.llamafactory import formatting_name
    from prouie.prepare import ALPACA_COLUMNS

    kinds = {s.kind for s in sources}
    if len(kinds) > 1:
        raise ValueError(
            f"{TASK_NAMES[task]} inputs mix canonical records and alpaca files "
            f"({', '.join(str(s.path) for s in sources)}); give one kind per task"
        )
    if kinds == {"records"}:
        return {"formatting": formatting_name(task, render)}
    return {"formatting": "alpaca", "columns": dict(ALPACA_COLUMNS)}


def _path_from(out_dir: Path, path: Path) -> str:
    """``path`` as LLaMA-Factory should see it from ``dataset_dir``: relative inside it, else absolute."""
    path, out = path.resolve(), out_dir.resolve()
    return os.path.relpath(path, out) if path.is_relative_to(out) else str(path)


def _file_name(sources: list[Source], out_dir: Path, link_dir: str) -> str:
    """``file_name`` for an entry: the file itself, or a folder of links when there are several.

    LLaMA-Factory reads every file of a folder named as ``file_name`` into one dataset, so
    ``num_samples`` counts over all of a task's files together.
    """
    if len(sources) == 1:
        return _path_from(out_dir, sources[0].path)
    folder = out_dir / "prouie_sources" / link_dir
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(sources):
        link = folder / f"{i:02d}-{s.path.name}"
        try:
            link.symlink_to(s.path.resolve())
        except OSError:  # no symlinks on this filesystem: copy instead
            import shutil

            shutil.copyfile(s.path, link)
    return _path_from(out_dir, folder)


@dataclass
class Plan:
    """A whole plan: one :class:`StagePlan` per stage, and where each task's data comes from."""

    stages: list[StagePlan]
    sources: dict[tuple[str, str], list[Source]]  # (render stage, task) -> files

    def dataset_info(self, out_dir: str | Path) -> dict[str, dict[str, Any]]:
        """dataset_info.json entries for every stage (creates link folders for multi-file tasks)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files: dict[tuple[str, str], dict[str, Any]] = {}
        entries: dict[str, dict[str, Any]] = {}
        for sp in self.stages:
            for task in sp.spec.tasks:
                key = (sp.spec.render, task)
                if key not in files:
                    sources = self.sources[key]
                    files[key] = {
                        "file_name": _file_name(sources, out, f"{key[0]}_{task}"),
                        **_formatting(sources, task, key[0]),
                    }
                entries[entry_name(sp.spec.name, task)] = {
                    **files[key],
                    "num_samples": sp.counts[task],
                }
        return entries


def make_plan(
    inputs: dict[str, list[str | Path]],
    sa_inputs: dict[str, list[str | Path]] | None = None,
    *,
    stages: Iterable[str] | None = None,
    scale: float = 1.0,
    oversample: bool = False,
) -> Plan:
    """Plan the stages from input files per task (``{"ner": [...], "re": [...], "ee": [...]}``).

    CM phases read ``inputs``. SA reads ``sa_inputs`` for a task when given, else ``inputs``;
    canonical records serve both (the converter renders SA), prepared alpaca files do not (their
    targets are fixed at CM or SA when ``prouie prepare`` wrote them), so alpaca inputs need SA
    files of their own.
    """
    sa_inputs = sa_inputs or {}
    names = list(stages) if stages is not None else [s.name for s in STAGES]
    unknown = [n for n in names if n not in STAGE_BY_NAME]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; expected {', '.join(STAGE_BY_NAME)}")
    loaded: dict[tuple[str, str], Source] = {}

    def sources_for(paths: list[str | Path], task: str) -> list[Source]:
        out = []
        resolved = [Path(p).resolve() for p in paths]
        for p, r in zip(paths, resolved, strict=True):
            if resolved.count(r) > 1:
                raise ValueError(f"{p} is given twice for {TASK_NAMES[task]}")
            key = (str(r), task)
            if key not in loaded:
                loaded[key] = load_source(p, task)
            out.append(loaded[key])
        return out

    plans: list[StagePlan] = []
    sources: dict[tuple[str, str], list[Source]] = {}
    for name in names:
        spec = STAGE_BY_NAME[name]
        available: dict[str, int] = {}
        for task in spec.tasks:
            key = (spec.render, task)
            if key not in sources:
                paths = (sa_inputs.get(task) if spec.render == "sa" else None) or inputs.get(task)
                if not paths:
                    flag = f"--{task}" + (f" (or --sa-{task})" if spec.render == "sa" else "")
                    raise ValueError(
                        f"{spec.name} needs {TASK_NAMES[task]} data: pass {flag}, or leave the "
                        f"stage out with --stages"
                    )
                srcs = sources_for(paths, task)
                if (
                    spec.render == "sa"
                    and not sa_inputs.get(task)
                    and any(s.kind == "alpaca" for s in srcs)
                ):
                    raise ValueError(
                        f"sa needs {TASK_NAMES[task]} data with SA targets: --{task} gives prepared "
                        f"alpaca files (CM targets); pass --sa-{task} with the files of "
                        "`prouie prepare --stage sa`, or canonical records"
                    )
                sources[key] = srcs
            available[task] = sum(s.rows for s in sources[key])
        plans.append(plan_stage(spec, available, scale=scale, oversample=oversample))
    return Plan(plans, sources)


def write_plan(plan: Plan, out_dir: str | Path) -> Path:
    """Add the plan's entries to ``out_dir/dataset_info.json`` (other entries are kept)."""
    from prouie.prepare import update_dataset_info

    return update_dataset_info(Path(out_dir), plan.dataset_info(out_dir))


def format_plan(plan: Plan) -> str:
    """The plan as text: per stage its entries, counts, records available and achieved ratio."""
    lines = []
    for sp in plan.stages:
        spec = sp.spec
        mix = (
            f"{spec.tasks_text} only"
            if len(spec.tasks) == 1
            else f"{spec.tasks_text} = {spec.ratio_text}"
        )
        lines.append(f"{spec.name} ({spec.recipe}, {spec.render.upper()} targets): {mix}")
        for task in spec.tasks:
            kinds = {s.kind for s in plan.sources.get((spec.render, task), [])}
            kind = f" [{'/'.join(sorted(kinds))}]" if kinds else ""
            n, avail = sp.counts[task], sp.available[task]
            how = "with repeats" if n > avail else "without replacement"
            lines.append(
                f"  {entry_name(spec.name, task):<24} {TASK_NAMES[task]:<3} "
                f"num_samples {n:>9,} of {avail:>9,} records{kind} ({how})"
            )
        achieved = ":".join(str(a) for a in sp.achieved)
        counts = ":".join(f"{sp.counts[t]:,}" for t in spec.tasks)
        verdict = "exact" if sp.exact else f"NOT {spec.ratio_text}"
        if len(spec.tasks) == 1:
            lines.append(f"  total {sp.total:,}")
        else:
            lines.append(f"  total {sp.total:,}; achieved {counts} = {achieved} ({verdict})")
        for note in sp.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines)
