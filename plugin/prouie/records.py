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
import re
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


def _spans(ex: Example) -> Iterator[Span]:
    """Every span of a record: entities, relation heads and tails, triggers and arguments."""
    yield from ex["entities"]
    for r in ex["relations"]:
        yield r["head"]
        yield r["tail"]
    for ev in ex["events"]:
        yield ev["trigger"]
        yield from ev["arguments"]


def _field(ex: Example, span: Span) -> str:
    """The field path of ``span`` in ``ex``, for an error message. It is found again by identity
    so that the walk over every span carries no paths: that walk is most of the check of a record
    in a predictions file, and paths made it cost 0.49 s per 100,000 records instead of 0.30 s
    (``benchmarks/evaluate_cli.py``)."""
    paths = [(e, f"entities[{i}]") for i, e in enumerate(ex["entities"])]
    for i, r in enumerate(ex["relations"]):
        paths += [(r["head"], f"relations[{i}].head"), (r["tail"], f"relations[{i}].tail")]
    for i, ev in enumerate(ex["events"]):
        paths.append((ev["trigger"], f"events[{i}].trigger"))
        paths += [(a, f"events[{i}].arguments[{j}]") for j, a in enumerate(ev["arguments"])]
    return next(path for obj, path in paths if obj is span)


def offsets_problem(text: str, start: Any, end: Any, span: str) -> tuple[str, str] | None:
    """Why the offsets ``start, end`` do not select ``span`` in ``text``, as (field suffix,
    message); None when they do.

    Python's slicing would accept negative or reversed offsets silently, so they are checked first.

    >>> offsets_problem("Nadim Ladki", -5, 11, "Ladki")
    ('.start/end', 'offsets -5, 11 are outside the text (length 11)')
    >>> offsets_problem("Nadim Ladki", 6, 11, "Ladki") is None
    True
    """
    if type(start) is not int or type(end) is not int:
        return ".start/end", f"offsets must be integers, got {start!r}, {end!r}"
    if not 0 <= start < end <= len(text):
        return ".start/end", f"offsets {start}, {end} are outside the text (length {len(text)})"
    if text[start:end] != span:
        return (
            "",
            f"text[{start}:{end}] is {text[start:end]!r}, which is not the span text {span!r}",
        )
    return None


def locate_spans(ex: Example, where: str, *, require_substring: bool = True) -> Example:
    """Check given offsets and locate missing ones, in place; counts located spans in meta.

    A span without offsets goes to the first occurrence of its string after the previous
    occurrence of the same string (or back to the first occurrence when the string is annotated
    more often than it occurs). ``require_substring=False`` (slot task) leaves values that are not
    substrings of the text with null offsets instead of failing.

    >>> ex = {"text": "Nadim Ladki", "entities": [{"text": "Ladki", "start": -5, "end": 11}],
    ...       "relations": [], "events": []}
    >>> locate_spans(ex, "x.jsonl:1")
    Traceback (most recent call last):
    ...
    prouie.records.RecordError: x.jsonl:1: field 'entities[0].start/end': offsets -5, 11 are outside the text (length 11)
    """
    text = ex["text"]
    last: dict[str, int] = {}
    located = 0
    for span in _spans(ex):
        s = span.get("text")
        if type(s) is not str or not s:
            raise RecordError(
                where, _field(ex, span) + ".text", f"must be a non-empty string, got {s!r}"
            )
        start = span.get("start")
        end = span.get("end")
        if start is not None or end is not None:
            problem = offsets_problem(text, start, end, s)
            if problem:
                raise RecordError(where, _field(ex, span) + problem[0], problem[1])
            last[s] = start
            continue
        prev = last.get(s)
        pos = text.find(s) if prev is None else text.find(s, prev + 1)
        if pos < 0 and prev is not None:
            pos = text.find(s)
        if pos < 0:
            if not require_substring:
                continue
            raise RecordError(
                where, _field(ex, span) + ".text", f"{s!r} is not a substring of the text"
            )
        span["start"] = pos
        span["end"] = pos + len(s)
        last[s] = pos
        located += 1
    if located:
        meta = ex["meta"]
        meta["located"] = meta.get("located", 0) + located
    return ex


