"""The one tolerant parser from model output to structural units.

Metrics, the SFR rewards and LDA all call :func:`parse_output`, so an output is read the same way
everywhere. It never raises on any string; whatever it cannot read is reported as a
:class:`~prouie.units.Problem` and the output then has no units (it scores the minimum).

One output goes one way down: text -> the decoded object and its problems (:func:`_read`) ->
units (:func:`prouie.units.units_from_obj`). Reading an output:

1. the text is decoded when it is JSON as a whole (see :func:`_decode`), the common case;
2. else ``<think>...</think>`` blocks are dropped (an unclosed one means the answer was cut off),
   then the content of a Markdown code fence is taken, each step followed by step 1 again;
3. otherwise one linear scan of its bracket structure finds the top-level objects in it. The answer
   is the first object holding a schema key (an earlier format sketch such as ``{"type": "entity"}``
   does not hide it), else the first object at all. A cut-off last object is closed (its open
   string and brackets); a value cut right after a separator or a space loses the dangling
   separator or space. A closed object that is not JSON has a trailing comma or single quotes
   fixed, or else goes through ``json_repair``, within the caps below.

Worst case: every step is linear in the length of the output. Repair is bounded by documented
caps: at most :data:`MAX_OBJECTS` objects are considered, an object nested deeper than
:data:`MAX_DEPTH` is not read at all (the scan stops there), and ``json_repair`` (whose own cost
grows faster than the length of its input) is tried on at most :data:`MAX_REPAIRS` of them, each at
most :data:`REPAIR_MAX_CHARS` characters long and nested at most :data:`REPAIR_MAX_DEPTH` deep.
What lies beyond the caps is read as unparseable (a closed object) or as an empty object (a cut-off
one).

Problem kinds reported here (the value-level ones, such as ``unknown_key`` or ``not_substring``, come
from :func:`prouie.units.units_from_obj`):

- ``unparseable``: no JSON object could be read (``ok`` is False);
- ``not_object``: valid JSON, but not an object (``ok`` is False);
- ``truncated``: the object (or a ``<think>`` block / code fence) is not closed;
- ``invalid_json``: the object was not valid JSON and was repaired;
- ``duplicate_key``: a key occurs more than once (the last value wins, as in ``json.loads``);
- ``extra_text``: non-blank text outside the object, its code fence and ``<think>`` blocks.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

import orjson

from prouie.units import Problem, Units, empty_units, units_from_obj

__all__ = ["Parsed", "Problem", "parse_output"]

# The caps on the search and on repair (see the module docstring): with them the worst output of
# benchmarks/adversarial_parse.py stays within 20x a clean output of the same length, and a
# malformed object within the repair cap costs json_repair a few milliseconds at most.
MAX_OBJECTS = 8
MAX_DEPTH = 512
MAX_REPAIRS = 1
REPAIR_MAX_CHARS = 1000
REPAIR_MAX_DEPTH = 3


class Parsed(NamedTuple):
    """A parsed output: its units, every problem seen, and whether a JSON object was read at all."""

    units: Units
    problems: list[Problem]
    ok: bool = True


class _DupDict(dict):
    """A decoded object some of whose keys occurred more than once (names in ``duplicates``)."""

    __slots__ = ("duplicates",)


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # The decoder hands over the raw (key, value) list, so a duplicate key costs one len() to see;
    # the names travel on the returned object, which keeps the parser free of shared state.
    d = dict(pairs)
    if len(d) == len(pairs):
        return d
    out = _DupDict(d)
    seen: set[str] = set()
    out.duplicates = []
    for k, _ in pairs:
        if k in seen and k not in out.duplicates:
            out.duplicates.append(k)
        seen.add(k)
    return out


_JSON_DECODE = json.JSONDecoder(object_pairs_hook=_pairs_hook).decode


def _decode(text: str) -> Any:
    """``text`` decoded, duplicate keys recorded (see :class:`_DupDict`); raises ValueError.

    ``orjson`` reads a flat object of string values about 5x faster than ``json``, which keeps
    evaluation within 10x of bare ``json.loads`` (benchmarks/evaluate_throughput.py). It cannot
    report a duplicate key, so its reading is taken only when it provably equals json's: with no
    backslash in the text, exactly four quotes per key of an object of string values means no
    key occurred twice. Anything else is read by ``json``.
    """
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        obj = None
    if (
        type(obj) is dict
        and "\\" not in text
        and text.count('"') == 4 * len(obj)
        and all(type(v) is str for v in obj.values())
    ):
        return obj
    return _JSON_DECODE(text)


_JSON_WS = " \t\n\r"
_JSON_START = frozenset('{["-0123456789')  # first characters of a JSON value (literals aside)
_LITERALS = frozenset(("true", "false", "null"))
_FENCE_MARK = "```"
_FENCE_INFO = re.compile(r"[ \t]*[A-Za-z0-9_+-]*[ \t]*\r?\n?")  # what follows an opening ```
# One token of the bracket structure: a whole string, a bracket or comma, or an unclosed string's
# opening quote. Possessive quantifiers keep long strings linear.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[{}\[\],]|"', re.S)
_SEPARATOR_ENDS = "|,;:"  # how the value grammar's separators (" | ", ", ", "; ", ": ") start


def parse_output(
    text: Any,
    task: str,
    labels: list[str] | tuple[str, ...],
    roles: list[str] | tuple[str, ...] | None = None,
    input_text: str | None = None,
) -> Parsed:
    """Parse a model output into units of ``task`` for the label schema; never raises.

    ``input_text`` (the sentence) enables the ``not_substring`` check. ``ok`` is False only when no
    JSON object could be read; the units are then empty.

    >>> p = parse_output('<think>\\n</think>\\n{"person": "Kevin | Therese"}', "ner", ["person"],
    ...                  input_text="Kevin and Therese")
    >>> sorted(p.units.pairs), p.problems, p.ok
    ([('person', 'Kevin'), ('person', 'Therese')], [], True)
    >>> parse_output('{"person": "Kevin', "ner", ["person"]).problems[0].kind
    'truncated'
    """
    try:
        obj, problems = _read(text, labels)
        if obj is None:
            return Parsed(empty_units(task, labels), problems, False)
        units, more = units_from_obj(obj, task, labels, roles, input_text)
        return Parsed(units, problems + more, True)
    except Exception as exc:  # pragma: no cover - a bug guard: parsing must never raise
        problem = Problem("unparseable", None, f"internal error: {exc!r}")
        try:
            return Parsed(empty_units(task, labels), [problem], False)
        except Exception:  # labels that are not even iterable
            return Parsed(Units(str(task)), [problem], False)


def _read(text: Any, labels: Any) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The answer object of an output (None when there is none) and the problems met reading it."""
    if type(text) is not str:
        return None, [Problem("unparseable", None, f"not a string: {type(text).__name__}")]
    problems: list[Problem] = []
    obj, s = _whole(text), text  # the common case: the output is JSON as a whole
    # Else <think> blocks, then a code fence, are taken off, and the rest tried again after each
    # step (so a "```" inside an object after a <think> block is just text).
    for marker, unwrap in (("think>", _strip_think), (_FENCE_MARK, _unfence)):
        if type(obj) is not dict and marker in s:
            s = unwrap(s, problems)
            obj = _whole(s)
    if isinstance(obj, dict):
        return obj, _with_duplicates(obj, problems)
    if obj is not _NOT_JSON:
        problems.append(Problem("not_object", None, type(obj).__name__))
        return None, problems
    if not s.strip():
        problems.append(Problem("unparseable", None, "empty output"))
        return None, problems
    return _find_object(s, labels, problems)


