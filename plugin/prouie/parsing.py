"""The one tolerant parser from model output to structural units.

Metrics, the SFR rewards and LDA all call :func:`parse_output`, so an output is read the same way
everywhere. It never raises on any string; whatever it cannot read is reported as a
:class:`~prouie.units.Problem` and the output then has no units (it scores the minimum).

The fast path is one ``json.loads``-speed decode of the whole string: a well-formed answer costs
nothing more. Only when that fails does the slow path run, in order:

1. ``<think>...</think>`` blocks are dropped (an unclosed one means the answer was cut off);
2. the content of a Markdown code fence is taken when there is one;
3. the first JSON object in what is left is decoded, and text around it is reported (``extra_text``);
4. a broken object is repaired: a cut-off ending is closed by hand (which keeps duplicate-key
   detection), anything else goes through ``json_repair``.

Problem kinds reported here (the value-level ones, such as ``unknown_key`` or ``not_substring``, come
from :func:`prouie.units.units_from_obj`; ``invalid_json`` and ``extra_text`` are this module's own):

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
from functools import partial
from typing import Any, NamedTuple

from orjson import loads as _fast_loads

from prouie.units import Problem, Units, empty_units, units_from_obj

__all__ = ["Parsed", "Problem", "Reference", "decode_object", "parse_output", "reference"]


class Parsed(NamedTuple):
    """A parsed output: its units, every problem seen, and whether a JSON object was read at all.

    A NamedTuple: one is built per prediction and per rollout, so it must be cheap.
    """

    units: Units
    problems: list[Problem]
    ok: bool = True


_new_parsed = partial(tuple.__new__, Parsed)  # positional, without NamedTuple's Python __new__


class _DupDict(dict):
    """A decoded object some of whose keys occurred more than once (names in ``duplicates``)."""

    __slots__ = ("duplicates",)


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # The C scanner hands over the raw (key, value) list, so a duplicate key costs one len() to see;
    # the flag travels on the returned object, which keeps the parser free of shared state.
    d = dict(pairs)
    if len(d) != len(pairs):
        out = _DupDict(d)
        seen: set[str] = set()
        dups: list[str] = []
        for k, _ in pairs:
            if k in seen and k not in dups:
                dups.append(k)
            seen.add(k)
        out.duplicates = dups
        return out
    return d


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_hook)
_decode = _DECODER.decode
_raw_decode = _DECODER.raw_decode

_JSON_WS = " \t\n\r"
_OTHER_JSON = frozenset('["-0123456789')  # first characters of JSON values other than objects
_LITERALS = frozenset(("true", "false", "null"))
_THINK = re.compile(r"<think>.*?</think>", re.S)
_FENCE_MARK = "```"
_FENCE_INFO = re.compile(r"[ \t]*[A-Za-z0-9_+-]*[ \t]*\r?\n?")  # what follows an opening ```
# How many "{" positions the slow path tries before it falls back to repairing from the first one;
# bounds the work on long outputs full of braces.
_MAX_STARTS = 8


class Reference(NamedTuple):
    """Target objects proven to parse to ``units`` with no problem (see :func:`reference`).

    An output that decodes to one of them needs no unit extraction: the parser returns ``units``
    directly. In GRPO most rollouts of a trained model are exactly the target, and the reference is
    built once per prompt for all its rollouts.
    """

    objects: tuple[dict[str, Any], ...]
    units: Units


def reference(
    targets: Any,
    task: str,
    labels: list[str] | tuple[str, ...],
    roles: list[str] | tuple[str, ...] | None = None,
    input_text: str | None = None,
) -> Reference | None:
    """A :class:`Reference` from gold target texts (e.g. the SA target; its CM form is added).

    Each target goes through the full parser once; only targets that parse cleanly to one and the
    same units are kept, so the shortcut can never give an answer the parser would not. None when
    no target qualifies.

    >>> ref = reference(['{"person": "Kevin"}'], "ner", ["person", "place"], input_text="Kevin")
    >>> [sorted(o.items()) for o in ref.objects]
    [[('person', 'Kevin')], [('person', 'Kevin'), ('place', '')]]
    >>> parse_output('{"place": "", "person": "Kevin"}', "ner", ["person", "place"], None, "Kevin",
    ...              ref).units is ref.units
    True
    """
    objects: list[dict[str, Any]] = []
    units: Units | None = None
    for target in targets:
        # Only plain JSON objects of string values (quote count proves no duplicate key) whose
        # units come with no problem: exactly the outputs parse_output's fast path returns as is.
        obj = _plain_object(target) if type(target) is str and target[:1] == "{" else None
        if obj is None:
            continue
        got, problems = units_from_obj(obj, task, labels, roles, input_text)
        if problems or (units is not None and got != units):
            continue
        units = got
        full = {label: obj.get(label, "") for label in labels}  # its CM form: every key
        objects.extend(o for o in (obj, full) if o not in objects)
    return Reference(tuple(objects), units) if units is not None else None


def parse_output(
    text: Any,
    task: str,
    labels: list[str] | tuple[str, ...],
    roles: list[str] | tuple[str, ...] | None = None,
    input_text: str | None = None,
    ref: Reference | None = None,
) -> Parsed:
    """Parse a model output into units of ``task`` for the label schema; never raises.

    ``input_text`` (the sentence) enables the ``not_substring`` check. ``ok`` is False only when no
    JSON object could be read; the units are then empty. ``ref`` (from :func:`reference`, built
    with the same schema and input) lets an output equal to a gold target skip unit extraction.

    >>> p = parse_output('<think>\\n</think>\\n{"person": "Kevin | Therese"}', "ner", ["person"],
    ...                  input_text="Kevin and Therese")
    >>> sorted(p.units.pairs), p.problems, p.ok
    ([('person', 'Kevin'), ('person', 'Therese')], [], True)
    >>> parse_output('{"person": "Kevin', "ner", ["person"]).problems[0].kind
    'truncated'
    """
    # The fast path: orjson (several times faster than json.loads) on what looks like a bare
    # object. Anything else, or anything orjson refuses (it is stricter than json: NaN, huge
    # integers, lone surrogates), goes the slow way, which reads with the json module.
    if type(text) is not str or text[:1] != "{":
        return _slow(text, task, labels, roles, input_text)
    try:
        obj = _fast_loads(text)
    except ValueError:
        return _slow(text, task, labels, roles, input_text, tried=True)
    try:
        if type(obj) is not dict:  # pragma: no cover - text starting with "{" decodes to a dict
            return _finish(obj, [], task, labels, roles, input_text)
        # The rule of _plain_object, with its value check put off until a problem calls for it:
        # anything else is read again by json.
        plain = "\\" not in text and text.count('"') == 4 * len(obj)
        if not plain:
            return _finish(_json_reading(text, obj), [], task, labels, roles, input_text)
        if ref is not None and obj in ref.objects:
            return _new_parsed((ref.units, [], True))  # equal objects parse alike
        units, problems = units_from_obj(obj, task, labels, roles, input_text)
        # A non-string value (a problem units_from_obj reports) can make the count come out
        # equal by chance: check the values only then.
        if problems and any(type(v) is not str for v in obj.values()):
            return _finish(_json_reading(text, obj), [], task, labels, roles, input_text)
        return _new_parsed((units, problems, True))
    except Exception as exc:  # pragma: no cover - a bug guard: parsing must never raise
        return _internal_error(exc, task, labels)


def _json_reading(text: str, fallback: dict[str, Any]) -> Any:
    """json's reading of ``text`` (duplicate keys recorded), or orjson's when json fails."""
    try:
        return _decode(text)
    except (ValueError, RecursionError):  # nesting json's recursion limit cannot follow
        return fallback


def decode_object(text: Any) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The JSON object in a model output (or None) and the problems met reading it; never raises.

    This is the decoding half of :func:`parse_output`, for callers that want the raw object.

    >>> decode_object('```json\\n{"a": "b"}\\n```')
    ({'a': 'b'}, [Problem(kind='extra_text', key=None, detail='code fence')])
    """
    try:
        obj = _decode_checked(text)
        problems: list[Problem] = []
    except (ValueError, TypeError, RecursionError):
        try:
            obj, problems = _locate(text)
        except Exception as exc:  # pragma: no cover - a bug guard: parsing must never raise
            return None, [Problem("unparseable", None, f"internal error: {exc!r}")]
    if isinstance(obj, dict):
        dups = getattr(obj, "duplicates", None)
        if dups:
            problems = [*problems, *(Problem("duplicate_key", k) for k in dups)]
        return obj, problems
    if obj is None and any(p.kind == "unparseable" for p in problems):
        return None, problems
    return None, [*problems, Problem("not_object", None, type(obj).__name__)]


