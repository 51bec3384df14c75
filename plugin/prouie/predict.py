"""Generation for evaluation: prompts from prepared data, answers from a backend, and the
resumable predictions file that ``prouie evaluate`` reads.

Decoding is greedy unless a temperature above 0 is given. The backends live in
:mod:`prouie.integrations` (``transformers_backend``, ``vllm_backend``, ``openai_backend``); what they
share (chat formats, prompts, stop strings, requests) is :mod:`prouie.generation`.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from prouie.generation import (
    Answer,
    GenerationConfig,
    Request,
    json_schema,
    user_turn,
)
from prouie.paths import atomic_open, repair_tail
from prouie.record_index import RecordIndex
from prouie.records import Example, RecordError, iter_rows, validate_example
from prouie.targets import STAGES, instruction_for, render_target


@dataclass(slots=True)
class PromptItem:
    """One generation job: the record (gold), the user turn, and where it came from."""

    where: str
    record: Example
    user: str
    reference: str
    stage: str = "sa"


def load_prompts(
    data: str | Path,
    records: str | Path | None = None,
    *,
    stage: str = "sa",
    limit: int | None = None,
) -> list[PromptItem]:
    """Generation jobs from canonical records (instruction rendered for ``stage``) or from an alpaca
    file (``instruction``/``input``/``output``) joined to the records it was made from by input text.

    Errors name the file, the line and the field.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    data = Path(data)
    if not data.exists():
        raise FileNotFoundError(f"data file not found: {data}")
    # Alpaca rows find their record by input text, so an alpaca file written per dataset/split
    # joins to one records file of them all.
    index = RecordIndex.from_files([records]) if records is not None else None
    items: list[PromptItem] = []
    for where, row in iter_rows(data):
        if limit is not None and len(items) >= limit:
            break
        if not isinstance(row, dict):
            raise RecordError(where, "<line>", f"must be a JSON object, got {type(row).__name__}")
        if "task" in row and "text" in row:
            ex = validate_example(row, where)
            items.append(
                PromptItem(
                    where,
                    ex,
                    user_turn(instruction_for(ex, stage), ex["text"]),
                    render_target(ex, stage),
                    stage,
                )
            )
            continue
        if "instruction" in row:
            if index is None:
                raise RecordError(
                    where,
                    "instruction",
                    "an alpaca row carries no gold schema; pass the canonical records it was made "
                    "from (--records FILE)",
                )
            for key in ("instruction", "input"):
                if not isinstance(row.get(key, ""), str):
                    raise RecordError(
                        where, key, f"must be a string, got {type(row[key]).__name__}"
                    )
            text = row.get("input", "")
            ex = index.take_by_text(where, text, partial(_instructs, row["instruction"]), "input")
            output = row.get("output")
            reference = output if isinstance(output, str) else render_target(ex, stage)
            row_stage = _stage_of(ex, row["instruction"], stage)
            items.append(
                PromptItem(where, ex, user_turn(row["instruction"], text), reference, row_stage)
            )
            continue
        raise RecordError(
            where,
            "task",
            "is missing: expected a canonical record {task, text, labels, ...} or an alpaca row "
            "{instruction, input, output}",
        )
    return items


def _instructs(instruction: str, ex: Example) -> bool:
    """Whether ``instruction`` is the record's, at any stage."""
    return any(instruction_for(ex, stage) == instruction for stage in STAGES)


def _stage_of(ex: Example, instruction: str, default: str) -> str:
    """The stage whose instruction an alpaca row carries (``default`` when neither matches)."""
    for stage in STAGES:
        if instruction_for(ex, stage) == instruction:
            return stage
    return default


def make_generator(
    backend: str,
    model: str,
    cfg: GenerationConfig,
    *,
    chat_format: str = "qwen3_nothink",
    adapter: str | None = None,
    dtype: str = "auto",
    device: str | None = None,
    max_model_len: int | None = None,
    base_url: str | None = None,
    client_options: dict[str, Any] | None = None,
) -> tuple[Any, int | None]:
    """The generator of ``backend`` (after :func:`choose_backend`) and the chunk size
    :func:`predict` hands it: the framework is imported here, from ``prouie.integrations``.

    vLLM schedules its own batches, so it gets large chunks (``cfg.batch_size`` is raised to
    match); the served backend gets 16 requests per slot of its concurrency.
    """
    if backend == "openai":
        from prouie.integrations.openai_backend import OpenAIGenerator

        if not base_url:
            raise ValueError("--backend openai needs --base-url (e.g. http://localhost:8000/v1)")
        options = client_options or {}
        gen = OpenAIGenerator(model, base_url=base_url, **options)
        return gen, 16 * options.get("concurrency", 8)
    if backend == "vllm":
        from prouie.integrations.vllm_backend import VllmGenerator

        cfg.batch_size = 4096
        gen = VllmGenerator(
            model,
            adapter=adapter,
            dtype=dtype,
            chat_format=chat_format,
            max_model_len=max_model_len,
            seed=cfg.seed,
        )
        return gen, cfg.batch_size
    from prouie.integrations.transformers_backend import TransformersGenerator

    gen = TransformersGenerator(
        model, adapter=adapter, dtype=dtype, device=device, chat_format=chat_format
    )
    return gen, None