_NOT_JSON = object()


def _whole(s: str) -> Any:
    """``s`` decoded as one JSON value (JSON whitespace around it allowed), else ``_NOT_JSON``."""
    body = s.strip(_JSON_WS)
    if body[:1] in _JSON_START or body in _LITERALS:
        try:
            return _decode(body)
        except (ValueError, RecursionError):
            pass
    return _NOT_JSON


def _with_duplicates(obj: dict[str, Any], problems: list[Problem]) -> list[Problem]:
    if type(obj) is _DupDict:
        problems.extend(Problem("duplicate_key", k) for k in obj.duplicates)
    return problems


class _Candidate:
    """One top-level ``{...}`` of an output: where it is, and what reading it gave."""

    __slots__ = ("start", "end", "depth", "cut", "comma", "obj", "repaired")

    def __init__(self, start: int, end: int, depth: int, cut: str | None, comma: int) -> None:
        self.start, self.end, self.depth = start, end, depth
        self.cut = cut  # for an object never closed: the closing text it lacks
        self.comma = comma  # the index of its last top-level comma, -1 when none
        self.obj: Any = None
        self.repaired = False


def _find_object(
    s: str, labels: Any, problems: list[Problem]
) -> tuple[dict[str, Any] | None, list[Problem]]:
    candidates = _candidates(s)
    if not candidates:
        problems.append(Problem("unparseable", None, "no JSON object in the output"))
        return None, problems
    for c in candidates:
        c.obj = _decode_candidate(s, c)
    chosen = _first(candidates, labels)
    if chosen is None:
        repairs = 0
        for c in candidates:
            if c.obj is None and repairs < MAX_REPAIRS and _repairable(c):
                repairs += 1
                c.obj, c.repaired = _repair(s[c.start : c.end], c.cut is None), True
        chosen = _first(candidates, labels) or _first(candidates, ())
    if chosen is None:
        cut = candidates[-1]
        if cut.cut is None:
            problems.append(Problem("unparseable", None, "no JSON object could be recovered"))
            return None, problems
        chosen, cut.obj = cut, {}  # cut off before its first complete member: nothing in it
    if chosen.cut is not None and not any(p.kind == "truncated" for p in problems):
        problems.append(Problem("truncated", None, "the JSON object is not closed"))
    before, after = s[: chosen.start].strip(_JSON_WS), s[chosen.end :].strip(_JSON_WS)
    if before or after:
        where = " and ".join(w for w, t in (("before", before), ("after", after)) if t)
        problems.append(Problem("extra_text", None, f"text {where} the JSON object"))
    if chosen.repaired and chosen.cut is None:
        problems.append(Problem("invalid_json", None, _json_error(s[chosen.start : chosen.end])))
    return chosen.obj, _with_duplicates(chosen.obj, problems)