def need(
    obj: Any,
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    field: str,
    *,
    or_empty: bool = False,
) -> Any:
    """``obj[key]``, checked to be present and of type ``kind``; the one field check of every reader.

    ``bool`` never passes for ``int`` (JSON ``true`` is not an offset). With ``or_empty`` an absent
    or null value is read as an empty ``kind`` (``[]``, ``{}``), which is stored in ``obj``.

    >>> need({"text": 3}, "text", str, "x.jsonl:2", "text")
    Traceback (most recent call last):
    ...
    prouie.records.RecordError: x.jsonl:2: field 'text': must be str, got int
    """
    if not isinstance(obj, dict):
        parent = field.rpartition(".")[0] or "<record>"
        raise RecordError(where, parent, f"must be a JSON object, got {type(obj).__name__}")
    if or_empty and obj.get(key) is None:
        obj[key] = kind()
    if key not in obj:
        raise RecordError(where, field, "is missing")
    val = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(val, kinds) or (isinstance(val, bool) and bool not in kinds):
        name = "/".join(k.__name__ for k in kinds)
        raise RecordError(where, field, f"must be {name}, got {type(val).__name__}")
    return val


def strings(values: Any, where: str, field: str) -> list[str]:
    """``values`` checked to be a list of strings."""
    if not isinstance(values, list):
        raise RecordError(where, field, f"must be a list of strings, got {type(values).__name__}")
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise RecordError(where, f"{field}[{i}]", f"must be str, got {type(v).__name__}")
    return values


def need_strings(obj: Any, key: str, where: str, field: str, *, or_empty: bool = False) -> list:
    """``obj[key]`` checked to be a list of strings (see :func:`need` for ``or_empty``)."""
    return strings(need(obj, key, list, where, field, or_empty=or_empty), where, field)


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
    task = need(ex, "task", str, where, "task")
    if task not in TASKS:
        raise RecordError(where, "task", f"must be one of {', '.join(TASKS)}, got {task!r}")
    need(ex, "text", str, where, "text")
    need_strings(ex, "labels", where, "labels")
    need_strings(ex, "roles", where, "roles", or_empty=True)
    ex.setdefault("id", where)
    need(ex, "id", str, where, "id")
    ex.setdefault("dataset", "")
    need(ex, "dataset", str, where, "dataset")
    need(ex, "meta", dict, where, "meta", or_empty=True)
    for key in ("entities", "relations", "events"):
        need(ex, key, list, where, key, or_empty=True)
    for i, e in enumerate(ex["entities"]):
        need(e, "type", str, where, f"entities[{i}].type")
    for i, r in enumerate(ex["relations"]):
        need(r, "type", str, where, f"relations[{i}].type")
        need(r, "head", dict, where, f"relations[{i}].head")
        need(r, "tail", dict, where, f"relations[{i}].tail")
    for i, ev in enumerate(ex["events"]):
        need(ev, "type", str, where, f"events[{i}].type")
        need(ev, "trigger", dict, where, f"events[{i}].trigger")
        arguments = need(ev, "arguments", list, where, f"events[{i}].arguments", or_empty=True)
        for j, a in enumerate(arguments):
            need(a, "role", str, where, f"events[{i}].arguments[{j}].role")


# A JSON escape of a UTF-16 surrogate: json.loads pairs valid ones, a lone one cannot be written.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_BOM = b"\xef\xbb\xbf"


def text_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 text file; a leading byte-order mark is dropped.

    Bytes that are not UTF-8 raise :class:`RecordError` naming the file, the line and the column,
    where Python's own error gives only a byte offset into a buffer.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig") as fh:
            yield from enumerate(fh, 1)
    except UnicodeDecodeError:
        _raise_decode_error(path)
        raise


