"""IEPile raw jsonl: NER ``entity``, RE ``relation``, EE ``event`` lists beside ``text``.

IEPile files carry no schema: the labels are those given, else every label of the file in order of
first appearance (one extra streaming pass).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prouie.readers.base import (
    DATASET,
    TASK,
    Format,
    Option,
    ReadStats,
    as_object,
    guarded,
    record_id,
    register,
    take,
)
from prouie.records import Example, RecordError, iter_json_lines, new_example

# The list key of each task and, per item, the key of its label.
_KEYS = {
    "ner": ("entity", "entity_type"),
    "re": ("relation", "relation"),
    "ee": ("event", "event_type"),
}


def _task_of(raw: Any) -> str | None:
    if isinstance(raw, dict):
        for task, (key, _) in _KEYS.items():
            if key in raw:
                return task
    return None


def _first_pass_labels(path: Path, task: str) -> tuple[list[str], list[str]]:
    """Labels (and roles) of a file in order of first appearance; malformed rows are left to build."""
    labels: dict[str, None] = {}
    roles: dict[str, None] = {}
    key, label_key = _KEYS[task]
    for _, raw in iter_json_lines(path):
        items = raw.get(key) if isinstance(raw, dict) else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and isinstance(item.get(label_key), str):
                labels.setdefault(item[label_key])
                args = item.get("arguments") if task == "ee" else None
                for a in args if isinstance(args, list) else ():
                    if isinstance(a, dict) and isinstance(a.get("role"), str):
                        roles.setdefault(a["role"])
    return list(labels), list(roles)


def _span(text: str) -> dict:
    return {"text": text, "type": "", "start": None, "end": None}


def _build(task: str, raw: Any, where: str, ex: Example) -> None:
    if task == "ner":
        for j, e in enumerate(take(raw, "entity", where, "entity", list)):
            ex["entities"].append(
                {
                    "type": take(e, "entity_type", where, ("entity[{}].entity_type", j)),
                    "text": take(e, "entity", where, ("entity[{}].entity", j)),
                    "start": None,
                    "end": None,
                }
            )
    elif task == "re":
        for j, r in enumerate(take(raw, "relation", where, "relation", list)):
            ex["relations"].append(
                {
                    "type": take(r, "relation", where, ("relation[{}].relation", j)),
                    "head": _span(take(r, "head", where, ("relation[{}].head", j))),
                    "tail": _span(take(r, "tail", where, ("relation[{}].tail", j))),
                }
            )
    else:
        for j, ev in enumerate(take(raw, "event", where, "event", list)):
            ev = as_object(ev, where, ("event[{}]", j))
            args = [
                {
                    "role": take(a, "role", where, ("event[{}].arguments[{}].role", j, k)),
                    "text": take(a, "argument", where, ("event[{}].arguments[{}].argument", j, k)),
                    "start": None,
                    "end": None,
                }
                for k, a in enumerate(_list_or_none(ev, "arguments", where, ("event[{}]", j)))
            ]
            trigger = take(ev, "event_trigger", where, ("event[{}].event_trigger", j))
            ex["events"].append(
                {
                    "type": take(ev, "event_type", where, ("event[{}].event_type", j)),
                    "trigger": {"text": trigger, "start": None, "end": None},
                    "arguments": args,
                }
            )


def _list_or_none(obj: dict, key: str, where: str, parent: tuple) -> list:
    """An optional list field: ``[]`` when absent or null, else checked to be a list."""
    if obj.get(key) is None:
        return []
    return take(obj, key, where, (parent[0] + "." + key, *parent[1:]), list)


def read_iepile(
    path: str | Path,
    *,
    task: str | None = None,
    dataset: str | None = None,
    labels: list[str] | None = None,
    roles: list[str] | None = None,
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Read IEPile raw jsonl (NER ``entity``, RE ``relation``, EE ``event``)."""
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    if task is None:
        for where, raw in iter_json_lines(path):
            task = _task_of(raw)
            if task is None:
                raise RecordError(
                    where, "entity/relation/event", "none of them is present; pass --task"
                )
            break
        else:
            return
    if labels is None:
        labels, found_roles = _first_pass_labels(path, task)
        roles = roles if roles is not None else found_roles
    ds = dataset or path.stem
    roles = roles or []

    def build(where: str, raw: Any, i: int) -> Example:
        text = take(raw, "text", where, "text")
        ex = new_example(
            id=record_id(raw, where, f"{ds}-{i}"),
            dataset=ds,
            task=task,
            text=text,
            labels=labels,
            roles=roles if task == "ee" else [],
        )
        _build(task, raw, where, ex)
        return ex

    yield from guarded(iter_json_lines(path), build, stats, on_error)


def _comma_list(value: str) -> list[str]:
    return [x.strip() for x in value.split(",") if x.strip()]


register(
    Format(
        "iepile",
        read_iepile,
        "IEPile raw jsonl (entity / relation / event lists)",
        (
            TASK,
            DATASET,
            Option(
                "labels",
                "comma-separated label schema (default: labels of the file, in order)",
                parse=_comma_list,
            ),
        ),
    )
)
