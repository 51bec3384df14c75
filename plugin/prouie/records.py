"""The canonical Example record, its validation and span location.

Every reader turns its source format into plain dicts of the shape below (plain dicts rather than
classes because they are written straight back to JSON and the conversion path is throughput-bound)::

    {"id", "dataset", "task": "ner"|"re"|"ee"|"slot", "text",
     "labels": [...], "roles": [...],                       # roles: ee only
     "entities":  [{"type", "text", "start", "end"}],       # slot values too (type = slot name)
     "relations": [{"type", "head": {"text", "type", "start", "end"}, "tail": {...}}],
     "events":    [{"type", "trigger": {"text", "start", "end"},
                    "arguments": [{"role", "text", "start", "end"}]}],
     "meta": {...}}

Offsets are character offsets into ``text`` with an exclusive end. When a source gives them, they
must select exactly the span text; when it does not, :func:`locate_spans` finds them (first
occurrence after the previous occurrence of the same string) and counts in ``meta["located"]`` how
many it located.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypedDict

TASKS = ("ner", "re", "ee", "slot")
Task = Literal["ner", "re", "ee", "slot"]


class Span(TypedDict, total=False):
    text: str
    type: str
    role: str
    start: int | None
    end: int | None


class Relation(TypedDict):
    type: str
    head: Span
    tail: Span


class Event(TypedDict):
    type: str
    trigger: Span
    arguments: list[Span]


class Example(TypedDict, total=False):
    id: str
    dataset: str
    task: Task
    text: str
    labels: list[str]
    roles: list[str]
    entities: list[Span]
    relations: list[Relation]
    events: list[Event]
    meta: dict[str, Any]


class RecordError(ValueError):
    """Malformed input data; the message names the file, the line (or index) and the field."""

    def __init__(self, where: str, field: str, problem: str) -> None:
        self.where = where
        self.field = field
        self.problem = problem
        super().__init__(f"{where}: field '{field}': {problem}")


def new_example(
    *,
    id: str,
    dataset: str,
    task: Task,
    text: str,
    labels: list[str],
    roles: list[str] | None = None,
    meta: dict[str, Any] | None = None,
) -> Example:
    """An empty Example of ``task`` with every list present.

    >>> new_example(id="x", dataset="d", task="ner", text="Hi", labels=["person"])["entities"]
    []
    """
    return {
        "id": id,
        "dataset": dataset,
        "task": task,
        "text": text,
        "labels": labels,
        "roles": roles or [],
        "entities": [],
        "relations": [],
        "events": [],
        "meta": meta or {},
    }


def _spans(ex: Example) -> Iterator[tuple[Span, tuple]]:
    """Every span of a record with a compact field path (formatted only for an error message)."""
    for i, e in enumerate(ex["entities"]):
        yield e, ("entities[{}]", i)
    for i, r in enumerate(ex["relations"]):
        yield r["head"], ("relations[{}].head", i)
        yield r["tail"], ("relations[{}].tail", i)
    for i, ev in enumerate(ex["events"]):
        yield ev["trigger"], ("events[{}].trigger", i)
        for j, a in enumerate(ev["arguments"]):
            yield a, ("events[{}].arguments[{}]", i, j)


def _path(spec: tuple) -> str:
    return spec[0].format(*spec[1:])


def locate_spans(ex: Example, where: str, *, require_substring: bool = True) -> Example:
    """Check given offsets and locate missing ones, in place; counts located spans in meta.

    A span without offsets goes to the first occurrence of its string after the previous
    occurrence of the same string (or back to the first occurrence when the string is annotated
    more often than it occurs). ``require_substring=False`` (slot task) leaves values that are not
    substrings of the text with null offsets instead of failing.
    """
    text = ex["text"]
    last: dict[str, int] = {}
    located = 0
    for span, spec in _spans(ex):
        s = span.get("text")
        if type(s) is not str or not s:
            raise RecordError(
                where, _path(spec) + ".text", f"must be a non-empty string, got {s!r}"
            )
        start = span.get("start")
        end = span.get("end")
        if start is not None or end is not None:
            if type(start) is not int or type(end) is not int:
                raise RecordError(
                    where,
                    _path(spec) + ".start/end",
                    f"offsets must be integers, got {start!r}, {end!r}",
                )
            if text[start:end] != s:
                raise RecordError(
                    where,
                    _path(spec),
                    f"text[{start}:{end}] is {text[start:end]!r}, which is not the span text {s!r}",
                )
            last[s] = start
            continue
        prev = last.get(s)
        pos = text.find(s) if prev is None else text.find(s, prev + 1)
        if pos < 0 and prev is not None:
            pos = text.find(s)
        if pos < 0:
            if not require_substring:
                continue
            raise RecordError(where, _path(spec) + ".text", f"{s!r} is not a substring of the text")
        span["start"] = pos
        span["end"] = pos + len(s)
        last[s] = pos
        located += 1
    if located:
        meta = ex["meta"]
        meta["located"] = meta.get("located", 0) + located
    return ex


def _need(obj: Any, key: str, kind: type | tuple[type, ...], where: str, field: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise RecordError(where, field, "is missing")
    val = obj[key]
    if not isinstance(val, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise RecordError(where, field, f"must be {name}, got {type(val).__name__}")
    return val


def validate_example(ex: Any, where: str, *, shaped: bool = False) -> Example:
    """Check the shape of a canonical record, its labels and its offsets; return it.

    Raises :class:`RecordError` naming ``where`` (``file:line``) and the offending field.
    ``shaped=True`` is for records a reader has just built field by field: the structural checks
    are skipped, labels and offsets are still checked.

    >>> ex = {"id": "1", "dataset": "d", "task": "ner", "text": "Kevin and Therese",
    ...       "labels": ["person"], "entities": [{"type": "person", "text": "Therese"}]}
    >>> validate_example(ex, "x.jsonl:1")["entities"][0]["start"]
    10
    """
    if not shaped:
        _check_shape(ex, where)
    labels = ex["labels"]
    known = labels if len(labels) < 8 else set(labels)
    for i, e in enumerate(ex["entities"]):
        if e["type"] not in known:
            raise RecordError(
                where, f"entities[{i}].type", f"{e['type']!r} is not in labels {labels}"
            )
    for i, r in enumerate(ex["relations"]):
        if r["type"] not in known:
            raise RecordError(
                where, f"relations[{i}].type", f"{r['type']!r} is not in labels {labels}"
            )
    roles = set(ex["roles"])
    for i, ev in enumerate(ex["events"]):
        if ev["type"] not in known:
            raise RecordError(
                where, f"events[{i}].type", f"{ev['type']!r} is not in labels {labels}"
            )
        for j, a in enumerate(ev["arguments"]):
            if roles and a["role"] not in roles:
                raise RecordError(
                    where, f"events[{i}].arguments[{j}].role", f"{a['role']!r} is not in roles"
                )
    return locate_spans(ex, where, require_substring=ex["task"] != "slot")


def _check_shape(ex: Any, where: str) -> None:
    if not isinstance(ex, dict):
        raise RecordError(where, "<record>", f"must be a JSON object, got {type(ex).__name__}")
    task = _need(ex, "task", str, where, "task")
    if task not in TASKS:
        raise RecordError(where, "task", f"must be one of {', '.join(TASKS)}, got {task!r}")
    _need(ex, "text", str, where, "text")
    labels = _need(ex, "labels", list, where, "labels")
    if not all(isinstance(x, str) for x in labels):
        raise RecordError(where, "labels", "must be a list of strings")
    ex.setdefault("id", where)
    ex.setdefault("dataset", "")
    if not isinstance(ex.setdefault("meta", {}), dict):
        raise RecordError(where, "meta", "must be an object")
    for key in ("entities", "relations", "events", "roles"):
        if not isinstance(ex.setdefault(key, []), list):
            raise RecordError(where, key, "must be a list")
    for i, e in enumerate(ex["entities"]):
        _need(e, "type", str, where, f"entities[{i}].type")
    for i, r in enumerate(ex["relations"]):
        _need(r, "type", str, where, f"relations[{i}].type")
        _need(r, "head", dict, where, f"relations[{i}].head")
        _need(r, "tail", dict, where, f"relations[{i}].tail")
    for i, ev in enumerate(ex["events"]):
        _need(ev, "type", str, where, f"events[{i}].type")
        _need(ev, "trigger", dict, where, f"events[{i}].trigger")
        if not isinstance(ev.setdefault("arguments", []), list):
            raise RecordError(where, f"events[{i}].arguments", "must be a list")
        for j, a in enumerate(ev["arguments"]):
            _need(a, "role", str, where, f"events[{i}].arguments[{j}].role")


def iter_json_lines(
    path: str | Path, loads: Callable[[str], Any] = json.loads
) -> Iterator[tuple[str, Any]]:
    """``(where, object)`` for each non-blank line of a jsonl file; ``where`` is ``file:line``.

    A line that is not JSON raises :class:`RecordError` naming the file and the 1-based line.
    ``loads`` may be ``orjson.loads`` where a benchmark needs it (its errors subclass json's).
    """
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = loads(line)
            except json.JSONDecodeError as exc:
                raise RecordError(
                    where, "<line>", f"invalid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            yield where, obj


def iter_rows(path: str | Path) -> Iterator[tuple[str, Any]]:
    """``(where, object)`` for each row of a jsonl file or of a JSON array file.

    LLaMA-Factory reads both forms; ``where`` is ``file:line`` for jsonl and ``file[index]`` for an
    array (which is read whole: arrays are the small, hand-made case).
    """
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        head = fh.read(1)
        while head and head.isspace():
            head = fh.read(1)
        if head != "[":
            yield from iter_json_lines(path)
            return
        fh.seek(0)
        try:
            rows = json.load(fh)
        except json.JSONDecodeError as exc:
            raise RecordError(
                f"{path}:{exc.lineno}", "<file>", f"invalid JSON ({exc.msg} at column {exc.colno})"
            ) from None
    for i, row in enumerate(rows):
        yield f"{path}[{i}]", row


def iter_jsonl(path: str | Path, *, validate: bool = True) -> Iterator[Example]:
    """Stream canonical records from a jsonl file (blank lines skipped), validated by default."""
    for where, obj in iter_json_lines(path):
        yield validate_example(obj, where) if validate else obj
