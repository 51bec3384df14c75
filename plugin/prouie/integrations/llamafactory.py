"""LLaMA-Factory glue: dataset converters that render CM / SA prompts from canonical records.

With these registered, a ``dataset_info.json`` entry can point straight at a jsonl file of
canonical Example records and name one of the ``prouie_*`` formattings::

    "prouie_cm2_re": {"file_name": "re.jsonl", "formatting": "prouie_re", "num_samples": 8}

``prouie_<task>`` renders the CM prompt and target (every key), ``prouie_<task>_sa`` the SA ones
(no empty keys); ``<task>`` is ``ner``, ``re``, ``ee`` or ``slot``. LLaMA-Factory's ``DatasetAttr``
keeps only the keys it knows and hands the converter nothing but the entry's ``formatting`` and
columns, so the stage travels in the formatting name. The text is produced by
:func:`prouie.targets.to_alpaca` and then by LLaMA-Factory's own alpaca converter, so a model trains
on exactly the bytes that ``prouie prepare`` writes to alpaca files.

LLaMA-Factory has no plugin discovery. :mod:`prouie.integrations.autoload` (run from a ``.pth``
file at interpreter start) calls :func:`register` as soon as LLaMA-Factory imports its converter
module, in every process including torchrun workers. Without the ``.pth`` file (or with
``PROUIE_NO_AUTOLOAD=1``), call :func:`register` yourself before LLaMA-Factory loads data.

This module imports LLaMA-Factory only inside functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prouie.records import TASKS, Example, RecordError, iter_json_lines, validate_example
from prouie.targets import STAGES, template_dirs, to_alpaca

PREFIX = "prouie_"


def formatting_name(task: str, stage: str) -> str:
    """The ``formatting`` value for ``task`` at ``stage``.

    >>> formatting_name("re", "cm"), formatting_name("re", "sa")
    ('prouie_re', 'prouie_re_sa')
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    return f"{PREFIX}{task}" + ("_sa" if stage == "sa" else "")


#: formatting name -> (task, stage), for every task and stage.
FORMATTINGS: dict[str, tuple[str, str]] = {
    formatting_name(t, s): (t, s) for t in TASKS for s in STAGES
}


def parse_formatting(name: str) -> tuple[str, str]:
    """``(task, stage)`` of a ``prouie_*`` formatting name; ValueError naming the valid ones."""
    try:
        return FORMATTINGS[name]
    except KeyError:
        raise ValueError(
            f"unknown formatting {name!r}; prouie provides {', '.join(sorted(FORMATTINGS))}"
        ) from None


def record_from_row(row: Mapping[str, Any]) -> Example:
    """Undo what Arrow does to a JSON record: drop the ``None`` fields it adds.

    ``datasets`` reads a jsonl file into one schema for all lines, so every object gets the union
    of the keys seen in the file and the missing ones come back as ``None`` (a NER record gains
    ``"roles": None``, a slot record's definitions gain every other record's slots). Dropping
    ``None`` values restores the record's own shape; a ``None`` offset means "not given" either way.
    """

    def strip(obj: Any) -> Any:
        if isinstance(obj, Mapping):  # datasets hands over lazy row mappings, not dicts
            return {k: strip(v) for k, v in obj.items() if v is not None}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    return strip(row)


