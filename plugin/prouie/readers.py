"""Readers: raw IE data sets -> canonical Example records, streamed one record at a time.

Formats: ``ie_instructions`` (InstructUIE layout), ``iepile`` (raw jsonl), ``conll`` (BIO, IOB1 or
IOB2), ``phee`` (json lines with nested arguments), ``fewrel`` (json keyed by relation id), ``slot``
(a YAML schema of slots with definitions plus jsonl data) and ``records`` (canonical jsonl).

Every reader fails loudly on malformed input with :class:`~prouie.records.RecordError` naming file,
line (or array index) and field. With ``on_error="skip"`` the record is skipped and counted instead.
Arrays are streamed with ijson, so memory stays flat however large the file is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prouie.records import (
    Example,
    RecordError,
    iter_json_lines,
    iter_jsonl,
    new_example,
    validate_example,
)

FORMATS = ("ie_instructions", "iepile", "conll", "phee", "fewrel", "slot", "records")
SPLITS = ("train", "dev", "test")


@dataclass
class ReadStats:
    """What a read did: records yielded, skipped (with the first errors), spans located."""

    read: int = 0
    skipped: int = 0
    located: int = 0
    errors: list[str] = field(default_factory=list)

    def note_error(self, exc: RecordError) -> None:
        self.skipped += 1
        if len(self.errors) < 20:
            self.errors.append(str(exc))


def natural_label(label: str) -> str:
    """Source label -> the natural-language key the prompts use (``Adverse_event`` -> ``adverse event``)."""
    return label.replace("_", " ").lower()


# CoNLL-2003 style tag names -> the label words InstructUIE and the paper's Figure 4 use.
CONLL_LABELS = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "miscellaneous"}
_CONLL_ORDER = ("location", "person", "organization", "miscellaneous")


def load_label_map(path: str | Path | None) -> dict[str, str]:
    """A JSON or YAML mapping from source labels to the label words to use."""
    if not path:
        return {}
    import yaml

    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise RecordError(str(path), "<mapping>", "a label map must map source labels to strings")
    return {str(k): v for k, v in data.items()}


# ----------------------------------------------------------------------------- helpers


def _stream_array(path: Path) -> Iterator[tuple[str, Any]]:
    import ijson

    with path.open("rb") as fh:
        try:
            for i, item in enumerate(ijson.items(fh, "item", use_float=True)):
                yield f"{path}[{i}]", item
        except ijson.JSONError as exc:
            raise RecordError(str(path), "<file>", f"invalid JSON array ({exc})") from None


def _pos(obj: dict, key: str = "pos") -> tuple[int | None, int | None]:
    pos = obj.get(key)
    if isinstance(pos, list) and len(pos) == 2 and all(isinstance(p, int) for p in pos):
        return pos[0], pos[1]
    return None, None


def _field(obj: Any, key: str, where: str, field_name: str | tuple, kind: type = str) -> Any:
    """``obj[key]`` checked to be a ``kind``; the field path is a format tuple, formatted on error only."""
    try:
        val = obj[key]
    except (KeyError, TypeError):
        raise RecordError(where, _name(field_name), "is missing") from None
    if type(val) is not kind and not isinstance(val, kind):
        raise RecordError(
            where, _name(field_name), f"must be {kind.__name__}, got {type(val).__name__}"
        )
    return val


def _name(spec: str | tuple) -> str:
    return spec if isinstance(spec, str) else spec[0].format(*spec[1:])


def _guarded(
    items: Iterable[tuple[str, Any]],
    build: Callable[[str, Any, int], Example],
    stats: ReadStats,
    on_error: str,
    *,
    shaped: bool = True,
) -> Iterator[Example]:
    """Build and validate each raw item; raise or skip-and-count on bad ones.

    ``shaped``: ``build`` checked every field it read, so validation skips the structural checks.
    """
    for index, (where, raw) in enumerate(items):
        try:
            ex = validate_example(build(where, raw, index), where, shaped=shaped)
        except RecordError as exc:
            if on_error != "skip":
                raise
            stats.note_error(exc)
            continue
        stats.read += 1
        stats.located += ex["meta"].get("located", 0)
        yield ex


# ----------------------------------------------------------------------------- IE_INSTRUCTIONS

_IEI_TASKS = {"NER": "ner", "RE": "re", "EE": "ee"}


def _iei_files(
    root: Path, task: str | None, dataset: str | None, split: str | None
) -> list[tuple[str, str, Path, Path]]:
    """(task, dataset, split file, labels file) under an IE_INSTRUCTIONS root, a task dir or a dataset dir."""
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
        dataset_dirs = [(task or _IEI_TASKS.get(root.parent.name.upper()), root)]
    elif root.name.upper() in _IEI_TASKS:  # a task folder
        dataset_dirs = [
            (_IEI_TASKS[root.name.upper()], d) for d in sorted(root.iterdir()) if d.is_dir()
        ]
    else:
        dataset_dirs = [
            (t, d)
            for name, t in _IEI_TASKS.items()
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
            if f.exists():
                out.append((t, d.name, f, d / "labels.json"))
    if not out:
        raise FileNotFoundError(
            f"{root}: no IE_INSTRUCTIONS split files match task={task} dataset={dataset} split={split}"
        )
    return out


def _guess_task(path: Path) -> str:
    for part in reversed(path.parts):
        if part.upper() in _IEI_TASKS:
            return _IEI_TASKS[part.upper()]
    raise RecordError(str(path), "task", "cannot tell the task from the path; pass --task")


def _iei_labels(path: Path, task: str) -> tuple[list[str], list[str]]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: labels.json is missing beside the split file")
    with path.open(encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise RecordError(
                str(path), "<file>", f"invalid JSON ({exc.msg} at line {exc.lineno})"
            ) from None
    if task == "ee":
        if not (
            isinstance(data, list) and len(data) == 2 and all(isinstance(x, list) for x in data)
        ):
            raise RecordError(
                str(path), "<file>", "EE labels.json must be [event_types, role_types]"
            )
        return [str(x) for x in data[0]], [str(x) for x in data[1]]
    if not isinstance(data, list):
        raise RecordError(str(path), "<file>", "labels.json must be a JSON array of label names")
    return [str(x) for x in data], []


def read_ie_instructions(
    path: str | Path,
    *,
    task: str | None = None,
    dataset: str | None = None,
    split: str | None = None,
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Read the InstructUIE layout ``<root>/{NER,RE,EE}/<dataset>/{train,dev,test}.json`` + labels.json."""
    stats = stats if stats is not None else ReadStats()
    for t, ds, file, labels_file in _iei_files(Path(path), task, dataset, split):
        labels, roles = _iei_labels(labels_file, t)
        sp = file.stem

        def build(
            where: str, raw: Any, i: int, t=t, ds=ds, sp=sp, labels=labels, roles=roles
        ) -> Example:
            text = _field(raw, "sentence", where, "sentence")
            ex = new_example(
                id=f"{ds}-{sp}-{i}",
                dataset=ds,
                task=t,
                text=text,
                labels=labels,
                roles=roles,
                meta={"split": sp},
            )
            if t == "ner":
                for j, e in enumerate(_field(raw, "entities", where, "entities", list)):
                    s, en = _pos(e)
                    ex["entities"].append(
                        {
                            "type": _field(e, "type", where, ("entities[{}].type", j)),
                            "text": _field(e, "name", where, ("entities[{}].name", j)),
                            "start": s,
                            "end": en,
                        }
                    )
            elif t == "re":
                for j, r in enumerate(_field(raw, "relations", where, "relations", list)):
                    sides = {}
                    for side in ("head", "tail"):
                        o = _field(r, side, where, ("relations[{}].{}", j, side), dict)
                        s, en = _pos(o)
                        sides[side] = {
                            "text": _field(o, "name", where, ("relations[{}].{}.name", j, side)),
                            "type": o.get("type", ""),
                            "start": s,
                            "end": en,
                        }
                    ex["relations"].append(
                        {"type": _field(r, "type", where, ("relations[{}].type", j)), **sides}
                    )
            else:
                for j, ev in enumerate(_field(raw, "events", where, "events", list)):
                    s, en = _pos(ev)
                    args = []
                    for k, a in enumerate(ev.get("arguments") or []):
                        as_, ae = _pos(a)
                        args.append(
                            {
                                "role": _field(
                                    a, "role", where, ("events[{}].arguments[{}].role", j, k)
                                ),
                                "text": _field(
                                    a, "name", where, ("events[{}].arguments[{}].name", j, k)
                                ),
                                "start": as_,
                                "end": ae,
                            }
                        )
                    ex["events"].append(
                        {
                            "type": _field(ev, "type", where, ("events[{}].type", j)),
                            "trigger": {
                                "text": _field(ev, "trigger", where, ("events[{}].trigger", j)),
                                "start": s,
                                "end": en,
                            },
                            "arguments": args,
                        }
                    )
            return ex

        yield from _guarded(_stream_array(file), build, stats, on_error)