def _slow(
    text: Any,
    task: str,
    labels: list[str] | tuple[str, ...],
    roles: list[str] | tuple[str, ...] | None,
    input_text: str | None,
    tried: bool = False,
) -> Parsed:
    try:
        obj, problems = _locate(text, tried)
        return _finish(obj, problems, task, labels, roles, input_text)
    except Exception as exc:  # pragma: no cover - a bug guard: parsing must never raise
        return _internal_error(exc, task, labels)


def _internal_error(exc: Exception, task: str, labels: list[str] | tuple[str, ...]) -> Parsed:
    problem = Problem("unparseable", None, f"internal error: {exc!r}")
    try:
        return Parsed(empty_units(task, labels), [problem], False)
    except Exception:  # labels that are not even iterable
        return Parsed(Units(str(task)), [problem], False)


def _finish(
    obj: Any,
    problems: list[Problem],
    task: str,
    labels: list[str] | tuple[str, ...],
    roles: list[str] | tuple[str, ...] | None,
    input_text: str | None,
) -> Parsed:
    if isinstance(obj, dict):
        dups = getattr(obj, "duplicates", None)
        if dups:
            problems.extend(Problem("duplicate_key", k) for k in dups)
        units, more = units_from_obj(obj, task, labels, roles, input_text)
        problems.extend(more)
        return Parsed(units, problems, True)
    if obj is not None or not any(p.kind == "unparseable" for p in problems):
        problems.append(Problem("not_object", None, type(obj).__name__))
    return Parsed(empty_units(task, labels), problems, False)


