"""Perturbing a set of records: the resumable, idempotent run behind ``prouie perturb``.

A job is (record, type, seed). Jobs are finished in input order (record by record, types in
canonical order) and each finished job is appended at once: a perturbed record to the output, a
rejected LLM answer to the rejects file. Because lines are only ever written in job order, a run
killed at any point leaves a prefix of the final files; a restart drops a torn last line, skips
every job already in either file (by parent id, type and seed) and continues, so the final files
equal those of an uninterrupted run. LLM answers come through the shared client with its SQLite
cache, so the restart asks again only what was never answered.

A job whose request failed (timeouts, 500s after the retries) writes nothing and is counted; the
next run retries it.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prouie.paths import repair_tail
from prouie.records import Example, RecordError, iter_json_lines
from prouie.robust import llm
from prouie.robust.kinds import APPLIES_TO, LLM_TYPES
from prouie.robust.rules import lowercase_edits, typo_edits
from prouie.robust.spans import apply_edits


@dataclass
class TypeSummary:
    """What happened to one perturbation type in a run.

    ``eligible == produced + sum(rejected) + sum(failed) + already_done``: every job that applies
    and has something to perturb ends in exactly one of these.
    """

    eligible: int = 0
    produced: int = 0
    already_done: int = 0
    not_applicable: int = 0
    nothing_to_perturb: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        out["rejected"] = dict(sorted(self.rejected.items()))
        out["failed"] = dict(sorted(self.failed.items()))
        return out


@dataclass(frozen=True)
class RuleOptions:
    """Settings of the rule-based types (Typo Injection)."""

    typo_rate: float = 0.2
    typo_min_length: int = 5
    typo_in_spans: bool = False


def job_key(parent_id: str, kind: str, seed: int) -> str:
    return f"{parent_id}\x1f{kind}\x1f{seed}"


def perturbed_id(parent_id: str, kind: str, seed: int) -> str:
    """The id of a perturbed record: unique per (parent, type, seed)."""
    return f"{parent_id}::{kind}::{seed}"


def _derive(child: Example, parent: Example, kind: str, seed: int) -> Example:
    child["id"] = perturbed_id(parent["id"], kind, seed)
    child["meta"] = {**parent.get("meta", {}), "parent_id": parent["id"], "perturbation": kind}
    child["meta"]["perturbation_seed"] = seed
    child["meta"].pop("located", None)  # offsets are ours now, none was located
    return child


def rule_perturb(
    record: Example, kind: str, seed: int, options: RuleOptions = RuleOptions()
) -> Example | None:
    """The rule-based perturbation ``kind`` of ``record`` for ``seed`` (None: nothing to change).

    Deterministic: the generator is seeded by the record id, the type and the seed.
    """
    rng = random.Random(f"{record['id']}|{kind}|{seed}")
    if kind == "typo_injection":
        edits = typo_edits(
            record,
            rng,
            rate=options.typo_rate,
            min_length=options.typo_min_length,
            inside_spans=options.typo_in_spans,
        )
    elif kind == "lowercase":
        edits = lowercase_edits(record)
    else:
        raise ValueError(f"not a rule-based perturbation type: {kind!r}")
    if not edits:
        return None
    return _derive(apply_edits(record, edits), record, kind, seed)


def done_keys(output: Path, rejects: Path) -> set[str]:
    """Keys of the jobs already written to the output or the rejects file."""
    keys = set()
    for path, fields in (
        (output, ("meta.parent_id", "meta.perturbation", "meta.perturbation_seed")),
        (rejects, ("parent_id", "perturbation", "seed")),
    ):
        if not path.exists():
            continue
        for where, row in iter_json_lines(path):
            values = []
            for name in fields:
                value = row
                for part in name.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if value is None:
                    raise RecordError(
                        where, name, "is missing: the file was not written by prouie perturb"
                    )
                values.append(value)
            keys.add(job_key(*values))
    return keys


@dataclass
class _Job:
    record: Example
    kind: str
    outcome: tuple[str, Any] | None = None  # ("record", rec) | ("reject", row) | ("none", None)
    plan: llm.Plan | None = None


def perturb(
    records: Iterable[Example],
    types: list[str],
    seed: int,
    output: str | Path,
    *,
    rejects: str | Path | None = None,
    client: Any = None,
    response_format: bool = True,
    rule_options: RuleOptions = RuleOptions(),
    progress: bool = False,
) -> dict[str, TypeSummary]:
    """Append the perturbations of ``records`` to ``output``; returns a summary per type.

    ``client`` (a :class:`prouie.integrations.openai_client.ChatClient`) is needed only for the
    LLM-based types; ``response_format`` sends each type's JSON schema with its requests (servers
    that reject the field need False). ``rejects`` defaults to ``<output stem>.rejects.jsonl``.
    """
    output = Path(output)
    rejects = Path(rejects) if rejects is not None else default_rejects(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    for path in (output, rejects):
        repair_tail(path)
    done = done_keys(output, rejects)
    summary = {kind: TypeSummary() for kind in types}
    if client is None and any(k in LLM_TYPES for k in types):
        raise ValueError("LLM-based perturbation types need --base-url and --model")

    jobs: list[_Job] = []
    seen: set[str] = set()
    for record in records:
        if record["id"] in seen:
            raise RecordError(
                f"input record {record['id']!r}",
                "id",
                "appears twice in the input; a resumable run needs unique ids",
            )
        seen.add(record["id"])
        for kind in types:
            s = summary[kind]
            if record["task"] not in APPLIES_TO[kind]:
                s.not_applicable += 1
                continue
            if job_key(record["id"], kind, seed) in done:
                s.eligible += 1
                s.already_done += 1
                continue
            job = _Job(record, kind)
            if kind in LLM_TYPES:
                job.plan = llm.plan(record, kind)
                if job.plan is None:
                    s.nothing_to_perturb += 1
                    continue
            else:
                child = rule_perturb(record, kind, seed, rule_options)
                if child is None:
                    s.nothing_to_perturb += 1
                    continue
                job.outcome = ("record", child)
            s.eligible += 1
            jobs.append(job)

    requests = (
        _request(i, job, response_format) for i, job in enumerate(jobs) if job.plan is not None
    )
    answers = client.complete(requests) if client is not None else iter(())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="perturb", unit="job", mininterval=0.5)
    with output.open("a", encoding="utf-8") as out, rejects.open("a", encoding="utf-8") as rej:
        for job in _in_order(jobs, answers, summary, seed):
            kind, value = job.outcome
            if kind == "record":
                out.write(json.dumps(value, ensure_ascii=False) + "\n")
                out.flush()
                summary[job.kind].produced += 1
            elif kind == "reject":
                rej.write(json.dumps(value, ensure_ascii=False) + "\n")
                rej.flush()
                summary[job.kind].rejected[value["reason"]] += 1
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    return summary


def default_rejects(output: Path) -> Path:
    return output.with_name(output.name.removesuffix(".jsonl") + ".rejects.jsonl")


def _request(index: int, job: _Job, response_format: bool) -> Any:
    from prouie.integrations.openai_client import ChatRequest

    assert job.plan is not None
    schema = llm.response_format(job.kind) if response_format else None
    return ChatRequest(index, llm.messages(job.plan), schema)


def _in_order(
    jobs: list[_Job], answers: Iterator[Any], summary: dict[str, TypeSummary], seed: int
) -> Iterator[_Job]:
    """Jobs in input order, each as soon as it and every job before it have an outcome."""
    next_index = 0
    for result in answers:
        job = jobs[result.key]
        s = summary[job.kind]
        s.requests += result.attempts
        s.cached += result.cached
        s.prompt_tokens += result.prompt_tokens
        s.completion_tokens += result.completion_tokens
        job.outcome = _judge(job, result, seed) if result.ok else ("none", None)
        if not result.ok:
            s.failed[result.error] += 1
        while next_index < len(jobs) and jobs[next_index].outcome is not None:
            yield jobs[next_index]
            next_index += 1
    for job in jobs[next_index:]:  # only rule jobs can be left: every request has an answer
        if job.outcome is not None:
            yield job


def _judge(job: _Job, result: Any, seed: int) -> tuple[str, Any]:
    """The outcome of an answered LLM job: a perturbed record or a reject row."""
    record = job.record
    assert job.plan is not None
    rng = random.Random(f"{record['id']}|{job.kind}|{seed}")
    try:
        child = llm.apply_answer(record, job.plan, result.text, rng)
    except llm.Rejected as exc:
        reject = {
            "parent_id": record["id"],
            "perturbation": job.kind,
            "seed": seed,
            "reason": exc.reason,
            "detail": exc.detail,
            "answer": result.text,
        }
        return "reject", reject
    return "record", _derive(child, record, job.kind, seed)