def _first(candidates: list[_Candidate], labels: Any) -> _Candidate | None:
    """The first candidate read as an object that holds a key of ``labels`` (any key when empty)."""
    for c in candidates:
        if isinstance(c.obj, dict) and (not labels or any(k in c.obj for k in labels)):
            return c
    return None


def _candidates(s: str) -> list[_Candidate]:
    """The top-level objects of ``s`` (at most :data:`MAX_OBJECTS`), from one linear scan."""
    found: list[_Candidate] = []
    start = s.find("{")
    while start >= 0 and len(found) < MAX_OBJECTS:
        closers: list[str] = []
        depth = 0
        comma = -1
        for m in _TOKEN.finditer(s, start):
            c = s[m.start()]
            if c == '"':
                if m.end() - m.start() == 1:  # an unclosed string: the text ends inside it
                    cut = '"' + "".join(reversed(closers))
                    found.append(_Candidate(start, len(s), depth, cut, comma))
                    return found
            elif c == ",":
                if len(closers) == 1:
                    comma = m.start()
            elif c in "{[":
                closers.append("}" if c == "{" else "]")
                depth = max(depth, len(closers))
                if depth > MAX_DEPTH:  # deeper than a decoder reads: not an object, stop here
                    found.append(_Candidate(start, len(s), depth, None, -1))
                    return found
            else:
                closers.pop()
                if not closers:
                    found.append(_Candidate(start, m.end(), depth, None, comma))
                    break
        else:
            found.append(_Candidate(start, len(s), depth, "".join(reversed(closers)), comma))
            return found
        # Between objects, quotes are prose (an apostrophe-free "quote"), not JSON strings.
        start = s.find("{", found[-1].end)
    return found