def _locate(text: Any, tried: bool = False) -> tuple[Any, list[Problem]]:
    """Find and decode the JSON object in an output that is not plain JSON (``tried``: orjson
    already failed on ``text`` as it is)."""
    if not isinstance(text, str):
        return None, [Problem("unparseable", None, f"not a string: {type(text).__name__}")]
    problems: list[Problem] = []
    s = text
    if "think>" in s:
        s = _strip_think(s, problems)
    if "```" in s:
        s = _unfence(s, problems)
    if not s.strip():
        problems.append(Problem("unparseable", None, "empty output"))
        return None, problems
    body = s.strip(_JSON_WS)
    if body[:1] == "{" and body[-1:] == "}":
        # Valid JSON once the wrapping is gone (a <think> block, the common ```json fence, blank
        # lines) needs no search. orjson alone here: what it cannot read plainly, json's raw_decode
        # below reads (duplicate keys and all) or explains.
        if not (tried and s is text):
            obj = _plain_object(body)
            if obj is not None:
                return obj, problems
    elif body[:1] in _OTHER_JSON or body in _LITERALS:
        # Valid JSON that is not an object is reported as such.
        try:
            return _decode_checked(body), problems
        except (ValueError, RecursionError):
            pass
    first = s.find("{")
    if first < 0:
        problems.append(Problem("unparseable", None, "no JSON object in the output"))
        return None, problems
    try:
        # A complete object, alone or with text around it (chatter before or after the answer).
        obj, obj_end = _raw_decode(s, first)
    except (ValueError, RecursionError):
        obj = None
    if isinstance(obj, dict):
        _extra(s, first, obj_end, problems)
        return obj, problems

    end, in_str, stack, last_comma = _scan(s, first)
    if end < 0:
        # The first object never closes (every later "{" is inside it): the output was cut off.
        if not any(p.kind == "truncated" for p in problems):
            problems.append(Problem("truncated", None, "the JSON object is not closed"))
        candidate = s[first:]
        obj = _close(candidate, in_str, stack, last_comma - first if last_comma >= 0 else -1)
        if obj is None:
            obj = _repair(candidate)
        if not isinstance(obj, dict):
            obj = {}  # cut off before its first complete member: an object with nothing in it
    else:
        # A complete object somewhere: text around it is extra. A closed but invalid first object
        # (a format sketch before the answer, say) gives way to a later valid one. (The first "{"
        # was tried above.)
        start, tries = s.find("{", first + 1), 1
        while start >= 0 and tries < _MAX_STARTS:
            tries += 1
            try:
                obj, obj_end = _raw_decode(s, start)
            except (ValueError, RecursionError):
                start = s.find("{", start + 1)
                continue
            if isinstance(obj, dict):
                _extra(s, start, obj_end, problems)
                return obj, problems
            start = s.find("{", start + 1)
        candidate = s[first:end]
        _extra(s, first, end, problems)
        obj = _quick_fix(candidate)
        if obj is None:
            obj = _repair(candidate)
        if isinstance(obj, dict):
            problems.append(Problem("invalid_json", None, _json_error(candidate)))
    if not isinstance(obj, dict):
        problems.append(Problem("unparseable", None, "no JSON object could be recovered"))
        return None, problems
    return obj, problems


def _plain_object(s: str) -> dict[str, Any] | None:
    """orjson's reading of ``s`` when it is provably json's, else None.

    A flat object of string values whose text has no backslash holds exactly 4 quotes per key;
    then orjson reads it as json does, and no key occurred twice (both decoders would keep only
    the last value without a word).
    """
    try:
        obj = _fast_loads(s)
    except ValueError:
        return None
    if (
        type(obj) is dict
        and "\\" not in s
        and s.count('"') == 4 * len(obj)
        and all(type(v) is str for v in obj.values())
    ):
        return obj
    return None