# ----------------------------------------------------------------------------- IEPile


def _iepile_task(raw: Any) -> str | None:
    if isinstance(raw, dict):
        for key, t in (("entity", "ner"), ("relation", "re"), ("event", "ee")):
            if key in raw:
                return t
    return None


def _first_pass_labels(path: Path, task: str) -> tuple[list[str], list[str]]:
    """Labels (and roles) of a file in order of first appearance, for formats without a schema file."""
    labels: dict[str, None] = {}
    roles: dict[str, None] = {}
    for _, raw in iter_json_lines(path):
        if task == "ner":
            for e in raw.get("entity") or ():
                if isinstance(e, dict) and isinstance(e.get("entity_type"), str):
                    labels.setdefault(e["entity_type"])
        elif task == "re":
            for r in raw.get("relation") or ():
                if isinstance(r, dict) and isinstance(r.get("relation"), str):
                    labels.setdefault(r["relation"])
        else:
            for ev in raw.get("event") or ():
                if isinstance(ev, dict) and isinstance(ev.get("event_type"), str):
                    labels.setdefault(ev["event_type"])
                    for a in ev.get("arguments") or ():
                        if isinstance(a, dict) and isinstance(a.get("role"), str):
                            roles.setdefault(a["role"])
    return list(labels), list(roles)


