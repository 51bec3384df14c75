"""The ground-truth format of the reward (``prouie.sfr/1``): what EasyR1, verl and TRL datasets carry.

EasyR1 passes nothing but the response and the ground truth to a reward, so the ground truth is one
JSON string holding everything the reward needs about its prompt: task, schema, input text and the
gold. :func:`encode_ground_truth` writes it (``prouie export-rl``); :func:`decode_ground_truth`
reads it back into a :class:`GroundTruth` and names the field of any error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from prouie.sfr.config import plain
from prouie.sfr.scorers import TASKS
from prouie.targets import render_target, round_trips
from prouie.units import Units, units_from_example, units_from_obj

GROUND_TRUTH_FORMAT = "prouie.sfr/1"


class GroundTruthError(ValueError):
    """A ground truth that is not a valid SFR ground truth (a data error, never a model error)."""


class GroundTruth(NamedTuple):
    """What the reward needs about one prompt: task, schema, input text and gold units."""

    task: str
    labels: tuple[str, ...]
    roles: tuple[str, ...]
    text: str
    units: Units
    id: str = ""


def encode_ground_truth(ex: Any) -> str:
    """The ground-truth string of a canonical record, as EasyR1 / verl / TRL datasets carry it.

    A JSON object: ``format``, ``id``, ``task``, ``labels``, ``roles`` (EE), ``text`` (the input, which
    the parser needs to split RE pairs) and ``gold``: the SA target text when it parses back to the
    record's units (one parse per prompt then yields the gold units), else the gold units as lists (``pairs`` / ``triples`` / ``groups`` /
    ``slots``), sorted so that equal records give equal strings, with the SA target beside them as
    ``target`` (for a person reading the data; the reward reads ``gold`` only).

    >>> ex = {"id": "1", "task": "ner", "labels": ["person"], "text": "Kevin",
    ...       "entities": [{"type": "person", "text": "Kevin", "start": 0, "end": 5}]}
    >>> json.loads(encode_ground_truth(ex))["gold"]
    '{"person": "Kevin"}'
    >>> clash = {**ex, "text": "A | B", "entities": [{"type": "person", "text": "A | B"}]}
    >>> gt = json.loads(encode_ground_truth(clash))
    >>> gt["gold"], gt["target"]
    ({'pairs': [['person', 'A | B']]}, '{"person": "A | B"}')
    """
    units = units_from_example(ex)
    task = ex["task"]
    target = render_target(ex, "sa")
    if round_trips(ex, "sa", target):
        # The SA target parses back to exactly these units: carrying it alone is the shortest form
        # and reads the same way as a model output.
        gold: Any = target
    elif task == "ner":
        gold = {"pairs": sorted(map(list, units.pairs))}
    elif task == "re":
        gold = {"triples": sorted(map(list, units.triples))}
    elif task == "ee":
        gold = {"groups": sorted([e, t, sorted(map(list, args))] for e, t, args in units.groups)}
    else:
        gold = {"slots": [list(s) for s in units.slots]}
    obj = {
        "format": GROUND_TRUTH_FORMAT,
        "id": str(ex.get("id", "")),
        "task": task,
        "labels": list(ex["labels"]),
        "roles": list(ex.get("roles") or []) if task == "ee" else [],
        "text": ex["text"],
        "gold": gold,
    }
    if gold is not target:
        obj["target"] = target  # readable beside gold units that the target text cannot express
    return json.dumps(obj, ensure_ascii=False)


def decode_ground_truth(ground_truth: str | Mapping[str, Any]) -> GroundTruth:
    """Read a ground truth written by :func:`encode_ground_truth` (JSON string or mapping).

    ``gold`` may also be a target text (``'{"person": "Kevin"}'``, the SA or CM target), read by the
    same unit extractor as model outputs. Raises :class:`GroundTruthError` naming the field.

    >>> decode_ground_truth({"task": "ner", "labels": ["person"], "text": "Kevin",
    ...                      "gold": '{"person": "Kevin"}'}).units.pairs
    frozenset({('person', 'Kevin')})
    """
    if isinstance(ground_truth, str):
        return _decode_text(ground_truth)
    if isinstance(ground_truth, Mapping):
        return _decode_obj(plain(ground_truth))
    raise GroundTruthError(
        f"SFR ground truth must be a JSON string or a mapping, got {type(ground_truth).__name__}"
    )


# In GRPO every prompt's ground truth comes once per rollout (8 times in a row for RE and EE):
# decoding it once per prompt halves the cost of a reward (see benchmarks/reward_throughput.py).
# The rollouts of a prompt are scored together, so the cache needs to hold about one rollout batch
# of prompts, not the dataset.
@lru_cache(maxsize=16384)
def _decode_text(ground_truth: str) -> GroundTruth:
    return _decode_obj(_json(ground_truth, "SFR ground truth"))


def _json(text: str, what: str) -> Any:
    """``json.loads(text)``, or a :class:`GroundTruthError` that says what was not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GroundTruthError(
            f"{what} is not JSON ({exc.msg} at column {exc.colno}): {text[:80]!r}"
        ) from None


