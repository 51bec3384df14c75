"""From prediction files to scores: reading, joining to records, parsing and scoring.

Two prediction formats are read, line by line (the format is told apart per line):

- ``prouie predict`` output: ``{"id", "dataset", "task", "prompt", "prediction", "reference",
  "record"}``, where ``record`` is the canonical record (gold annotations, labels, roles, text), so
  the file needs nothing else;
- LLaMA-Factory's ``generated_predictions.jsonl`` (``do_predict`` or ``scripts/vllm_infer.py``):
  ``{"prompt", "predict", "label"}``. When the prompt was rendered from one of prouie's templates,
  :func:`prouie.prompts.read_prompt` recovers the task, labels, roles and input text from it and
  the gold units are parsed from ``label`` (the target text): the file alone is enough. With
  canonical records (:class:`RecordIndex`), each row is joined to its record by ``id`` when the row
  has one, else by input text (and label list, since one sentence often sits in several data sets),
  never by line order; a file that covers only some of the records scores those.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from prouie.generation import cut_at_stop, stop_strings
from prouie.metrics import Evaluator
from prouie.parsing import Parsed, parse_output
from prouie.prompts import PromptReader, PromptSchema
from prouie.record_index import RecordIndex
from prouie.records import TASKS, Example, RecordError, iter_json_lines, validate_example
from prouie.units import Units, units_from_example


@dataclass(slots=True)
class Item:
    """One prediction with its record; ``where`` is ``file:line`` of the prediction. ``label`` is
    set when the gold units come from the prediction's own target text (a LLaMA-Factory row read
    without records) rather than from the record's annotations."""

    where: str
    record: Example
    prediction: str
    label: str | None = None


def take_record(
    index: RecordIndex, where: str, row: dict[str, Any], schema: PromptSchema | None
) -> Example:
    """The record of a LLaMA-Factory row: by its ``id`` if it has one, else by the input text of
    its prompt (records sharing a text: the one with the prompt's task and labels first)."""
    rid = row.get("id")
    if rid is not None and str(rid) in index.by_id:
        rec = index.by_id[str(rid)][1]
        index.mark(where, rec, "prompt")
        return rec
    if schema is None:
        raise RecordError(
            where,
            "prompt",
            "is not one of prouie's CM/SA templates (built-in or from $PROUIE_TEMPLATE_DIR) "
            "and the row has no record 'id', so no record can be found for it",
        )
    return index.take_by_text(where, schema.text, partial(_states, schema), "prompt")


def _states(schema: PromptSchema, rec: Example) -> bool:
    """Whether a prompt's schema is the record's (a NER-shaped prompt may be a slot record's:
    the two templates are the same words)."""
    tasks = (schema.task, "slot") if schema.task == "ner" else (schema.task,)
    return rec["task"] in tasks and tuple(rec["labels"]) == schema.labels


def default_dataset(path: str | Path) -> str:
    """The data set name of a predictions file that carries none: the run folder of a
    ``generated_predictions.jsonl`` (LLaMA-Factory's ``output_dir``), else the file's stem."""
    path = Path(path)
    if path.name == "generated_predictions.jsonl" and path.parent.name:
        return path.parent.name
    return path.stem


_STOPS = sorted({s for fmt in ("qwen3_nothink", "qwen") for s in stop_strings(fmt)})


