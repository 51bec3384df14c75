"""The embedded default corpus: a small NER / RE / EE corpus drawn from ``corpus.yaml``.

The word pools and sentence templates are data (``corpus.yaml``); this module fills the templates
with a seeded :class:`random.Random`, so the same arguments always give the same records, and
writes canonical records (``prouie.records``) with exact character offsets, split into train,
validation and test. The test split uses the same templates and pools as training (a tiny model
learns the pattern, not the world), but its sentences are drawn independently.

>>> splits = generate(train=8, validation=2, test=2)
>>> sorted(splits), [len(splits["train"][t]) for t in ("ner", "re", "ee")]
(['test', 'train', 'validation'], [8, 8, 8])
>>> ex = splits["train"]["re"][0]
>>> all(ex["text"][r["head"]["start"]:r["head"]["end"]] == r["head"]["text"] for r in ex["relations"])
True
"""

from __future__ import annotations

import json
import random
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from prouie.paths import atomic_open
from prouie.records import Example, Span, new_example, validate_example

DATASET = "quickstart"
SPLITS = ("train", "validation", "test")
CORPUS_TASKS = ("ner", "re", "ee")
_SLOT = re.compile(r"\{(\w+):(\w+)\}")


@cache
def spec() -> dict[str, Any]:
    """The pools and templates of ``corpus.yaml`` (read once)."""
    import yaml

    text = resources.files("prouie.quickstart").joinpath("corpus.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def _fill(template: str, pools: dict[str, list[str]], rng: random.Random) -> tuple[str, dict]:
    """Fill the ``{name:pool}`` slots; return the text and ``name -> (pool, text, start, end)``."""
    slots: dict[str, tuple[str, str, int, int]] = {}
    used: set[str] = set()
    parts: list[str] = []
    pos = last = 0
    for m in _SLOT.finditer(template):
        parts.append(template[last : m.start()])
        pos += m.start() - last
        name, pool = m.groups()
        value = rng.choice([v for v in pools[pool] if v not in used])
        used.add(value)
        slots[name] = (pool, value, pos, pos + len(value))
        parts.append(value)
        pos += len(value)
        last = m.end()
    parts.append(template[last:])
    return "".join(parts), slots


def _span(slot: tuple[str, str, int, int], **extra: str) -> Span:
    _, text, start, end = slot
    return {"text": text, "start": start, "end": end, **extra}  # type: ignore[typeddict-item]


def _example(task: str, index: int, split: str, rng: random.Random) -> Example:
    task_spec = spec()[task]
    pools = spec()["pools"]
    entry = rng.choice(task_spec["templates"])
    template = entry if isinstance(entry, str) else entry["text"]
    text, slots = _fill(template, pools, rng)
    ex = new_example(
        id=f"{DATASET}-{task}-{split}-{index}",
        dataset=DATASET,
        task=task,  # type: ignore[arg-type]
        text=text,
        labels=list(task_spec["labels"]),
        roles=list(task_spec.get("roles") or []),
        meta={"split": split, "template": template},
    )
    if task == "ner":
        ex["entities"] = [
            _span(s, type=s[0]) for s in slots.values() if s[0] in task_spec["labels"]
        ]
    elif task == "re":
        ex["relations"] = [
            {"type": kind, "head": _span(slots[h]), "tail": _span(slots[t])}
            for kind, h, t in entry["relations"]
        ]
    else:
        ex["events"] = [
            {
                "type": ev["type"],
                "trigger": _span(slots[ev["trigger"]]),
                "arguments": [_span(slots[name], role=role) for role, name in ev["arguments"]],
            }
            for ev in entry["events"]
        ]
    return validate_example(ex, f"{DATASET} {ex['id']}")


def generate(
    train: int = 320, validation: int = 40, test: int = 40, seed: int = 0
) -> dict[str, dict[str, list[Example]]]:
    """``split -> task -> records``: the corpus with ``train``/``validation``/``test`` records per
    task, the same for the same arguments."""
    sizes = {"train": train, "validation": validation, "test": test}
    out: dict[str, dict[str, list[Example]]] = {}
    for split in SPLITS:
        out[split] = {}
        for task in CORPUS_TASKS:
            # One generator per (split, task): changing one size leaves the other files unchanged.
            rng = random.Random(f"{seed}-{split}-{task}")
            out[split][task] = [_example(task, i, split, rng) for i in range(sizes[split])]
    return out


def write(splits: dict[str, dict[str, list[Example]]], out_dir: str | Path) -> dict[str, Path]:
    """Write ``<task>_<split>.jsonl`` files into ``out_dir`` (through temporary files); return the
    paths keyed ``<task>_<split>``."""
    out = Path(out_dir)
    paths = {}
    for split, by_task in splits.items():
        for task, records in by_task.items():
            path = out / f"{task}_{split}.jsonl"
            with atomic_open(path) as fh:
                for ex in records:
                    fh.write(json.dumps(ex, ensure_ascii=False) + "\n")
            paths[f"{task}_{split}"] = path
    return paths