def _field(obj: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in obj:
        raise GroundTruthError(f"SFR ground truth{where}: field '{name}' is missing")
    value = obj[name]
    if not isinstance(value, kind):
        raise GroundTruthError(
            f"SFR ground truth{where}: field '{name}' must be {kind.__name__}, "
            f"got {type(value).__name__}"
        )
    return value


def _strings(value: Any, n: int, name: str, where: str) -> list[tuple]:
    if not isinstance(value, list | tuple):
        raise GroundTruthError(f"SFR ground truth{where}: field 'gold.{name}' must be a list")
    out = []
    for i, item in enumerate(value):
        if (
            not isinstance(item, list | tuple)
            or len(item) != n
            or not all(isinstance(s, str) for s in item)
        ):
            raise GroundTruthError(
                f"SFR ground truth{where}: field 'gold.{name}[{i}]' must be a list of {n} strings, "
                f"got {item!r}"
            )
        out.append(tuple(item))
    return out


def _decode_obj(obj: Any) -> GroundTruth:
    if not isinstance(obj, Mapping):
        raise GroundTruthError(f"SFR ground truth must be a JSON object, got {type(obj).__name__}")
    where = f" (id {obj['id']!r})" if obj.get("id") else ""
    fmt = obj.get("format", GROUND_TRUTH_FORMAT)
    if fmt != GROUND_TRUTH_FORMAT:
        raise GroundTruthError(
            f"SFR ground truth{where}: field 'format' is {fmt!r}; this version reads "
            f"{GROUND_TRUTH_FORMAT!r} (re-run `prouie export-rl`)"
        )
    task = _field(obj, "task", str, where)
    if task not in TASKS:
        raise GroundTruthError(
            f"SFR ground truth{where}: field 'task' must be one of {', '.join(TASKS)}, got {task!r}"
        )
    labels = tuple(_field(obj, "labels", list | tuple, where))
    roles = tuple(obj.get("roles") or ())
    text = _field(obj, "text", str, where)
    gold = _field(obj, "gold", dict | str, where)
    if isinstance(gold, str):
        units = _units_of_target(gold, task, labels, roles, text, where)
    else:
        units = _units_of_gold(gold, task, labels, where)
    return GroundTruth(task, labels, roles, text, units, str(obj.get("id", "")))


def _units_of_target(
    target: str, task: str, labels: tuple, roles: tuple, text: str, where: str
) -> Units:
    obj = _json(target, f"SFR ground truth{where}: field 'gold'")
    if not isinstance(obj, dict):
        raise GroundTruthError(f"SFR ground truth{where}: field 'gold' must hold a JSON object")
    units, problems = units_from_obj(obj, task, labels, roles or None, text)
    bad = [
        p
        for p in problems
        if p.kind in ("unknown_key", "non_string_value", "malformed_pair", "malformed_group")
    ]
    if bad:
        raise GroundTruthError(
            f"SFR ground truth{where}: field 'gold': {bad[0].kind} ({bad[0].key}: {bad[0].detail})"
        )
    return units


def _units_of_gold(gold: Mapping[str, Any], task: str, labels: tuple, where: str) -> Units:
    known = set(labels)
    if task == "ner":
        pairs = frozenset(_strings(gold.get("pairs", []), 2, "pairs", where))
        _check_labels((t for t, _ in pairs), known, where)
        return Units(task, types=frozenset(t for t, _ in pairs), pairs=pairs)
    if task == "re":
        triples = frozenset(_strings(gold.get("triples", []), 3, "triples", where))
        _check_labels((t for t, _, _ in triples), known, where)
        return Units(task, types=frozenset(t for t, _, _ in triples), triples=triples)
    if task == "ee":
        raw = gold.get("groups", [])
        if not isinstance(raw, list | tuple):
            raise GroundTruthError(f"SFR ground truth{where}: field 'gold.groups' must be a list")
        merged: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for i, item in enumerate(raw):
            if (
                not isinstance(item, list | tuple)
                or len(item) != 3
                or not isinstance(item[0], str)
                or not isinstance(item[1], str)
            ):
                raise GroundTruthError(
                    f"SFR ground truth{where}: field 'gold.groups[{i}]' must be "
                    f"[event type, trigger, [[role, argument], ...]], got {item!r}"
                )
            args = _strings(item[2], 2, f"groups[{i}][2]", where)
            merged.setdefault((item[0], item[1]), set()).update(args)
        _check_labels((e for e, _ in merged), known, where)
        groups = frozenset((e, t, frozenset(a)) for (e, t), a in merged.items())
        return Units(task, types=frozenset(e for e, _ in merged), groups=groups)
    slots = _strings(gold.get("slots", []), 2, "slots", where)
    values = dict(slots)
    _check_labels(values, known, where)
    return Units(task, slots=tuple((s, values.get(s, "")) for s in labels))


def _check_labels(types: Any, known: set[str], where: str) -> None:
    for t in types:
        if t not in known:
            raise GroundTruthError(
                f"SFR ground truth{where}: gold type {t!r} is not in field 'labels'"
            )