def _raise_decode_error(path: Path) -> None:
    """Find the first line of ``path`` that is not UTF-8 and raise a :class:`RecordError` for it.

    Kept off the fast path: text-mode reading is faster, and only a failure needs the place.
    """
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            _check_utf8(raw, f"{path}:{lineno}")


def _check_utf8(raw: bytes, where: str) -> None:
    """Raise a :class:`RecordError` naming the first byte of ``raw`` that is not UTF-8."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(
            where,
            "<bytes>",
            f"is not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
            "re-save the file as UTF-8",
        ) from None


def read_text(path: str | Path) -> str:
    """The whole of a UTF-8 text file (BOM dropped); errors name the file and the line."""
    return "".join(line for _, line in text_lines(path))


def check_writable(obj: Any, where: str) -> None:
    """Fail on a string holding a lone UTF-16 surrogate (``"\\ud800"``): no UTF-8 file can store it."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError(
            where, "<string>", "holds a lone UTF-16 surrogate escape (\\ud800-\\udfff)"
        ) from None


def iter_json_lines(
    path: str | Path, loads: Callable[[bytes], Any] = json.loads
) -> Iterator[tuple[str, Any]]:
    """``(where, object)`` for each non-blank line of a jsonl file; ``where`` is ``file:line``.

    The one jsonl row reader of the package: a line that is not UTF-8, not JSON, or holds a
    string no UTF-8 file can store raises :class:`RecordError` naming the file and the 1-based line.
    Lines go to ``loads`` as bytes, undecoded: ``json.loads`` decodes them, and ``orjson.loads``
    (where a benchmark needs it; its errors subclass json's) reads UTF-8 itself, which saves a
    tenth of the reading time of a predictions file (``benchmarks/evaluate_cli.py``).
    """
    path = Path(path)
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno == 1 and line.startswith(_BOM):
                line = line[len(_BOM) :]
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = loads(line)
            except (ValueError, RecursionError) as exc:  # json's and orjson's errors, bad UTF-8
                raise _line_error(line, where, exc) from None
            if _SURROGATE_ESCAPE.search(line):
                check_writable(obj, where)
            yield where, obj


def _line_error(line: bytes, where: str, exc: Exception) -> RecordError:
    """Why ``line`` could not be read (``exc``): not UTF-8, not JSON, or JSON that a strict
    ``loads`` refuses (a lone surrogate escape, NaN, deep nesting)."""
    _check_utf8(line, where)
    try:
        obj = json.loads(line.decode("utf-8"))
    except json.JSONDecodeError as exc:
        return RecordError(where, "<line>", f"invalid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return RecordError(where, "<line>", "JSON nested too deeply to read")
    check_writable(obj, where)  # a lone surrogate escape, which orjson refuses
    return RecordError(where, "<line>", f"not read as JSON ({getattr(exc, 'msg', exc)})")


def load_json(path: str | Path) -> Any:
    """A whole JSON file (BOM dropped); errors name the file and the line."""
    path = Path(path)
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise RecordError(
            f"{path}:{exc.lineno}", "<file>", f"invalid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    except RecursionError:
        raise RecordError(str(path), "<file>", "JSON nested too deeply to read") from None


def iter_rows(path: str | Path) -> Iterator[tuple[str, Any]]:
    """``(where, object)`` for each row of a jsonl file or of a JSON array file.

    LLaMA-Factory reads both forms; ``where`` is ``file:line`` for jsonl and ``file[index]`` for an
    array (which is read whole: arrays are the small, hand-made case).
    """
    path = Path(path)
    for _, line in text_lines(path):
        head = line.lstrip()
        if head:
            break
    else:
        return
    if not head.startswith("["):
        yield from iter_json_lines(path)
        return
    rows = load_json(path)
    for i, row in enumerate(rows):
        yield f"{path}[{i}]", row


def iter_jsonl(path: str | Path, *, validate: bool = True) -> Iterator[Example]:
    """Stream canonical records from a jsonl file (blank lines skipped), validated by default."""
    for where, obj in iter_json_lines(path):
        yield validate_example(obj, where) if validate else obj