def render_digest() -> str:
    """Digest of everything rendering reads: the template files and prouie's rendering code.

    The converter object carries it, and ``datasets`` fingerprints the converter to key its cache
    (the code of a class it pickles by name is not part of that fingerprint), so editing a
    template, pointing ``PROUIE_TEMPLATE_DIR`` elsewhere or changing prouie re-renders the data
    instead of reusing a stale cache.
    """
    import prouie.records
    import prouie.targets
    import prouie.units

    h = hashlib.sha256()
    for module in (prouie.records, prouie.targets, prouie.units):
        h.update(Path(module.__file__).read_bytes())
    for d in template_dirs():
        root = Path(d)
        if not root.is_dir():
            continue
        for path in sorted(root.glob("*.jinja")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@dataclass
class RecordConverter:
    """A LLaMA-Factory dataset converter: canonical record -> LLaMA-Factory's aligned example.

    LLaMA-Factory builds it as ``Converter(dataset_attr, data_args)`` and maps it over the
    dataset. The subclasses registered under :data:`FORMATTINGS` fix ``task`` and ``stage``.
    """

    dataset_attr: Any
    data_args: Any
    render_digest: str = field(default_factory=render_digest)

    task = ""
    stage = ""

    def __post_init__(self) -> None:
        from llamafactory.data.converter import AlpacaDatasetConverter
        from llamafactory.data.parser import DatasetAttr

        # LLaMA-Factory's own alpaca converter, on the default alpaca columns, turns the
        # instruction/input/output row into its message format, so both routes share that step.
        alpaca_attr = DatasetAttr(self.dataset_attr.load_from, self.dataset_attr.dataset_name)
        self._alpaca = AlpacaDatasetConverter(alpaca_attr, self.data_args)

    def __call__(self, example: dict[str, Any]) -> dict[str, Any]:
        return self._alpaca(self.alpaca_row(example))

    def alpaca_row(self, example: dict[str, Any]) -> dict[str, str]:
        """The alpaca row (instruction, input, output) of one dataset row."""
        where = f"{Path(self.data_args.dataset_dir, self.dataset_attr.dataset_name)}"
        where += f" (record id {example.get('id')!r})"
        ex = validate_example(record_from_row(example), where)
        if ex["task"] != self.task:
            raise RecordError(
                where,
                "task",
                f"is {ex['task']!r}, but the dataset entry's formatting "
                f"{formatting_name(self.task, self.stage)!r} expects {self.task!r} records",
            )
        return to_alpaca(ex, self.stage)


def _converter_class(task: str, stage: str) -> type[RecordConverter]:
    name = f"{task.capitalize()}{stage.capitalize()}Converter"
    cls = type(name, (RecordConverter,), {"task": task, "stage": stage, "__module__": __name__})
    cls.__qualname__ = name
    cls.__doc__ = f"Canonical {task} records -> {stage.upper()} prompt and target."
    return cls


# Module-level classes (NerCmConverter, ReSaConverter, ...) so that pickle and the datasets
# fingerprint find them by name, in worker processes too.
CONVERTERS: dict[str, type[RecordConverter]] = {}
for _name, (_task, _stage) in FORMATTINGS.items():
    CONVERTERS[_name] = globals()[f"{_task.capitalize()}{_stage.capitalize()}Converter"] = (
        _converter_class(_task, _stage)
    )


def register() -> list[str]:
    """Register the ``prouie_*`` converters with LLaMA-Factory (0.9.x); return the names added.

    Safe to call more than once. Raises if another package registered one of the names with a
    different converter.
    """
    from llamafactory.data.converter import DATASET_CONVERTERS, register_dataset_converter

    added = []
    for name, cls in CONVERTERS.items():
        known = DATASET_CONVERTERS.get(name)
        if known is cls:
            continue
        if known is not None:
            raise ValueError(
                f"LLaMA-Factory already has a dataset converter named {name!r} ({known!r})"
            )
        register_dataset_converter(name, cls)
        added.append(name)
    return added


def v1_sample(raw: dict[str, Any], task: str, stage: str) -> dict[str, Any]:
    """LLaMA-Factory v1 SFT sample of one canonical record (user turn = instruction + "\\n" + input).

    The user turn joins instruction and input with a newline, as LLaMA-Factory 0.9's alpaca
    converter does, so both engines see the same prompt text.
    """
    ex = validate_example(record_from_row(raw), f"record id {raw.get('id')!r}")
    if ex["task"] != task:
        raise RecordError(
            f"record id {raw.get('id')!r}", "task", f"is {ex['task']!r}, expected {task!r}"
        )
    row = to_alpaca(ex, stage)
    user = "\n".join(part for part in (row["instruction"], row["input"]) if part)
    return {
        "messages": [
            {"role": "user", "content": [{"type": "text", "value": user}], "loss_weight": 0.0},
            {
                "role": "assistant",
                "content": [{"type": "text", "value": row["output"]}],
                "loss_weight": 1.0,
            },
        ]
    }


@dataclass(frozen=True)
class _V1Converter:
    task: str
    stage: str

    def __call__(self, raw: dict[str, Any]) -> dict[str, Any]:
        return v1_sample(raw, self.task, self.stage)


def register_v1() -> list[str]:
    """Register the ``prouie_*`` converters as LLaMA-Factory v1 ``DataConverterPlugin``s.

    v1 (``USE_V1=1``) reads a dataset YAML whose entries name a ``converter``; the names are the
    same as for 0.9.x.
    """
    from llamafactory.v1.plugins.data_plugins.converter import DataConverterPlugin

    added = []
    for name, (task, stage) in FORMATTINGS.items():
        plugin = DataConverterPlugin(name)
        if name in plugin._registry and "__call__" in plugin._registry[name]:
            continue
        plugin.register()(_V1Converter(task, stage))
        added.append(name)
    return added


# ----------------------------------------------------------------------------- loadability


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    kind = _json_kind(value)
    if kind == "null":
        return
    yield path, kind
    if kind == "object":
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif kind == "array":
        for v in value:
            yield from _walk(v, f"{path}[]")


class ArrowTypeChecker:
    """Finds what stops ``datasets`` from reading a jsonl file: a field with two JSON types.

    ``datasets`` gives each field one type for the whole file, so ``"meta": {"source": 3}`` on one
    line and ``"meta": {"source": "x"}`` on another fails to load, with an error that names
    neither line. Feed records in file order; the first clash raises :class:`RecordError` naming
    both lines and the field.
    """

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str]] = {}

    def add(self, obj: Any, where: str) -> None:
        for path, kind in _walk(obj, ""):
            first = self.seen.setdefault(path, (kind, where))
            if first[0] != kind:
                raise RecordError(
                    where,
                    path,
                    f"is a JSON {kind} here but a {first[0]} at {first[1]}; LLaMA-Factory "
                    "(through `datasets`) needs one type per field in a file. Make the types "
                    "agree, or materialise alpaca files with `prouie prepare` instead",
                )


def check_loadable(path: str | Path, task: str | None = None) -> int:
    """Check that LLaMA-Factory can read a canonical-record jsonl file; return its record count.

    Every line must be a valid record (:func:`prouie.records.validate_example`), of ``task`` when
    given, and every field must keep one JSON type across the file (:class:`ArrowTypeChecker`).
    """
    path = Path(path)
    checker = ArrowTypeChecker()
    n = 0
    for where, obj in iter_json_lines(path):
        try:
            checker.add(obj, where)
        except RecordError:
            validate_example(obj, where)  # a malformed record is the clearer error
            raise
        ex = validate_example(obj, where)
        if task is not None and ex["task"] != task:
            raise RecordError(
                where, "task", f"is {ex['task']!r}; this file should hold {task} records"
            )
        n += 1
    return n
