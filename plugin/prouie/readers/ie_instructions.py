"""IE_INSTRUCTIONS (InstructUIE layout): ``<root>/{NER,RE,EE}/<dataset>/{train,dev,test}.json``.

Each split file is a JSON array streamed with ijson; ``labels.json`` beside it is the schema
(for EE: ``[event_types, role_types]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from prouie.readers.base import (
    DATASET,
    SPLITS,
    TASK,
    Format,
    Option,
    ReadStats,
    as_object,
    guarded,
    pos,
    register,
    stream_array,
    take,
)
from prouie.records import Example, RecordError, load_json, new_example, strings

_TASKS = {"NER": "ner", "RE": "re", "EE": "ee"}


def _files(
    root: Path, task: str | None, dataset: str | None, split: str | None
) -> list[tuple[str, str, Path, Path]]:
    """(task, dataset, split file, labels file) under a root, a task folder or a dataset folder."""
    if root.is_file():
        return [
            (
                task or _guess_task(root),
                dataset or root.parent.name,
                root,
                root.parent / "labels.json",
            )
        ]
    if (root / "labels.json").exists():  # a dataset folder
        dataset_dirs = [(task or _TASKS.get(root.parent.name.upper()), root)]
    elif root.name.upper() in _TASKS:  # a task folder
        dataset_dirs = [
            (_TASKS[root.name.upper()], d) for d in sorted(root.iterdir()) if d.is_dir()
        ]
    else:
        dataset_dirs = [
            (t, d)
            for name, t in _TASKS.items()
            if (root / name).is_dir()
            for d in sorted((root / name).iterdir())
            if d.is_dir()
        ]
    out = []
    for t, d in dataset_dirs:
        if t is None:
            raise RecordError(str(d), "task", "cannot tell the task from the folder; pass --task")
        if task and t != task or dataset and d.name != dataset:
            continue
        for s in [split] if split else SPLITS:
            f = d / f"{s}.json"
            if f.is_file():
                out.append((t, d.name, f, d / "labels.json"))
    if not out:
        raise FileNotFoundError(
            f"{root}: no IE_INSTRUCTIONS split files match task={task} dataset={dataset} split={split}"
        )
    return out


def _guess_task(path: Path) -> str:
    for part in reversed(path.parts):
        if part.upper() in _TASKS:
            return _TASKS[part.upper()]
    raise RecordError(str(path), "task", "cannot tell the task from the path; pass --task")


def _labels(path: Path, task: str) -> tuple[list[str], list[str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: labels.json is missing beside the split file")
    data = load_json(path)
    where = str(path)
    if task == "ee":
        if not (isinstance(data, list) and len(data) == 2):
            raise RecordError(where, "<file>", "EE labels.json must be [event_types, role_types]")
        return strings(data[0], where, "[0]"), strings(data[1], where, "[1]")
    if not isinstance(data, list):
        raise RecordError(where, "<file>", "labels.json must be a JSON array of label names")
    return strings(data, where, "<file>"), []


def _entities(raw: Any, where: str) -> list[dict]:
    out = []
    for j, e in enumerate(take(raw, "entities", where, "entities", list)):
        s, en = pos(as_object(e, where, ("entities[{}]", j)))
        out.append(
            {
                "type": take(e, "type", where, ("entities[{}].type", j)),
                "text": take(e, "name", where, ("entities[{}].name", j)),
                "start": s,
                "end": en,
            }
        )
    return out


def _relations(raw: Any, where: str) -> list[dict]:
    out = []
    for j, r in enumerate(take(raw, "relations", where, "relations", list)):
        sides = {}
        for side in ("head", "tail"):
            o = take(r, side, where, ("relations[{}].{}", j, side), dict)
            s, en = pos(o)
            sides[side] = {
                "text": take(o, "name", where, ("relations[{}].{}.name", j, side)),
                "type": o.get("type") or "",
                "start": s,
                "end": en,
            }
        out.append({"type": take(r, "type", where, ("relations[{}].type", j)), **sides})
    return out


def _events(raw: Any, where: str) -> list[dict]:
    out = []
    for j, ev in enumerate(take(raw, "events", where, "events", list)):
        s, en = pos(as_object(ev, where, ("events[{}]", j)))
        args = []
        arguments = take(ev, "arguments", where, ("events[{}].arguments", j), list, or_empty=True)
        for k, a in enumerate(arguments):
            as_, ae = pos(as_object(a, where, ("events[{}].arguments[{}]", j, k)))
            args.append(
                {
                    "role": take(a, "role", where, ("events[{}].arguments[{}].role", j, k)),
                    "text": take(a, "name", where, ("events[{}].arguments[{}].name", j, k)),
                    "start": as_,
                    "end": ae,
                }
            )
        trigger = take(ev, "trigger", where, ("events[{}].trigger", j))
        out.append(
            {
                "type": take(ev, "type", where, ("events[{}].type", j)),
                "trigger": {"text": trigger, "start": s, "end": en},
                "arguments": args,
            }
        )
    return out


_SPANS = {
    "ner": ("entities", _entities),
    "re": ("relations", _relations),
    "ee": ("events", _events),
}


def _example(
    where: str, raw: Any, i: int, *, task: str, dataset: str, split: str, labels: list, roles: list
) -> Example:
    ex = new_example(
        id=f"{dataset}-{split}-{i}",
        dataset=dataset,
        task=task,
        text=take(raw, "sentence", where, "sentence"),
        labels=labels,
        roles=roles,
        meta={"split": split},
    )
    key, spans = _SPANS[task]
    ex[key] = spans(raw, where)
    return ex


def read_ie_instructions(
    path: str | Path,
    *,
    task: str | None = None,
    dataset: str | None = None,
    split: str | None = None,
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Read the InstructUIE layout ``<root>/{NER,RE,EE}/<dataset>/{train,dev,test}.json``."""
    stats = stats if stats is not None else ReadStats()
    for t, ds, file, labels_file in _files(Path(path), task, dataset, split):
        labels, roles = _labels(labels_file, t)
        build = partial(_example, task=t, dataset=ds, split=file.stem, labels=labels, roles=roles)
        yield from guarded(stream_array(file), build, stats, on_error)


register(
    Format(
        "ie_instructions",
        read_ie_instructions,
        "InstructUIE layout: <root>/{NER,RE,EE}/<dataset>/{train,dev,test}.json + labels.json",
        (TASK, DATASET, Option("split", "split to read (train/dev/test; default: all)")),
        folder=True,
    )
)
