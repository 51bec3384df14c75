"""What every reader shares: read statistics, the format registry and the guarded build loop.

A reader is a generator function ``read_<format>(path, *, stats, on_error, **options)`` that turns
one source format into canonical :class:`~prouie.records.Example` records. It registers a
:class:`Format` naming the options it takes, so the CLI builds its flags from the registry and
:func:`prouie.readers.read` can check them, as lm-eval's task registry does for task names.
Field checks go through :func:`prouie.records.need` and every record through
:func:`prouie.records.validate_example`: the validation is written once, in ``records``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prouie.records import (
    TASKS,
    Example,
    RecordError,
    check_writable,
    load_json,
    need,
    read_text,
    validate_example,
)

SPLITS = ("train", "dev", "test")


@dataclass
class ReadStats:
    """What a read did: records yielded, skipped (with the first errors), spans located."""

    read: int = 0
    skipped: int = 0
    located: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def note_error(self, exc: RecordError) -> None:
        self.skipped += 1
        if len(self.errors) < 20:
            self.errors.append(str(exc))


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Option:
    """A keyword of a reader, exposed on the command line as ``--<name with dashes>``.

    ``parse`` turns the command-line string into the reader's value (default: the string).
    """

    name: str
    help: str
    choices: tuple[str, ...] | None = None
    required: bool = False
    parse: Callable[[str], Any] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Format:
    """A registered input format: its reader, a one-line summary and the options it takes."""

    name: str
    reader: Callable[..., Iterator[Example]]
    summary: str
    options: tuple[Option, ...] = ()
    folder: bool = False  # whether the input may be a folder


# Options several formats take: one declaration, so every format's flag means the same thing.
TASK = Option("task", "task (when the input cannot tell)", choices=TASKS)
DATASET = Option("dataset", "dataset name (default: from the input)")

_FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Add ``fmt`` to the registry; a name registered twice is a programming error."""
    if fmt.name in _FORMATS:
        raise ValueError(f"input format {fmt.name!r} is already registered")
    _FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> Format:
    """The registered format ``name``; an unknown name fails with the closest registered names.

    >>> get_format("conl")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown input format 'conl'; did you mean conll? (formats: conll, fewrel, ...)
    """
    try:
        return _FORMATS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_FORMATS), n=3)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise ValueError(
            f"unknown input format {name!r}; {hint}(formats: {', '.join(_FORMATS)})"
        ) from None


def formats() -> list[Format]:
    """Every registered format, in registration order."""
    return list(_FORMATS.values())


# ----------------------------------------------------------------------------- helpers for readers


def natural_label(label: str) -> str:
    """Source label -> the natural-language key the prompts use (``Adverse_event`` -> ``adverse event``)."""
    return label.replace("_", " ").lower()


def take(
    obj: Any, key: str, where: str, name: str | tuple, kind: type = str, *, or_empty: bool = False
) -> Any:
    """``obj[key]`` of type ``kind``; the field path is a format tuple, formatted on error only.
    ``or_empty`` as in :func:`prouie.records.need`.

    The fast path is inlined because readers call this for every field of every record: through
    ``need`` with the path formatted on each call, prepare ran at 2.96x its baseline instead of
    2.33x (``benchmarks/prepare_throughput.py``, medians of 5; target at most 3). Any failure is
    reported by :func:`prouie.records.need`, the one field check.
    """
    try:
        val = obj[key]
        if type(val) is kind:
            return val
    except (KeyError, TypeError, IndexError):
        pass
    field = name if isinstance(name, str) else name[0].format(*name[1:])
    return need(obj, key, kind, where, field, or_empty=or_empty)


def as_object(val: Any, where: str, name: str | tuple) -> dict:
    """``val`` checked to be a JSON object (a list item that readers then ``.get`` from)."""
    if type(val) is dict:
        return val
    return need(
        {"v": val}, "v", dict, where, name if isinstance(name, str) else name[0].format(*name[1:])
    )


def pos(obj: dict, key: str = "pos") -> tuple[Any, Any]:
    """``(start, end)`` of a ``[start, end]`` offset pair; ``(None, None)`` when absent or ``[]``.

    Whatever is given is passed on, so :func:`prouie.records.locate_spans` reports bad offsets.
    """
    val = obj.get(key)
    if val is None or val == []:
        return None, None
    if isinstance(val, list) and len(val) == 2:
        return val[0], val[1]
    return val, val


def json_top(path: Path) -> str:
    """The first non-blank character of a JSON file (after a byte-order mark), ``""`` if none."""
    with path.open("rb") as fh:
        head = fh.read(64)
        while head:
            text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
            if text:
                return chr(text[0])
            head = fh.read(64)
    return ""


def expect_top(path: Path, char: str, what: str) -> None:
    """Fail unless the JSON file's top level opens with ``char`` (``[`` or ``{``)."""
    top = json_top(path)
    if top != char:
        found = {"[": "an array", "{": "an object", "": "nothing"}.get(top, f"{top!r}")
        raise RecordError(str(path), "<file>", f"must be {what}, found {found}")


def stream_json(path: Path, prefix: str, kv: bool = False) -> Iterator[Any]:
    """Items (or key/value pairs) of a large JSON file, streamed with ijson.

    A byte-order mark is skipped; a decoding or syntax error is re-read with :func:`load_json`
    so that it names the line.
    """
    import ijson

    with path.open("rb") as fh:
        if fh.read(3) != b"\xef\xbb\xbf":
            fh.seek(0)
        try:
            if kv:
                yield from ijson.kvitems(fh, prefix, use_float=True)
            else:
                yield from ijson.items(fh, prefix, use_float=True)
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            load_json(path)  # raises with the line number
            raise RecordError(str(path), "<file>", f"invalid JSON ({exc})") from None


def stream_array(path: Path) -> Iterator[tuple[str, Any]]:
    """``(file[index], item)`` of a JSON array file."""
    expect_top(path, "[", "a JSON array of records")
    for i, item in enumerate(stream_json(path, "item")):
        where = f"{path}[{i}]"
        check_writable(item, where)
        yield where, item


def guarded(
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


def load_yaml(path: Path) -> Any:
    """A YAML (or JSON) companion file; a syntax error names the file and the line."""
    import yaml

    try:
        return yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecordError(where, "<file>", f"invalid YAML ({problem})") from None


def record_id(raw: Any, where: str, default: str) -> str:
    """A source id (string or integer) as a string; any other type is an error."""
    if not isinstance(raw, dict) or raw.get("id") is None:
        return default
    val = raw["id"]
    if type(val) is int:
        return str(val)
    return take(raw, "id", where, "id")


def warn(stats: ReadStats, message: str) -> None:
    """Record a warning for the command to print (a reader never prints)."""
    stats.warnings.append(message)
