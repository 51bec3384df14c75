"""Raw IE data -> LLaMA-Factory alpaca files + dataset_info.json entries, or canonical records.

Writes go to temporary files that replace their targets only when the whole input has been read,
so an error part-way leaves every existing file as it was and nothing half-written behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from prouie.paths import AtomicFiles, atomic_files, atomic_open
from prouie.readers import ReadStats
from prouie.records import Example, RecordError, load_json, read_text
from prouie.targets import instruction_for, render_target, round_trips

ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}


@dataclass
class PrepareReport:
    """Counts for the one-line summary and the files written."""

    stats: ReadStats
    written: int = 0
    clashes: int = 0
    clash_ids: list[str] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)

    def summary(self, what: str) -> str:
        line = (
            f"{what}: {self.written} records written to {len(self.files)} file(s), "
            f"{self.stats.skipped} skipped, {self.stats.located} spans located, "
            f"{self.clashes} round-trip clashes"
        )
        if self.clash_ids:
            line += f" (e.g. {', '.join(self.clash_ids[:5])})"
        return line


def progress(items: Iterable[Example], desc: str) -> Iterator[Example]:
    """A tqdm progress bar on a terminal, nothing when output is redirected."""
    from tqdm import tqdm

    return iter(tqdm(items, desc=desc, unit=" rec", disable=None, mininterval=0.5))


def entry_name(stage: str, task: str, dataset: str = "prouie", split: str | None = None) -> str:
    """The one naming scheme of dataset_info.json entries: ``<dataset>_<stage>_<task>[_<split>]``.

    ``prouie plan`` names its stage mixes with the default dataset (``prouie_cm_phase2_re``, the
    names the recipes use); ``prouie prepare`` names its files after the source dataset. The name is
    made filesystem-safe because it is also a file name.

    >>> entry_name("cm_phase2", "re")
    'prouie_cm_phase2_re'
    >>> entry_name("sa", "ner", "CoNLL 2003", "test")
    'CoNLL_2003_sa_ner_test'
    """
    name = "_".join([dataset or "data", stage, task] + ([split] if split else []))
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _prepared_name(ex: Example, stage: str, split: str | None) -> str:
    split = split or (ex.get("meta") or {}).get("split")
    return entry_name(stage, ex["task"], ex.get("dataset") or "data", split)


def update_dataset_info(
    out_dir: Path, entries: dict[str, dict[str, Any]], outs: AtomicFiles | None = None
) -> Path:
    """Add or replace entries in ``out_dir/dataset_info.json``, keeping every other entry.

    ``outs``: the atomic group of the files the entries name, so that the index and its files
    are replaced together; without it the index is replaced on its own.
    """
    path = out_dir / "dataset_info.json"
    info = read_dataset_info(path)
    info.update(entries)
    text = json.dumps(info, indent=2, ensure_ascii=False) + "\n"
    if outs is not None:
        outs.get(path.name).write(text)
    else:
        with atomic_open(path) as fh:
            fh.write(text)
    return path


def read_dataset_info(path: Path) -> dict[str, Any]:
    """The entries of an existing dataset_info.json (``{}`` when there is none); read before any
    output is written, so a broken one stops the run with nothing changed."""
    if not path.exists():
        return {}
    info = load_json(path) if read_text(path).strip() else {}
    if not isinstance(info, dict):
        raise RecordError(str(path), "<file>", "must hold a JSON object of dataset entries")
    return info


def prepare_alpaca(
    records: Iterable[Example],
    out_dir: str | Path,
    stage: str,
    stats: ReadStats,
    *,
    split: str | None = None,
    name: str | None = None,
) -> PrepareReport:
    """Write alpaca jsonl (``instruction``, ``input``, ``output``) per dataset/task/split and register them.

    Records whose target cannot round-trip (a separator inside a value) are written unchanged and
    counted, never altered.
    """
    out = Path(out_dir)
    report = PrepareReport(stats)
    names: dict[tuple, str] = {}
    # Consecutive records nearly always share one schema: encode its instruction once.
    schema: tuple = ()
    head = ""
    with atomic_files(out) as outs:
        for ex in records:
            task = ex["task"]
            defs = ex["meta"].get("definitions") if task == "slot" else None
            current = (task, ex["labels"], ex["roles"], defs)
            if current != schema:
                schema = current
                # The row is assembled from JSON-encoded pieces (same bytes as json.dumps of the
                # dict) so the long instruction is encoded once per schema, not once per record:
                # with json.dumps of each row, prepare ran at 3.2x its baseline instead of 2.3x
                # (benchmarks/prepare_throughput.py, median of 5; target at most 3).
                head = (
                    '{"instruction": '
                    + encode_basestring(instruction_for(ex, stage))
                    + ', "input": '
                )
            key = (ex.get("dataset"), ex["task"], split or (ex.get("meta") or {}).get("split"))
            fname = names.get(key)
            if fname is None:
                fname = names[key] = (name or _prepared_name(ex, stage, split)) + ".jsonl"
                if list(names.values()).count(fname) > 1:
                    raise ValueError(
                        f"--name {name!r} would be shared by several datasets; leave it out"
                    )
            target = render_target(ex, stage)
            if not round_trips(ex, stage, target):
                report.clashes += 1
                if len(report.clash_ids) < 20:
                    report.clash_ids.append(str(ex.get("id")))
            outs.get(fname).write(
                head
                + encode_basestring(ex["text"])
                + ', "output": '
                + encode_basestring(target)
                + "}\n"
            )
            report.written += 1
            report.files[fname] = report.files.get(fname, 0) + 1
        entries = {
            fname[: -len(".jsonl")]: {
                "file_name": fname,
                "formatting": "alpaca",
                "columns": dict(ALPACA_COLUMNS),
            }
            for fname in report.files
        }
        if entries:
            update_dataset_info(out, entries, outs)
    return report


def convert_records(
    records: Iterable[Example], out_file: str | Path, stats: ReadStats
) -> PrepareReport:
    """Write canonical records as jsonl (for the registered converters, LDA and RL export)."""
    out_file = Path(out_file)
    report = PrepareReport(stats)
    with atomic_files(out_file.parent if str(out_file.parent) else Path(".")) as outs:
        fh = outs.get(out_file.name)
        for ex in records:
            if not round_trips(ex, "cm"):
                report.clashes += 1
                if len(report.clash_ids) < 20:
                    report.clash_ids.append(str(ex.get("id")))
            fh.write(json.dumps(ex, ensure_ascii=False) + "\n")
            report.written += 1
        report.files[out_file.name] = report.written
    return report
