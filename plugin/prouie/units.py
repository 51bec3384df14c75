"""Structural units (paper 2.5.2): the single basis of targets' round trip, metrics and SFR.

- NER: T = {type}, P = {(type, value)}
- RE:  T = {type}, R = {(type, head, tail)}, H = {(type, head)}, A = {(type, tail)}
- EE:  E = {event type}, T = {(event type, trigger)}, role-argument pairs grouped by trigger
- slot: (slot, value) for every slot of the schema, "" when empty (slot-level ExactAcc)

This module also holds the value-level grammar of the target format (paper Figures 4-8), shared by
rendering and parsing so the two can never disagree:

- NER value:  ``"a | b"``
- RE value:   ``"head, tail | head2, tail2"``
- EE value:   ``"TRIGGER: ROLE: argument; ROLE: argument | TRIGGER2: ..."``
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from prouie.records import TASKS, Example

SEP = " | "
PAIR_SEP = ", "
ARG_SEP = "; "
KV_SEP = ": "

_EMPTY: frozenset = frozenset()


class Problem(NamedTuple):
    """One thing wrong with a model output (or a target that cannot round-trip).

    A NamedTuple: outputs with problems are common in training, and a tuple is cheap to build.
    """

    kind: str
    key: str | None = None
    detail: str = ""


# Problem kinds, in the order a report lists them.
PROBLEM_KINDS = (
    "unparseable",
    "not_object",
    "truncated",
    "invalid_json",
    "extra_text",
    "duplicate_key",
    "unknown_key",
    "non_string_value",
    "empty_value",
    "not_substring",
    "duplicate_value",
    "malformed_pair",
    "malformed_group",
)


class Units(NamedTuple):
    """The unit sets of one output or one gold record; compared with ``==``.

    A NamedTuple rather than a frozen dataclass: one is built for every prediction and every
    rollout, and a tuple is several times cheaper to build.
    """

    task: str
    types: frozenset[str] = _EMPTY
    pairs: frozenset[tuple[str, str]] = _EMPTY
    triples: frozenset[tuple[str, str, str]] = _EMPTY
    groups: frozenset[tuple[str, str, frozenset[tuple[str, str]]]] = _EMPTY
    slots: tuple[tuple[str, str], ...] = ()

    @property
    def heads(self) -> frozenset[tuple[str, str]]:
        return frozenset((t, h) for t, h, _ in self.triples)

    @property
    def tails(self) -> frozenset[tuple[str, str]]:
        return frozenset((t, a) for t, _, a in self.triples)

    @property
    def events(self) -> frozenset[str]:
        return frozenset(e for e, _, _ in self.groups)

    @property
    def triggers(self) -> frozenset[tuple[str, str]]:
        return frozenset((e, t) for e, t, _ in self.groups)

    @property
    def arguments(self) -> frozenset[tuple[str, str, str]]:
        return frozenset((e, r, a) for e, _, args in self.groups for r, a in args)


def empty_units(task: str, labels: list[str] | tuple[str, ...] = ()) -> Units:
    """The units of an output that extracted nothing (slot task: every slot empty)."""
    if task == "slot":
        return Units(task, slots=tuple((s, "") for s in labels))
    return Units(task)


# ----------------------------------------------------------------------------- gold units


def units_from_example(ex: Example) -> Units:
    """Gold units of a canonical record.

    EE groups are keyed by (event type, trigger text): two events of one type whose triggers are the
    same string merge into one group, which is all the target format can express.

    >>> ex = {"task": "ner", "labels": ["person"], "text": "Kevin",
    ...       "entities": [{"type": "person", "text": "Kevin", "start": 0, "end": 5}]}
    >>> sorted(units_from_example(ex).pairs)
    [('person', 'Kevin')]
    """
    task = ex["task"]
    if task == "ner":
        pairs = frozenset((e["type"], e["text"]) for e in ex.get("entities") or ())
        return Units(task, types=frozenset(t for t, _ in pairs), pairs=pairs)
    if task == "re":
        triples = frozenset(
            (r["type"], r["head"]["text"], r["tail"]["text"]) for r in ex.get("relations") or ()
        )
        return Units(task, types=frozenset(t for t, _, _ in triples), triples=triples)
    if task == "ee":
        merged: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for ev in ex.get("events") or ():
            args = merged.setdefault((ev["type"], ev["trigger"]["text"]), set())
            args.update((a["role"], a["text"]) for a in ev.get("arguments") or ())
        groups = frozenset((e, t, frozenset(a)) for (e, t), a in merged.items())
        return Units(task, types=frozenset(e for e, _ in merged), groups=groups)
    if task == "slot":
        values: dict[str, list[str]] = {s: [] for s in ex["labels"]}
        for e in sorted_spans(ex.get("entities") or ()):
            vals = values[e["type"]]
            v = e["text"].strip()
            if v not in vals:
                vals.append(v)
        return Units(task, slots=tuple((s, SEP.join(v)) for s, v in values.items()))
    raise ValueError(f"unknown task {task!r}")


def sorted_spans(spans: Any) -> list:
    """Spans in order of first appearance (by start offset; spans without one keep list order, last)."""
    inf = float("inf")
    return sorted(spans, key=lambda s: inf if s.get("start") is None else s["start"])


# ----------------------------------------------------------------------------- value grammar


def loose(s: str) -> str:
    """The loose form of a string: case folded, whitespace runs collapsed to one space, trimmed.

    >>> loose("  New\\tYORK ")
    'new york'
    """
    return " ".join(s.split()).casefold()


def split_re_pair(pair: str, input_text: str | None = None) -> tuple[str, str] | None:
    """Split ``"head, tail"``; ``None`` when there is no ``", "``.

    When the pair holds more than one ``", "``, the split whose both sides are substrings of the input
    wins (the leftmost such split); failing that, the leftmost split whose sides are substrings once
    case and spacing are ignored (as loose matching compares them); without an input, or when none
    qualifies, the leftmost split. Splits with a side longer than the input are not tried, which
    bounds the work by the input's length.

    >>> split_re_pair("Paris, France, Europe", "Paris, France is in Europe")
    ('Paris, France', 'Europe')
    >>> split_re_pair("upper marlboro , md., USA", "Upper Marlboro , Md. , USA")
    ('upper marlboro , md.', 'USA')
    """
    first = pair.find(PAIR_SEP)
    if first < 0:
        return None
    if input_text is not None and pair.find(PAIR_SEP, first + 1) >= 0:
        n = len(input_text)
        seps = [
            i
            for i in range(max(first, len(pair) - 2 - n), min(len(pair), n + 1))
            if pair.startswith(PAIR_SEP, i)
        ]
        for norm in (str, loose):
            text = norm(input_text)
            for pos in seps:
                if norm(pair[:pos]) in text and norm(pair[pos + 2 :]) in text:
                    return pair[:pos], pair[pos + 2 :]
    return pair[:first], pair[first + 2 :]


def split_ee_group(
    group: str, roles: Collection[str] | None = None
) -> tuple[str, list[tuple[str, str]]] | None:
    """Split ``"TRIGGER: ROLE: argument; ROLE: argument"`` into the trigger and its pairs.

    A group without ``": "`` is a bare trigger (an event with no arguments). With the schema's roles
    known, a trigger or an argument that itself contains ``": "`` / ``"; "`` is recovered: the split
    point is chosen so that every role is a known role. Returns ``None`` when a piece has no role.

    >>> split_ee_group("developed: Subject: patient; Effect: a lesion", {"Subject", "Effect"})
    ('developed', [('Subject', 'patient'), ('Effect', 'a lesion')])
    """
    pieces = group.split(ARG_SEP)
    first = pieces[0]
    cut = first.find(KV_SEP)
    if cut < 0:
        if len(pieces) > 1:
            return None
        return first, []
    role, sep, arg = first[cut + 2 :].partition(KV_SEP)
    if roles and not (sep and role in roles):
        # The trigger ends at the first ": " that is followed by a known role (and its ": ").
        pos = first.find(KV_SEP, cut + 1)
        while pos >= 0:
            r, s, a = first[pos + 2 :].partition(KV_SEP)
            if s and r in roles:
                cut, role, sep, arg = pos, r, s, a
                break
            pos = first.find(KV_SEP, pos + 1)
    if not sep:
        return None
    pairs = [(role, arg)]
    for i in range(1, len(pieces)):
        piece = pieces[i]
        role, sep, arg = piece.partition(KV_SEP)
        if sep and (not roles or role in roles):
            pairs.append((role, arg))
        elif roles:
            # "; " inside an argument: glue the piece back onto the previous argument. (So with
            # roles known, only the first pair can have a role outside them.)
            prev_role, prev_arg = pairs[-1]
            pairs[-1] = (prev_role, prev_arg + ARG_SEP + piece)
        else:
            return None
    return first[:cut], pairs


def units_from_obj(
    obj: dict[str, Any],
    task: str,
    labels: list[str] | tuple[str, ...],
    roles: list[str] | tuple[str, ...] | None = None,
    input_text: str | None = None,
) -> tuple[Units, list[Problem]]:
    """Units of a decoded target object plus every problem seen; never raises on the object.

    Unknown keys, non-string values, empty values (``"Kevin | "``), values that are not substrings
    of ``input_text`` (when given), duplicates and malformed pairs/groups are reported. What can be
    kept is kept: a value that is not a substring still counts as a unit (the metric, not the
    parser, decides it is wrong); values under unknown keys are dropped. A list of strings where a
    joined string was asked for is joined and reported as ``non_string_value``. An unknown task
    raises ValueError.

    >>> units, problems = units_from_obj({"person": "Ann | Bob"}, "ner", ["person"], input_text="Ann, Bob")
    >>> sorted(units.pairs), problems
    ([('person', 'Ann'), ('person', 'Bob')], [])
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    problems: list[Problem] = []
    known = frozenset(labels)
    role_set = frozenset(roles) if roles else None
    slots = dict.fromkeys(labels, "") if task == "slot" else {}
    units: set[tuple[str, ...]] = set()
    groups: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for key, value in obj.items():
        value = _value(key, value, known, problems)
        if not value:
            continue
        if task == "slot":
            slots[key] = value.strip()
            continue
        parts = value.split(SEP)
        # One part is the (non-empty) value itself: nothing to drop or report.
        for part in _unique_parts(key, parts, problems) if len(parts) > 1 else parts:
            if task == "ner":
                _check_in(input_text, key, (part,), problems)
                units.add((key, part))
            elif task == "re":
                pair = split_re_pair(part, input_text)
                if pair is None or not pair[0] or not pair[1]:
                    problems.append(Problem("malformed_pair", key, part))
                    continue
                _check_in(input_text, key, pair, problems)
                units.add((key, *pair))
            else:
                group = split_ee_group(part, role_set)
                if group is None or not group[0]:
                    problems.append(Problem("malformed_group", key, part))
                    continue
                trigger, args = group
                _check_in(input_text, key, (trigger, *(arg for _, arg in args)), problems)
                # split_ee_group glues a piece whose role is unknown onto the argument before
                # it, so only the first pair can have one.
                if role_set is not None and args and args[0][0] not in role_set:
                    problems.append(Problem("malformed_group", key, f"unknown role {args[0][0]!r}"))
                groups.setdefault((key, trigger), set()).update(args)
    if task == "slot":
        return Units(task, slots=tuple(slots.items())), problems
    if task == "ner":
        return Units(task, types=frozenset(t for t, _ in units), pairs=frozenset(units)), problems
    if task == "re":
        return Units(
            task, types=frozenset(t for t, *_ in units), triples=frozenset(units)
        ), problems
    return Units(
        task,
        types=frozenset(e for e, _ in groups),
        groups=frozenset((e, t, frozenset(a)) for (e, t), a in groups.items()),
    ), problems


def _check_in(
    input_text: str | None, key: str, strings: tuple[str, ...], problems: list[Problem]
) -> None:
    """Note every string that is not a substring of the input (when the input is known)."""
    if input_text is not None:
        for s in strings:
            if s not in input_text:
                problems.append(Problem("not_substring", key, s))


def _value(key: str, value: Any, known: Any, problems: list[Problem]) -> str:
    """The string value of a known key ("" when there is nothing to read), problems noted."""
    if type(value) is str and key in known:
        return value
    if key not in known:
        problems.append(Problem("unknown_key", key))
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        problems.append(Problem("non_string_value", key, "list"))
        return SEP.join(value)
    problems.append(Problem("non_string_value", key, type(value).__name__))
    return ""


def _unique_parts(key: str, parts: list[str], problems: list[Problem]) -> list[str]:
    """Parts of a joined value without empties and repeats, each noted as a problem."""
    out: list[str] = []
    for part in parts:
        if not part:
            problems.append(Problem("empty_value", key))
        elif part in out:
            problems.append(Problem("duplicate_value", key, part))
        else:
            out.append(part)
    return out