def predict(
    items: Sequence[PromptItem],
    generator: Any,
    out: str | Path,
    cfg: GenerationConfig,
    *,
    constrained: bool = False,
    max_value_chars: int | None = None,
    progress: bool = True,
    chunk: int | None = None,
) -> tuple[Path, int]:
    """Answer every item and write the predictions jsonl (``prouie evaluate``'s input): ``id``,
    ``dataset``, ``task``, ``prompt``, ``prediction``, ``reference`` (the gold target text) and
    ``record`` (the canonical record, gold annotations and schema included). Returns the file and
    the number of requests that failed for good. ``constrained`` sends each prompt the
    :func:`json_schema` of its label list (values at most ``max_value_chars`` long when given).

    The file is appended to as answers arrive and is resumable: a run restarted on the same file
    sends only the prompts that have no answer there yet (a failed request leaves a row with
    ``error`` and is sent again). When every prompt has an answer the file is rewritten, through a
    temporary file, in input order, so an interrupted and restarted run ends with the same file as
    an uninterrupted one.

    ``generator`` has ``prompt(user) -> str`` and ``generate(requests, cfg) -> list[Answer]`` for one
    batch; a generator with ``stream(requests, cfg)`` yielding ``(index, answer)`` as answers
    arrive (the served backend, which runs requests concurrently) is given whole chunks.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    requests = [
        Request(
            generator.prompt(it.user),
            json_schema(it.record["labels"], it.stage, max_value_chars) if constrained else None,
        )
        for it in items
    ]
    todo = _unanswered([r.prompt for r in requests], out)
    step = chunk or max(cfg.batch_size, 1)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(items), initial=len(items) - len(todo), desc="generating", unit="prompt"
        )
    failed = 0
    with out.open("a", encoding="utf-8") as fh:
        for start in range(0, len(todo), step):
            idx = todo[start : start + step]
            for i, answer in _answers(generator, [requests[j] for j in idx], cfg):
                row = _row(items[idx[i]], requests[idx[i]].prompt, answer)
                failed += answer is None
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    if not failed:
        _rewrite_in_order([r.prompt for r in requests], out)
    return out, failed


def _answers(
    generator: Any, requests: list[Request], cfg: GenerationConfig
) -> Iterator[tuple[int, Answer]]:
    """``(index in requests, answer)`` pairs: streamed when the generator can, else by batches of
    similar length (less padding), in any order."""
    if hasattr(generator, "stream"):
        yield from generator.stream(requests, cfg)
        return
    order = sorted(range(len(requests)), key=lambda i: len(requests[i].prompt))
    size = max(cfg.batch_size, 1)
    for b in range(0, len(order), size):
        batch = order[b : b + size]
        answers = generator.generate([requests[i] for i in batch], cfg)
        yield from zip(batch, answers, strict=True)


def _row(item: PromptItem, prompt: str, answer: Answer) -> dict[str, Any]:
    rec = item.record
    row: dict[str, Any] = {
        "id": rec.get("id"),
        "dataset": rec.get("dataset", ""),
        "task": rec["task"],
        "prompt": prompt,
        "prediction": answer if answer is not None else "",
        "reference": item.reference,
        "record": rec,
    }
    if answer is None:
        row["error"] = "no answer (request failed after its retries)"
    return row


def _existing_rows(out: Path) -> tuple[list[dict[str, Any]], int]:
    """The rows of an existing predictions file that hold an answer, and how many rows it has.

    A line cut short by a killed run (the text after the last newline) is dropped and the file
    truncated to its last whole line. Any other line must be a prediction row: a file that is
    something else is never appended to or rewritten.
    """
    if not out.exists():
        return [], 0
    repair_tail(out)
    rows, total = [], 0
    for lineno, line in enumerate(out.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        total += 1
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
            raise RecordError(
                f"{out}:{lineno}",
                "prompt",
                "is missing: --out is not a predictions file; choose another path (a predictions "
                "file is appended to and resumed, never overwritten)",
            )
        if "error" not in row:
            rows.append(row)
    return rows, total


def _unanswered(prompts: list[str], out: Path) -> list[int]:
    """Indexes of the prompts that ``out`` holds no answer for (a prompt asked twice needs two).
    Failed rows are removed from the file first, so that their retry leaves one row per prompt."""
    rows, total = _existing_rows(out)
    if total != len(rows):
        _write_rows(out, rows)
    done = Counter(r["prompt"] for r in rows)
    todo = []
    for i, p in enumerate(prompts):
        if done[p] > 0:
            done[p] -= 1
        else:
            todo.append(i)
    return todo


def _rewrite_in_order(prompts: list[str], out: Path) -> None:
    """Put the rows of a complete run in input order (answers of a resumed or concurrent run arrive
    in any order)."""
    by_prompt: dict[str, deque[dict[str, Any]]] = {}
    for row in _existing_rows(out)[0]:
        by_prompt.setdefault(row["prompt"], deque()).append(row)
    _write_rows(out, [by_prompt[p].popleft() for p in prompts])


def _write_rows(out: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_open(out) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
