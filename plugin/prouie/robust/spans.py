"""Rewriting a record's text while every gold span follows: the one place offsets are recomputed.

A perturbation is a list of :class:`Edit` (replace ``text[start:end]`` by ``new``) on the record's
text. :func:`apply_edits` applies them and moves every span of the record: a span before or after an
edit shifts, a span that contains an edit (or is exactly the edited range) gets its new text, and
an edit that crosses a span boundary is refused (:class:`SpanBroken`), because no offset could say
what the gold mention became. Types, roles and the number of spans never change.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from prouie.records import Example, RecordError, Span, validate_example


@dataclass(frozen=True, order=True)
class Edit:
    """Replace ``text[start:end]`` by ``new`` (``start == end`` inserts)."""

    start: int
    end: int
    new: str


class SpanBroken(ValueError):
    """An edit would cut a gold span, or the rewritten record is not valid."""


def spans(record: Example) -> Iterator[Span]:
    """Every span of a record: entities, relation heads and tails, triggers and arguments."""
    yield from record.get("entities") or ()
    for r in record.get("relations") or ():
        yield r["head"]
        yield r["tail"]
    for ev in record.get("events") or ():
        yield ev["trigger"]
        yield from ev["arguments"]


def covered(record: Example) -> list[tuple[int, int]]:
    """The (start, end) ranges of the record's spans, sorted."""
    return sorted({(s["start"], s["end"]) for s in spans(record) if s.get("start") is not None})


def fits(edit: tuple[int, int], span: tuple[int, int]) -> bool:
    """Whether an edit of ``edit`` (start, end) lies inside or outside ``span``, cutting no edge."""
    (a, b), (start, end) = edit, span
    return (start <= a and b <= end) or b <= start or a >= end


def _shift(edits: Sequence[Edit], pos: int, *, is_end: bool) -> int:
    """Where ``pos`` of the old text lands in the new one.

    An insertion exactly at a span's start goes before the span and one exactly at its end goes
    after it, so a span never swallows inserted text.
    """
    delta = 0
    for e in edits:
        if e.end < pos or (e.end == pos and (not is_end or e.start < pos)):
            delta += len(e.new) - (e.end - e.start)
    return pos + delta


def apply_edits(record: Example, edits: Sequence[Edit], where: str = "") -> Example:
    """A deep copy of ``record`` with ``edits`` applied to its text and every span moved.

    Raises :class:`SpanBroken` when edits overlap each other or cross a span boundary, and when the
    result does not validate (every span an exact substring at its offsets).

    >>> rec = {"id": "1", "dataset": "d", "task": "ner", "text": "Ann met Bob", "labels": ["person"],
    ...        "entities": [{"type": "person", "text": "Bob", "start": 8, "end": 11}]}
    >>> apply_edits(rec, [Edit(4, 7, "greeted")])["entities"][0]
    {'type': 'person', 'text': 'Bob', 'start': 12, 'end': 15}
    """
    ordered = sorted(edits)
    for a, b in pairwise(ordered):
        if b.start < a.end:
            raise SpanBroken(f"edits overlap: {a} and {b}")
    text = record["text"]
    pieces, last = [], 0
    for e in ordered:
        pieces += [text[last : e.start], e.new]
        last = e.end
    new_text = "".join(pieces) + text[last:]
    out = copy.deepcopy(record)
    out["text"] = new_text
    for span in spans(out):
        start, end = span.get("start"), span.get("end")
        if start is None:
            raise SpanBroken(f"span {span.get('text')!r} has no offsets")
        for e in ordered:
            if not fits((e.start, e.end), (start, end)):
                raise SpanBroken(f"edit {e} cuts span {span['text']!r} [{start}:{end}]")
        span["start"] = _shift(ordered, start, is_end=False)
        span["end"] = _shift(ordered, end, is_end=True)
        span["text"] = new_text[span["start"] : span["end"]]
        if not span["text"]:
            raise SpanBroken(f"edit {ordered} empties a span")
    try:
        return validate_example(out, where or str(record.get("id")))
    except RecordError as exc:
        raise SpanBroken(str(exc)) from None