def read_predictions(
    path: str | Path,
    records: RecordIndex | str | Path | None = None,
    *,
    dataset: str | None = None,
    shared_task: str = "ner",
) -> Iterator[Item]:
    """Stream the predictions of ``path`` with their records (see the module docstring).

    ``records`` (a :class:`RecordIndex` or a records jsonl) joins LLaMA-Factory rows to canonical
    records; without it their prompt and label are read. ``dataset`` names the data set of those
    rows (default: :func:`default_dataset`); ``shared_task`` is the task of prompts the NER and slot
    templates share. Errors name the file, the line and the field.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"predictions file not found: {path}")
    if isinstance(records, (str, Path)):
        records = RecordIndex.from_files([records])
    name = dataset or default_dataset(path)
    prompts = PromptReader(shared_task)
    # orjson: a fifth of the reading time of a predictions file (benchmarks/evaluate_cli.py).
    for where, row in iter_json_lines(path, orjson.loads):
        if not isinstance(row, dict):
            raise RecordError(where, "<line>", f"must be a JSON object, got {type(row).__name__}")
        if "record" in row and "prediction" in row:
            pred = _string(row, "prediction", where)
            rec = _record(row["record"], f"{where} (field 'record')")
            if records is not None:
                records.mark(where, rec)
            yield Item(where, rec, pred)
        elif "predict" in row:
            pred = cut_at_stop(_string(row, "predict", where), _STOPS)
            prompt = row.get("prompt")
            schema = prompts.read(prompt) if isinstance(prompt, str) else None
            if records is not None:
                yield Item(where, take_record(records, where, row, schema), pred)
            else:
                yield _from_prompt(where, row, schema, pred, name)
        else:
            raise RecordError(
                where,
                "prediction",
                "is missing: expected a prouie prediction {prediction, record, ...} or a "
                "LLaMA-Factory one {prompt, predict, label}",
            )


def _record(obj: Any, where: str) -> Example:
    """The canonical record a prediction row carries, checked.

    ``prouie predict`` wrote it from a checked record, so the top-level fields that decide how it
    is scored are checked here and the rest of the full shape check runs only when the record
    trips the label and offset checks (which always run; a part of the wrong type makes them
    raise). That checks 100,000 records of the sample data in 0.48-0.57 s instead of 0.67-0.81 s,
    a twentieth of the whole command, which ``benchmarks/evaluate_cli.py`` holds to at most
    twice its scoring core (measured 1.6-1.8x with it).
    """
    if (
        isinstance(obj, dict)
        and obj.get("task") in TASKS
        and isinstance(obj.get("text"), str)
        and isinstance(obj.get("dataset", ""), str)
        and _strings(obj.get("labels"))
        and _strings(obj.get("roles") or [])
    ):
        try:
            return validate_example(obj, where, shaped=True)
        except (KeyError, TypeError, AttributeError, IndexError):
            pass  # a malformed part: the full check below names it
    return validate_example(obj, where)


def _strings(values: Any) -> bool:
    """Whether ``values`` is a list of strings; ``str.join`` checks every item in C, the cheapest
    check of a long label list."""
    try:
        "".join(values)
    except TypeError:
        return False
    return isinstance(values, list)


def _string(row: dict[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise RecordError(where, key, f"must be a string, got {type(value).__name__}")
    return value


def _from_prompt(
    where: str, row: dict[str, Any], schema: PromptSchema | None, pred: str, dataset: str
) -> Item:
    """A LLaMA-Factory row scored on its own: schema and input from the prompt, gold from label."""
    if schema is None:
        raise RecordError(
            where,
            "prompt",
            "is not one of prouie's CM/SA templates (built-in or from $PROUIE_TEMPLATE_DIR), so "
            "it says neither task nor labels: pass the canonical records the evaluated data was "
            "made from (--records FILE)",
        )
    label = cut_at_stop(_string(row, "label", where), _STOPS)
    rec: Example = {
        "id": row.get("id") or where,
        "dataset": dataset,
        "task": schema.task,
        "text": schema.text,
        "labels": list(schema.labels),
        "roles": list(schema.roles),
    }
    return Item(where, rec, pred, label)


def parse_item(item: Item) -> tuple[Units, Parsed]:
    """The gold units of an item and its parsed prediction: what :func:`score_items` adds to an
    :class:`~prouie.metrics.Evaluator` (``Evaluator.add(dataset, gold, parsed)``), for callers
    that add one output to several evaluators."""
    rec = item.record
    schema = rec["task"], rec["labels"], rec.get("roles") or None, rec["text"]
    parsed = parse_output(item.prediction, *schema)
    if item.label is None:
        return units_from_example(rec), parsed
    return parse_output(item.label, *schema).units, parsed


def score_items(
    items: Iterable[Item],
    evaluator: Evaluator | None = None,
    *,
    loose_match: bool = False,
    progress: bool = False,
    total: int | None = None,
    details: bool = True,
) -> tuple[Evaluator, list[dict[str, Any]]]:
    """Parse and score every item into ``evaluator`` (a new one when None); returns it and, with
    ``details``, per-output details (``where``, ``id``, ``dataset``, ``task``, ``ok``, problems)
    for error analysis.
    """
    ev = evaluator if evaluator is not None else Evaluator(loose_match=loose_match)
    rows: list[dict[str, Any]] = []
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, total=total, desc="scoring", unit="output", mininterval=0.5)
    for item in items:
        rec = item.record
        gold, parsed = parse_item(item)
        ev.add(rec.get("dataset") or "", gold, parsed)
        if not details:
            continue
        rows.append(
            {
                "where": item.where,
                "id": rec.get("id"),
                "dataset": rec.get("dataset") or "",
                "task": rec["task"],
                "ok": parsed.ok,
                "problems": [[p.kind, p.key, p.detail] for p in parsed.problems],
            }
        )
    return ev, rows


def count_lines(path: str | Path) -> int:
    """Non-blank lines of a file (for progress totals)."""
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())