def read_iepile(
    path: str | Path,
    *,
    task: str | None = None,
    dataset: str | None = None,
    labels: list[str] | None = None,
    roles: list[str] | None = None,
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Read IEPile raw jsonl (NER ``entity``, RE ``relation``, EE ``event``).

    IEPile files carry no schema: the labels are those given, else every label of the file in order
    of first appearance (one extra streaming pass).
    """
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    if task is None:
        for where, raw in iter_json_lines(path):
            task = _iepile_task(raw)
            if task is None:
                raise RecordError(
                    where, "entity/relation/event", "none of them is present; pass --task"
                )
            break
        else:
            return
    if labels is None:
        labels, found_roles = _first_pass_labels(path, task)
        roles = roles if roles is not None else found_roles
    ds = dataset or path.stem
    roles = roles or []

    def build(where: str, raw: Any, i: int) -> Example:
        text = _field(raw, "text", where, "text")
        ex = new_example(
            id=str(raw.get("id", f"{ds}-{i}")),
            dataset=ds,
            task=task,
            text=text,
            labels=labels,
            roles=roles if task == "ee" else [],
        )
        if task == "ner":
            for j, e in enumerate(_field(raw, "entity", where, "entity", list)):
                ex["entities"].append(
                    {
                        "type": _field(e, "entity_type", where, ("entity[{}].entity_type", j)),
                        "text": _field(e, "entity", where, ("entity[{}].entity", j)),
                        "start": None,
                        "end": None,
                    }
                )
        elif task == "re":
            for j, r in enumerate(_field(raw, "relation", where, "relation", list)):
                ex["relations"].append(
                    {
                        "type": _field(r, "relation", where, ("relation[{}].relation", j)),
                        "head": {
                            "text": _field(r, "head", where, ("relation[{}].head", j)),
                            "type": "",
                            "start": None,
                            "end": None,
                        },
                        "tail": {
                            "text": _field(r, "tail", where, ("relation[{}].tail", j)),
                            "type": "",
                            "start": None,
                            "end": None,
                        },
                    }
                )
        else:
            for j, ev in enumerate(_field(raw, "event", where, "event", list)):
                args = [
                    {
                        "role": _field(a, "role", where, ("event[{}].arguments[{}].role", j, k)),
                        "text": _field(
                            a, "argument", where, ("event[{}].arguments[{}].argument", j, k)
                        ),
                        "start": None,
                        "end": None,
                    }
                    for k, a in enumerate(ev.get("arguments") or [])
                ]
                ex["events"].append(
                    {
                        "type": _field(ev, "event_type", where, ("event[{}].event_type", j)),
                        "trigger": {
                            "text": _field(
                                ev, "event_trigger", where, ("event[{}].event_trigger", j)
                            ),
                            "start": None,
                            "end": None,
                        },
                        "arguments": args,
                    }
                )
        return ex

    yield from _guarded(iter_json_lines(path), build, stats, on_error)


# ----------------------------------------------------------------------------- CoNLL

# Tokens glued to their left / right neighbour when ``detokenize="rules"``.
_NO_SPACE_BEFORE = frozenset(
    {
        ",",
        ".",
        ";",
        ":",
        "!",
        "?",
        ")",
        "]",
        "}",
        "%",
        "'s",
        "'S",
        "n't",
        "'re",
        "'ve",
        "'ll",
        "'d",
        "'m",
        "''",
    }
)
_NO_SPACE_AFTER = frozenset({"(", "[", "{", "$", "``", "#"})


def conll_sentences(path: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """(where, tokens, tags) per sentence; blank lines separate sentences, -DOCSTART- lines are dropped.

    The token is the first column and the tag the last, so 2-column and CoNLL-2003 4-column files
    both read.
    """
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            cols = line.split()
            if not cols or cols[0] == "-DOCSTART-":
                if tokens:
                    yield f"{path}:{start}", tokens, tags
                    tokens, tags = [], []
                continue
            if len(cols) < 2:
                raise RecordError(
                    f"{path}:{lineno}", "tag", f"line {line.rstrip()!r} has no tag column"
                )
            if not tokens:
                start = lineno
            tokens.append(cols[0])
            tags.append(cols[-1])
    if tokens:
        yield f"{path}:{start}", tokens, tags


def bio_chunks(tags: list[str], where: str = "") -> list[tuple[str, int, int]]:
    """(type, first token, last token + 1) chunks of a BIO sequence, IOB1 or IOB2.

    A chunk starts at ``B-X``, or at ``I-X`` when the previous token is not of type X (IOB1, and
    IOB2 written loosely); it continues over ``I-X``.

    >>> bio_chunks(["I-PER", "I-PER", "B-PER", "O", "I-LOC"])
    [('PER', 0, 2), ('PER', 2, 3), ('LOC', 4, 5)]
    """
    chunks: list[tuple[str, int, int]] = []
    cur: str | None = None
    begin = 0
    for i, tag in enumerate(tags):
        if tag == "O":
            prefix, typ = "O", None
        else:
            prefix, _, typ = tag.partition("-")
            if prefix not in ("B", "I") or not typ:
                raise RecordError(where, f"tags[{i}]", f"{tag!r} is not a BIO tag (O, B-X or I-X)")
        if cur is not None and (typ != cur or prefix == "B"):
            chunks.append((cur, begin, i))
            cur = None
        if typ is not None and cur is None:
            cur, begin = typ, i
    if cur is not None:
        chunks.append((cur, begin, len(tags)))
    return chunks


def join_tokens(tokens: list[str], detokenize: str = "space") -> tuple[str, list[int]]:
    """Text and the start offset of every token.

    ``space`` joins with single spaces (the inputs of the paper's Figures 4-5 look like this);
    ``rules`` glues punctuation to its neighbour for natural-looking text.
    """
    starts: list[int] = []
    parts: list[str] = []
    length = 0
    prev = None
    for tok in tokens:
        if prev is not None and not (
            detokenize == "rules" and (tok in _NO_SPACE_BEFORE or prev in _NO_SPACE_AFTER)
        ):
            parts.append(" ")
            length += 1
        starts.append(length)
        parts.append(tok)
        length += len(tok)
        prev = tok
    return "".join(parts), starts


def read_conll(
    path: str | Path,
    *,
    dataset: str | None = None,
    label_map: dict[str, str] | None = None,
    detokenize: str = "space",
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Read a CoNLL BIO file (IOB1 or IOB2) as NER records with character offsets."""
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    mapping = {**CONLL_LABELS, **(label_map or {})}
    ds = dataset or path.stem.split(".")[0]
    labels: dict[str, None] = {}
    for _where, _, tags in conll_sentences(path):
        for tag in tags:
            if tag != "O":
                typ = tag.partition("-")[2]
                labels.setdefault(mapping.get(typ, natural_label(typ)))
    # The CoNLL-2003 words in Figure 4's order first, then any other label in order of appearance.
    label_list = [w for w in _CONLL_ORDER if w in labels] + [
        w for w in labels if w not in _CONLL_ORDER
    ]

    def build(where: str, raw: Any, i: int) -> Example:
        tokens, tags = raw
        text, starts = join_tokens(tokens, detokenize)
        ex = new_example(id=f"{ds}-{i}", dataset=ds, task="ner", text=text, labels=label_list)
        for typ, b, e in bio_chunks(tags, where):
            s, end = starts[b], starts[e - 1] + len(tokens[e - 1])
            ex["entities"].append(
                {
                    "type": mapping.get(typ, natural_label(typ)),
                    "text": text[s:end],
                    "start": s,
                    "end": end,
                }
            )
        return ex

    items = ((where, (tokens, tags)) for where, tokens, tags in conll_sentences(path))
    yield from _guarded(items, build, stats, on_error)


# ----------------------------------------------------------------------------- PHEE

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


def _phee_mentions(node: dict, where: str, field_name: str) -> list[tuple[str, int]]:
    """(text, start) of each mention of a PHEE span node; a discontinuous mention becomes its cover."""
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
        for ann in (raw.get("annotations") or [{}])[:1]:
            for ev in ann.get("events") or ():
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
        text = _field(raw, "context", where, "context")
        anns = _field(raw, "annotations", where, "annotations", list)
        ex = new_example(
            id=str(raw.get("id", f"{ds}-{i}")),
            dataset=ds,
            task="ee",
            text=text,
            labels=labels,
            roles=roles,
        )
        counts: dict[str, int] = {}
        for j, ev in enumerate((anns[0].get("events") or []) if anns else []):
            fname = f"annotations[0].events[{j}]"
            etype = _field(ev, "event_type", where, ("{}.event_type", fname))
            trig = _field(ev, "Trigger", where, ("{}.Trigger", fname), dict)
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

    yield from _guarded(iter_json_lines(path), build, stats, on_error)


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


# ----------------------------------------------------------------------------- FewRel


def read_fewrel(
    path: str | Path,
    *,
    dataset: str | None = None,
    pid2name: str | Path | None = None,
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Read FewRel ``{Pxxx: [{tokens, h, t}]}`` as RE records (one annotated pair per sentence).

    Relation names come from ``pid2name.json`` (beside the file unless given); the text is the
    space-joined tokens and head/tail spans come from their token indices.
    """
    import ijson

    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    ds = dataset or "FewRel"
    names_file = Path(pid2name) if pid2name else path.parent / "pid2name.json"
    names: dict[str, str] = {}
    if names_file.exists():
        with names_file.open(encoding="utf-8") as fh:
            names = {
                k: v[0] if isinstance(v, list) and v else str(v) for k, v in json.load(fh).items()
            }
    with path.open("rb") as fh:
        pids = [k for k, _ in ijson.kvitems(fh, "", use_float=True) if True]
    labels = list(dict.fromkeys(names.get(p, p) for p in pids))

    def side(
        raw: dict, key: str, tokens: list[str], starts: list[int], text: str, where: str, j: int
    ) -> dict:
        ent = _field(raw, key, where, ("{}.{}", j, key), list)
        if (
            len(ent) < 3
            or not isinstance(ent[2], list)
            or not ent[2]
            or not isinstance(ent[2][0], list)
        ):
            raise RecordError(where, key, "must be [name, id, [[token indices]]]")
        idx = ent[2][0]
        if not idx or not all(isinstance(x, int) and 0 <= x < len(tokens) for x in idx):
            raise RecordError(
                where, f"{key}[2][0]", f"token indices {idx} are outside the sentence"
            )
        s, e = starts[min(idx)], starts[max(idx)] + len(tokens[max(idx)])
        return {"text": text[s:e], "type": "", "start": s, "end": e}

    def items() -> Iterator[tuple[str, Any]]:
        with path.open("rb") as fh:
            for pid, rows in ijson.kvitems(fh, "", use_float=True):
                for j, row in enumerate(rows):
                    yield f"{path}[{pid}][{j}]", (pid, j, row)

    def build(where: str, raw: Any, i: int) -> Example:
        pid, j, row = raw
        tokens = _field(row, "tokens", where, "tokens", list)
        text, starts = join_tokens(tokens)
        ex = new_example(id=f"{ds}-{pid}-{j}", dataset=ds, task="re", text=text, labels=labels)
        ex["relations"].append(
            {
                "type": names.get(pid, pid),
                "head": side(row, "h", tokens, starts, text, where, j),
                "tail": side(row, "t", tokens, starts, text, where, j),
            }
        )
        return ex

    yield from _guarded(items(), build, stats, on_error)


# ----------------------------------------------------------------------------- custom slots


def load_slot_schema(path: str | Path) -> tuple[list[str], dict[str, str]]:
    """A slot schema YAML: ``slots: [{name, definition}]`` or a mapping ``name: definition``."""
    import yaml

    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
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
        text = _field(raw, "text", where, "text")
        slots = _field(raw, "slots", where, "slots", dict)
        ex = new_example(
            id=str(raw.get("id", f"{ds}-{i}")),
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

    yield from _guarded(iter_json_lines(path), build, stats, on_error)


# ----------------------------------------------------------------------------- dispatch


def read(
    fmt: str,
    path: str | Path,
    *,
    task: str | None = None,
    dataset: str | None = None,
    split: str | None = None,
    schema: str | Path | None = None,
    label_map: dict[str, str] | None = None,
    detokenize: str = "space",
    labels: list[str] | None = None,
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Stream Example records from ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    stats = stats if stats is not None else ReadStats()
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if fmt == "ie_instructions":
        return read_ie_instructions(
            path, task=task, dataset=dataset, split=split, stats=stats, on_error=on_error
        )
    if fmt == "iepile":
        return read_iepile(
            path, task=task, dataset=dataset, labels=labels, stats=stats, on_error=on_error
        )
    if fmt == "conll":
        return read_conll(
            path,
            dataset=dataset,
            label_map=label_map,
            detokenize=detokenize,
            stats=stats,
            on_error=on_error,
        )
    if fmt == "phee":
        return read_phee(path, dataset=dataset, stats=stats, on_error=on_error)
    if fmt == "fewrel":
        return read_fewrel(path, dataset=dataset, stats=stats, on_error=on_error)
    if fmt == "slot":
        if schema is None:
            raise ValueError("--format slot needs --schema SCHEMA.yaml")
        return read_slot(path, schema=schema, dataset=dataset, stats=stats, on_error=on_error)
    if fmt == "records":
        return _read_records(path, stats, on_error)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _read_records(path: str | Path, stats: ReadStats, on_error: str) -> Iterator[Example]:
    items = iter_json_lines(Path(path))
    yield from _guarded(items, lambda where, raw, i: raw, stats, on_error, shaped=False)


__all__ = ["FORMATS", "ReadStats", "read", "iter_jsonl", "bio_chunks", "join_tokens"]
