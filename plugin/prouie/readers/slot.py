"""Custom slot data: jsonl ``{"text", "slots": {name: value | [values]}}`` with a YAML schema.

The schema lists the slots with their definitions (``slots: [{name, definition}]`` or a mapping
``name: definition``); the definitions go into the prompt.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prouie.readers.base import (
    DATASET,
    Format,
    Option,
    ReadStats,
    guarded,
    load_yaml,
    record_id,
    register,
    take,
)
from prouie.records import Example, RecordError, iter_json_lines, new_example


def load_slot_schema(path: str | Path) -> tuple[list[str], dict[str, str]]:
    """A slot schema YAML: ``slots: [{name, definition}]`` or a mapping ``name: definition``."""
    path = Path(path)
    data = load_yaml(path)
    items = data.get("slots", data) if isinstance(data, dict) else data
    names: list[str] = []
    defs: dict[str, str] = {}
    if isinstance(items, dict):
        for k, v in items.items():
            names.append(str(k))
            defs[str(k)] = "" if v is None else str(v).strip()
    elif isinstance(items, list):
        for i, it in enumerate(items):
            if not isinstance(it, dict) or not isinstance(it.get("name"), str):
                raise RecordError(str(path), f"slots[{i}].name", "each slot needs a string 'name'")
            names.append(it["name"])
            defs[it["name"]] = str(it.get("definition") or "").strip()
    else:
        raise RecordError(str(path), "slots", "must be a list of {name, definition} or a mapping")
    if not names:
        raise RecordError(str(path), "slots", "the schema defines no slot")
    if len(set(names)) != len(names):
        raise RecordError(str(path), "slots", "slot names must be unique")
    return names, defs


def read_slot(
    path: str | Path,
    *,
    schema: str | Path,
    dataset: str | None = None,
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Read custom slot data (jsonl ``{"text", "slots": {name: value | [values]}}``) with its schema.

    Slot values need not be substrings of the input (production schemas may normalise them); those
    that are get offsets.
    """
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    names, defs = load_slot_schema(schema)
    known = set(names)
    ds = dataset or path.stem

    def build(where: str, raw: Any, i: int) -> Example:
        text = take(raw, "text", where, "text")
        slots = take(raw, "slots", where, "slots", dict)
        ex = new_example(
            id=record_id(raw, where, f"{ds}-{i}"),
            dataset=ds,
            task="slot",
            text=text,
            labels=names,
            meta={"definitions": defs},
        )
        for name, value in slots.items():
            if name not in known:
                raise RecordError(
                    where, f"slots.{name}", f"is not a slot of the schema ({', '.join(names)})"
                )
            values = value if isinstance(value, list) else [value]
            for v in values:
                if v is None or v == "":
                    continue
                if not isinstance(v, str):
                    raise RecordError(
                        where, f"slots.{name}", f"values must be strings, got {type(v).__name__}"
                    )
                ex["entities"].append({"type": name, "text": v, "start": None, "end": None})
        return ex

    yield from guarded(iter_json_lines(path), build, stats, on_error)


register(
    Format(
        "slot",
        read_slot,
        "custom slot jsonl with a YAML schema of slots and definitions",
        (DATASET, Option("schema", "slot schema YAML (slots with definitions)", required=True)),
    )
)
