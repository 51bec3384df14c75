"""PHEE json lines as EE records (the first annotation set of each sentence).

Nested sub-arguments become dotted roles exactly as in the paper's Figure 6 (``Treatment.Drug``,
``Treatment.Time_elapsed``); a discontinuous mention becomes the contiguous span covering it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prouie.readers.base import (
    DATASET,
    Format,
    ReadStats,
    as_object,
    guarded,
    natural_label,
    record_id,
    register,
    take,
)
from prouie.records import Example, RecordError, iter_json_lines, new_example

PHEE_EVENT_TYPES = ("Potential_therapeutic_event", "Adverse_event")  # Figure 6's key order
PHEE_ROLE_ORDER = (
    "Subject",
    "Subject.Age",
    "Subject.Gender",
    "Subject.Population",
    "Subject.Race",
    "Subject.Disorder",
    "Treatment",
    "Treatment.Drug",
    "Treatment.Dosage",
    "Treatment.Freq",
    "Treatment.Route",
    "Treatment.Time_elapsed",
    "Treatment.Duration",
    "Treatment.Disorder",
    "Treatment.Combination.Drug",
    "Effect",
    "Severity",
    "Speculated",
    "Negated",
)
_PHEE_SPAN_KEYS = {"text", "start", "entity_id", "value"}


def _phee_mentions(node: Any, where: str, field_name: str) -> list[tuple[str, int]]:
    """(text, start) of each mention of a PHEE span node; a discontinuous mention becomes its cover."""
    node = as_object(node, where, field_name)
    texts, starts = node.get("text"), node.get("start")
    if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
        raise RecordError(where, field_name, "needs parallel 'text' and 'start' lists")
    out = []
    for segs, offs in zip(texts, starts, strict=True):
        if (
            not isinstance(segs, list)
            or not isinstance(offs, list)
            or len(segs) != len(offs)
            or not segs
        ):
            raise RecordError(
                where, field_name, "each mention needs parallel text/start segment lists"
            )
        if not all(type(t) is str for t in segs) or not all(type(o) is int for o in offs):
            raise RecordError(
                where, field_name, "mention segments must be strings with integer starts"
            )
        out.append((segs, offs))
    return out


def _cover(segs: list[str], offs: list[int]) -> tuple[int, int]:
    """The contiguous span covering every piece of a (possibly discontinuous, unordered) mention."""
    return min(offs), max(o + len(t) for t, o in zip(segs, offs, strict=True))


def _phee_args(
    node: dict, prefix: str, text: str, where: str, field_name: str, counts: dict
) -> list[dict]:
    """Arguments of an event node in annotation order; nested sub-arguments get dotted roles."""
    args = []
    for key, val in node.items():
        if key in _PHEE_SPAN_KEYS or not isinstance(val, dict) or "text" not in val:
            continue
        role = f"{prefix}{key}"
        for segs, offs in _phee_mentions(val, where, f"{field_name}.{key}"):
            start, last = _cover(segs, offs)
            if len(segs) > 1:
                counts["discontinuous"] = counts.get("discontinuous", 0) + 1
            args.append(
                {
                    "role": role,
                    "text": text[start:last] if len(segs) > 1 else segs[0],
                    "start": start,
                    "end": last,
                }
            )
        args.extend(_phee_args(val, f"{role}.", text, where, f"{field_name}.{key}", counts))
    return args


def read_phee(
    path: str | Path,
    *,
    dataset: str | None = None,
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Read PHEE json lines as EE records (first annotation set of each sentence).

    Nested sub-arguments become dotted roles exactly as in the paper's Figure 6 (``Treatment.Drug``,
    ``Treatment.Time_elapsed``). Event types become ``adverse event`` / ``potential therapeutic
    event``. A discontinuous mention becomes the contiguous span that covers its pieces, so it stays
    a substring of the input; ``meta["discontinuous"]`` counts them.
    """
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    ds = dataset or "PHEE"
    found: dict[str, None] = {}
    types: dict[str, None] = {}
    for _, raw in iter_json_lines(path):
        anns = raw.get("annotations") if isinstance(raw, dict) else None
        first = anns[0] if isinstance(anns, list) and anns else None
        events = first.get("events") if isinstance(first, dict) else None
        for ev in events if isinstance(events, list) else ():
            if isinstance(ev, dict):
                types.setdefault(ev.get("event_type"))
                for a in _safe_roles(ev, ""):
                    found.setdefault(a)
    roles = [r for r in PHEE_ROLE_ORDER if r in found] + [
        r for r in found if r not in PHEE_ROLE_ORDER
    ]
    event_types = [t for t in PHEE_EVENT_TYPES if t in types or not types] + [
        t for t in types if t not in PHEE_EVENT_TYPES and isinstance(t, str)
    ]
    labels = [natural_label(t) for t in event_types]

    def build(where: str, raw: Any, i: int) -> Example:
        text = take(raw, "context", where, "context")
        anns = take(raw, "annotations", where, "annotations", list)
        ex = new_example(
            id=record_id(raw, where, f"{ds}-{i}"),
            dataset=ds,
            task="ee",
            text=text,
            labels=labels,
            roles=roles,
        )
        counts: dict[str, int] = {}
        first = as_object(anns[0], where, "annotations[0]") if anns else {}
        events = first.get("events")
        if events is not None:
            events = take(first, "events", where, "annotations[0].events", list)
        for j, ev in enumerate(events or []):
            fname = f"annotations[0].events[{j}]"
            ev = as_object(ev, where, fname)
            etype = take(ev, "event_type", where, ("{}.event_type", fname))
            trig = take(ev, "Trigger", where, ("{}.Trigger", fname), dict)
            (segs, offs), *_ = _phee_mentions(trig, where, f"{fname}.Trigger")
            start, end = _cover(segs, offs)
            body = {k: v for k, v in ev.items() if k != "Trigger"}
            ex["events"].append(
                {
                    "type": natural_label(etype),
                    "trigger": {
                        "text": text[start:end] if len(segs) > 1 else segs[0],
                        "start": start,
                        "end": end,
                    },
                    "arguments": _phee_args(body, "", text, where, fname, counts),
                }
            )
        if counts:
            ex["meta"].update(counts)
        return ex

    yield from guarded(iter_json_lines(path), build, stats, on_error)


def _safe_roles(node: dict, prefix: str) -> Iterator[str]:
    for key, val in node.items():
        if (
            key == "Trigger"
            or key in _PHEE_SPAN_KEYS
            or not isinstance(val, dict)
            or "text" not in val
        ):
            continue
        yield f"{prefix}{key}"
        yield from _safe_roles(val, f"{prefix}{key}.")


register(Format("phee", read_phee, "PHEE json lines (pharmacovigilance events)", (DATASET,)))