def _decode_checked(s: str) -> Any:
    """``s`` decoded, duplicate keys recorded (see :class:`_DupDict`); raises ValueError.

    orjson when :func:`_plain_object` vouches for its reading, the json module (with the
    key-counting hook) otherwise.
    """
    obj = _plain_object(s) if type(s) is str else None
    return obj if obj is not None else _decode(s)


def _strip_think(s: str, problems: list[Problem]) -> str:
    s = _THINK.sub("", s)
    if "</think>" in s:
        # The opening tag was part of the prompt (a thinking chat template): the answer follows.
        s = s.rpartition("</think>")[2]
    if "<think>" in s:
        head, _, tail = s.partition("<think>")
        if "{" in head:
            # An answer before a runaway thought: keep the answer.
            problems.append(Problem("extra_text", None, "unclosed <think> after the answer"))
            return head
        problems.append(Problem("truncated", None, "unclosed <think> block"))
        return head
    return s


def _unfence(s: str, problems: list[Problem]) -> str:
    # The first fenced block holding a "{": its info string (```json) is skipped, and its body runs
    # to the next ``` or, for a fence never closed, to the end. (str.find, not a lazy regex: the
    # body of a long answer would be matched a character at a time.)
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


def _extra(s: str, start: int, end: int, problems: list[Problem]) -> None:
    # JSON's own whitespace only: anything else around the object (a no-break space, say) would not
    # survive a strict reader, so it counts as extra text.
    before, after = s[:start].strip(_JSON_WS), s[end:].strip(_JSON_WS)
    if before or after:
        where = " and ".join(w for w, t in (("before", before), ("after", after)) if t)
        problems.append(Problem("extra_text", None, f"text {where} the JSON object"))


# One token of the bracket structure: a whole string, a bracket or comma, or an unclosed string's
# opening quote. Possessive quantifiers keep long strings linear.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[{}\[\],]|"', re.S)


def _scan(s: str, start: int) -> tuple[int, bool, list[str], int]:
    """Bracket structure from the "{" at ``start``: (index past its closing "}" or -1, whether the
    text ends inside a string, the closers still open, the last top-level comma or -1)."""
    stack: list[str] = []
    last_comma = -1
    for m in _TOKEN.finditer(s, start):
        t = m.group()
        c = t[0]
        if c == '"':
            if len(t) == 1:
                return -1, True, stack, last_comma
        elif c == "{":
            stack.append("}")
        elif c == "[":
            stack.append("]")
        elif c == ",":
            if len(stack) == 1:
                last_comma = m.start()
        elif stack:
            stack.pop()
            if not stack:
                return m.end(), False, stack, last_comma
    return -1, False, stack, last_comma


def _close(
    candidate: str, in_str: bool, stack: list[str], last_comma: int
) -> dict[str, Any] | None:
    """Close a cut-off object by hand, keeping what was complete; None when that fails.

    First the open string and containers are closed (a value cut mid-way is kept as written); then
    the object is cut at its last top-level comma (a key or value cut mid-way is dropped). Cut off
    at its first key, it keeps that key, with an empty value, only when the key and its colon are
    whole.
    """
    closing = "".join(reversed(stack))
    body = candidate
    if in_str:
        tail = len(body) - len(body.rstrip("\\"))
        if tail % 2:
            body = body[:-1]  # a cut-off escape sequence
        attempts = [body + '"' + closing]
    else:
        attempts = [body.rstrip().rstrip(",") + closing]
    if last_comma >= 0:
        attempts.append(candidate[:last_comma] + "}")
    else:
        cut = _FIRST_KEY_CUT.match(candidate)
        if cut:
            # Cut off at its first key: a whole key and its colon stand with an empty value (a key
            # outside the schema is still worth reporting), anything less is nothing.
            key = cut.group("key")
            if not (key and cut.group("colon")):
                return {}
            try:
                return {_decode(key): ""}
            except ValueError:
                pass  # an invalid escape in the key: the repair below has its say
    for attempt in attempts:
        try:
            obj = _decode(attempt)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            return obj
    return None


# An object cut off inside its first key, or right after it (and its colon).
_FIRST_KEY_CUT = re.compile(
    r'\{[ \t\n\r]*(?:(?P<key>"(?:[^"\\]|\\.)*+")[ \t\n\r]*(?P<colon>:)?[ \t\n\r]*'
    r'|"(?:[^"\\]|\\.)*+)?\Z'
)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _quick_fix(candidate: str) -> dict[str, Any] | None:
    """The two commonest slips, fixed without a full repair pass: a trailing comma, and a Python-style
    dict in single quotes (only when the text has no double quote, so no apostrophe is mistaken)."""
    fixed = _TRAILING_COMMA.sub(r"\1", candidate)
    if '"' not in fixed:
        fixed = fixed.replace("'", '"')
    if fixed == candidate:
        return None
    try:
        obj = _decode(fixed)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _repair(candidate: str) -> Any:
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
