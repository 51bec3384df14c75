"""From prediction files to scores: reading, joining to records, parsing and scoring.

Two prediction formats are read, line by line (the format is told apart per line):

- ``prouie predict`` output: ``{"id", "dataset", "task", "prompt", "prediction", "reference",
  "record"}``, where ``record`` is the canonical record (gold annotations, labels, roles, text), so
  the file needs nothing else;
- LLaMA-Factory's ``generated_predictions.jsonl`` (``do_predict`` or ``scripts/vllm_infer.py``):
  ``{"prompt", "predict", "label"}``. It carries no schema, so it is joined, line by line in order, to
  the canonical records the evaluated alpaca file was made from (``records``). Each joined pair is
  checked: the record's text must occur in the prompt (whitespace ignored, since decoding may clean
  up spaces), which catches files joined in the wrong order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prouie.metrics import Evaluator
from prouie.parsing import Parsed, parse_output
from prouie.records import Example, RecordError, iter_json_lines, validate_example
from prouie.units import Units, units_from_example


@dataclass(slots=True)
class Item:
    """One prediction joined to its record; ``where`` is ``file:line`` of the prediction."""

    where: str
    record: Example
    prediction: str


def _squash(s: str) -> str:
    return "".join(s.split())


def read_predictions(
    path: str | Path,
    records: str | Path | Iterable[Example] | None = None,
    *,
    check_alignment: bool = True,
) -> Iterator[Item]:
    """Stream the predictions of ``path`` joined to their records.

    ``records`` (a canonical records jsonl, or records) is required for LLaMA-Factory's
    ``generated_predictions.jsonl`` and joined by order; a ``prouie predict`` file carries its records.
    Errors name the file, the line and the field.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"predictions file not found: {path}")
    rec_iter: Iterator[tuple[str, Example]] | None = None
    if records is not None:
        if isinstance(records, (str, Path)):
            rpath = Path(records)
            if not rpath.exists():
                raise FileNotFoundError(f"records file not found: {rpath}")
            rec_iter = _numbered(rpath)
        else:
            rec_iter = (
                (f"records[{i}]", validate_example(r, f"records[{i}]"))
                for i, r in enumerate(records)
            )
    joined = 0
    for where, row in iter_json_lines(path):
        if not isinstance(row, dict):
            raise RecordError(where, "<line>", f"must be a JSON object, got {type(row).__name__}")
        if "record" in row and "prediction" in row:
            pred = row["prediction"]
            if not isinstance(pred, str):
                raise RecordError(
                    where, "prediction", f"must be a string, got {type(pred).__name__}"
                )
            rec = validate_example(row["record"], f"{where} (field 'record')")
            yield Item(where, rec, pred)
            continue
        if "predict" in row:
            pred = row["predict"]
            if not isinstance(pred, str):
                raise RecordError(where, "predict", f"must be a string, got {type(pred).__name__}")
            if rec_iter is None:
                raise RecordError(
                    where,
                    "record",
                    "a LLaMA-Factory prediction (prompt/predict/label) carries no schema; pass the "
                    "canonical records the evaluated data was made from, in the same order "
                    "(--records FILE)",
                )
            got = next(rec_iter, None)
            if got is None:
                raise RecordError(
                    where, "predict", f"more predictions than records ({joined} records)"
                )
            joined += 1
            rwhere, rec = got
            prompt = row.get("prompt")
            if (
                check_alignment
                and isinstance(prompt, str)
                and prompt
                and _squash(rec["text"]) not in _squash(prompt)
            ):
                raise RecordError(
                    where,
                    "prompt",
                    f"does not contain the text of the record joined to it ({rwhere}): the "
                    "predictions and records are not in the same order (or the prompt was "
                    "truncated; --no-check-alignment skips this check)",
                )
            yield Item(where, rec, pred)
            continue
        raise RecordError(
            where,
            "prediction",
            "is missing: expected a prouie prediction {prediction, record, ...} or a LLaMA-Factory "
            "one {prompt, predict, label}",
        )
    if rec_iter is not None and joined:
        left = next(rec_iter, None)
        if left is not None:
            raise RecordError(
                str(path),
                "predict",
                f"fewer predictions ({joined}) than records (first unused: {left[0]})",
            )


def _numbered(path: Path) -> Iterator[tuple[str, Example]]:
    for where, obj in iter_json_lines(path):
        yield where, validate_example(obj, where)


def score_items(
    items: Iterable[Item],
    evaluator: Evaluator | None = None,
    *,
    loose_match: bool = False,
    progress: bool = False,
    total: int | None = None,
) -> tuple[Evaluator, list[dict[str, Any]]]:
    """Parse and score every item into ``evaluator`` (a new one when None); returns it and
    per-output details (``where``, ``id``, ``dataset``, ``task``, ``ok``, problems) for error analysis.
    """
    ev = evaluator if evaluator is not None else Evaluator(loose_match=loose_match)
    details: list[dict[str, Any]] = []
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, total=total, desc="scoring", unit="output", mininterval=0.5)
    for item in items:
        rec = item.record
        gold, parsed = _gold_and_parsed(rec, item.prediction)
        ev.add(rec.get("dataset") or "", gold, parsed)
        details.append(
            {
                "where": item.where,
                "id": rec.get("id"),
                "dataset": rec.get("dataset") or "",
                "task": rec["task"],
                "ok": parsed.ok,
                "problems": [[p.kind, p.key, p.detail] for p in parsed.problems],
            }
        )
    return ev, details


def _gold_and_parsed(rec: Example, prediction: str) -> tuple[Units, Parsed]:
    task = rec["task"]
    parsed = parse_output(prediction, task, rec["labels"], rec.get("roles") or None, rec["text"])
    return units_from_example(rec), parsed


def count_lines(path: str | Path) -> int:
    """Non-blank lines of a file (for progress totals)."""
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())