def _decode_candidate(s: str, c: _Candidate) -> Any:
    """``json``'s reading of a candidate; None when it fails.

    A cut-off object is closed first (its open string and brackets); failing that, it is cut at
    its last top-level comma, which drops a key cut mid-way. (``json_repair`` would read both, but
    loses the duplicate keys that ``json`` reports.)
    """
    text = s[c.start : c.end]
    if c.cut is None:
        attempts = [text]
    elif c.cut[:1] == '"':
        if (len(text) - len(text.rstrip("\\"))) % 2:
            text = text[:-1]  # a cut-off escape sequence
        attempts = [_drop_dangling(text) + c.cut]
    else:
        attempts = [text.rstrip().rstrip(",") + c.cut]
    if c.cut is not None and c.comma >= 0:
        attempts.append(s[c.start : c.comma] + "}")
    for attempt in attempts:
        try:
            obj = _decode(attempt)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _drop_dangling(text: str) -> str:
    """A value cut right after a separator (or its first character) or a space loses them."""
    text = text.rstrip()
    if text[-1:] and text[-1] in _SEPARATOR_ENDS:
        text = text[:-1].rstrip()
    return text


def _repairable(c: _Candidate) -> bool:
    return c.end - c.start <= REPAIR_MAX_CHARS and c.depth <= REPAIR_MAX_DEPTH


_TRAILING_COMMA = re.compile(r",[ \t\n\r]*([}\]])")


def _repair(candidate: str, closed: bool) -> Any:
    """``json_repair``'s reading of a candidate, after the two commonest slips of a closed object.

    A trailing comma, and a Python-style dict in single quotes (only when the text has no double
    quote, so that no apostrophe is mistaken), are fixed first: ``json_repair`` reads ``{, }`` as
    a list and mangles escaped quotes in single-quoted values.
    """
    if closed:
        fixed = _TRAILING_COMMA.sub(r"\1", candidate)
        if '"' not in fixed:
            fixed = fixed.replace("'", '"')
        try:
            return _decode(fixed)
        except (ValueError, RecursionError):
            pass
    import json_repair

    try:
        return json_repair.repair_json(candidate, return_objects=True)
    except Exception:  # json_repair is a best effort; its failures are ours to classify
        return None


def _json_error(candidate: str) -> str:
    try:
        json.loads(candidate)
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        return str(exc)
    return "repaired"


def _strip_think(s: str, problems: list[Problem]) -> str:
    # Closed <think>...</think> blocks are dropped (str.find, not a lazy regex, which would rescan
    # the rest of the text from every unclosed "<think>").
    kept: list[str] = []
    pos = 0
    while (opening := s.find("<think>", pos)) >= 0:
        closing = s.find("</think>", opening + 7)
        if closing < 0:
            break
        kept.append(s[pos:opening])
        pos = closing + 8
    s = "".join(kept) + s[pos:]
    if "</think>" in s:
        # The opening tag was part of the prompt (a thinking chat template): the answer follows.
        s = s.rpartition("</think>")[2]
    if "<think>" in s:
        head = s.partition("<think>")[0]
        if "{" in head:
            # An answer before a runaway thought: keep the answer.
            problems.append(Problem("extra_text", None, "unclosed <think> after the answer"))
        else:
            problems.append(Problem("truncated", None, "unclosed <think> block"))
        return head
    return s


def _unfence(s: str, problems: list[Problem]) -> str:
    # The first fenced block holding a "{": its info string (```json) is skipped, and its body runs
    # to the next ``` or, for a fence never closed, to the end.
    pos = s.find(_FENCE_MARK)
    while pos >= 0:
        start = _FENCE_INFO.match(s, pos + 3).end()  # type: ignore[union-attr]
        close = s.find(_FENCE_MARK, start)
        end = close + 3 if close >= 0 else len(s)
        body = s[start:close] if close >= 0 else s[start:]
        if "{" in body:
            if close < 0:
                problems.append(Problem("truncated", None, "unclosed code fence"))
            outside = (s[:pos] + s[end:]).strip()
            detail = "code fence" if not outside else "code fence and text around it"
            problems.append(Problem("extra_text", None, detail))
            return body
        if close < 0:
            break
        pos = s.find(_FENCE_MARK, end)
    return s
