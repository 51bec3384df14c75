"""Deep Exploration (DE) data: canonical records -> EasyR1 jsonl, verl parquet, TRL rows.

Every row pairs the prompt the SFT stages trained on with the SFR ground truth:

- prompt: the stage's instruction (``templates/sa_<task>.jinja`` by default: DE starts from the SA
  checkpoint), a newline, then the input text, which is exactly the user turn LLaMA-Factory built
  from the alpaca row (``instruction + "\\n" + input``);
- ground truth: :func:`prouie.sfr.encode_ground_truth` (task, labels, roles, input text, gold
  units), since EasyR1 hands the reward function nothing else.

EasyR1 rows: ``{"prompt": ..., "answer": ...}`` (``data.prompt_key`` / ``data.answer_key``), used
with ``data.format_prompt=templates/rl_format.jinja``, which passes the prompt through unchanged.
verl rows: ``data_source``, ``prompt`` (chat messages), ``ability``, ``reward_model`` (``style``
``rule``, ``ground_truth``) and ``extra_info``, as in verl's ``examples/data_preprocess``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prouie.paths import atomic_open, atomic_path
from prouie.records import Example, RecordError, iter_jsonl
from prouie.sfr import encode_ground_truth
from prouie.targets import STAGES, instruction_for, round_trips

TARGETS = ("easyr1", "verl")
ABILITY = "information_extraction"
# The format prompt EasyR1 renders around each prompt (``data.format_prompt``).
FORMAT_PROMPT = "rl_format.jinja"


def rl_prompt(ex: Example, stage: str = "sa") -> str:
    """The user turn of a record: the stage's instruction, a newline, the input text.

    >>> ex = {"task": "re", "labels": ["used for"], "text": "our algorithm uses a surface"}
    >>> rl_prompt(ex).endswith("concise output with no empty fields. The user input is:\\n"
    ...                        "our algorithm uses a surface")
    True
    """
    return instruction_for(ex, stage) + "\n" + ex["text"]


def easyr1_row(
    ex: Example, stage: str = "sa", prompt_key: str = "prompt", answer_key: str = "answer"
) -> dict[str, str]:
    """One EasyR1 jsonl row: prompt text and the ground-truth JSON string."""
    return {prompt_key: rl_prompt(ex, stage), answer_key: encode_ground_truth(ex)}


def data_source(ex: Example) -> str:
    """verl's ``data_source`` of a record: ``prouie/<task>/<dataset>`` (verl groups validation
    metrics by it, so every dataset gets its own reward curve)."""
    return f"prouie/{ex['task']}/{ex.get('dataset') or 'unknown'}"


def verl_row(ex: Example, index: int, stage: str = "sa", split: str = "train") -> dict[str, Any]:
    """One verl parquet row (``reward_model.ground_truth`` is the SFR ground truth)."""
    return {
        "data_source": data_source(ex),
        "prompt": [{"role": "user", "content": rl_prompt(ex, stage)}],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": encode_ground_truth(ex)},
        "extra_info": {
            "split": split,
            "index": index,
            "id": str(ex.get("id", "")),
            "task": ex["task"],
            "dataset": str(ex.get("dataset") or ""),
        },
    }


def trl_row(ex: Example, stage: str = "sa") -> dict[str, Any]:
    """One TRL GRPO row: a conversational ``prompt`` and the ``ground_truth`` column the SFR
    reward reads (plus ``task``, which lets per-task rewards skip other rows)."""
    return {
        "prompt": [{"role": "user", "content": rl_prompt(ex, stage)}],
        "ground_truth": encode_ground_truth(ex),
        "task": ex["task"],
    }


@dataclass
class ExportReport:
    """What an export wrote."""

    path: Path
    rows: int = 0
    tasks: Counter = field(default_factory=Counter)
    not_round_trip: int = 0
    available: int = 0

    def summary(self) -> str:
        tasks = ", ".join(f"{t} {n}" for t, n in sorted(self.tasks.items()))
        lines = [f"export-rl: wrote {self.rows} rows ({tasks}) to {self.path}"]
        if self.available > self.rows:
            lines.append(f"  sampled {self.rows} of {self.available} records")
        if self.not_round_trip:
            lines.append(
                f"  {self.not_round_trip} records hold a separator inside a value: their target "
                "text cannot express every gold unit, so even a perfect output scores below 1"
            )
        return "\n".join(lines)


def load_records(
    paths: Sequence[str | Path],
    task: str | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    *,
    allow_empty: bool = False,
) -> tuple[list[Example], int]:
    """Records of ``paths`` (of one ``task`` when given), sampled without replacement to exactly
    ``num_samples`` with ``seed``; returns the records and how many were available. No records is
    an error unless ``allow_empty``."""
    records = [ex for p in paths for ex in iter_jsonl(p) if task is None or ex["task"] == task]
    available = len(records)
    if num_samples is not None:
        if num_samples <= 0:
            raise ValueError(f"--num-samples must be positive, got {num_samples}")
        if num_samples > available:
            what = f"{task} records" if task else "records"
            raise ValueError(
                f"asked for {num_samples} samples but {', '.join(map(str, paths))} hold only "
                f"{available} {what}"
            )
        records = random.Random(seed).sample(records, num_samples)
    if not records and not allow_empty:
        what = f"no {task} records" if task else "no records"
        raise RecordError(
            ", ".join(map(str, paths)),
            "task",
            f"{what} to export; pass --allow-empty to accept that",
        )
    return records, available


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")


def export_easyr1(
    records: Iterable[Example],
    out: str | Path,
    stage: str = "sa",
    prompt_key: str = "prompt",
    answer_key: str = "answer",
) -> ExportReport:
    """Write EasyR1 jsonl (``data.train_files``)."""
    _check_stage(stage)
    out = Path(out)
    report = ExportReport(out)
    with atomic_open(out) as fh:
        for ex in _counted(records, report):
            row = easyr1_row(ex, stage, prompt_key, answer_key)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return report


def export_verl(
    records: Iterable[Example], out: str | Path, stage: str = "sa", split: str = "train"
) -> ExportReport:
    """Write verl parquet (``data.train_files``) with pyarrow."""
    _check_stage(stage)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("writing verl parquet needs pyarrow: pip install 'prouie[verl]'") from exc
    out = Path(out)
    report = ExportReport(out)
    rows = [verl_row(ex, i, stage, split) for i, ex in enumerate(_counted(records, report))]
    with atomic_path(out) as tmp:
        pq.write_table(pa.Table.from_pylist(rows), tmp)
    return report


def _counted(records: Iterable[Example], report: ExportReport) -> Iterator[Example]:
    for ex in records:
        report.rows += 1
        report.tasks[ex["task"]] += 1
        if not round_trips(ex, "sa"):
            report.not_round_trip += 1
        yield ex


def export(
    target: str,
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    task: str | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    stage: str = "sa",
    split: str = "train",
    prompt_key: str = "prompt",
    answer_key: str = "answer",
    allow_empty: bool = False,
) -> ExportReport:
    """Read canonical records and write them for ``target`` (``easyr1`` or ``verl``).

    Every input is read before the output is touched, and the output is replaced through a
    temporary file, so a failed export leaves an existing output byte-identical.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    records, available = load_records(paths, task, num_samples, seed, allow_empty=allow_empty)
    if target == "easyr1":
        report = export_easyr1(records, out, stage, prompt_key, answer_key)
    else:
        report = export_verl(records, out, stage, split)
    report.available = available
    return report
