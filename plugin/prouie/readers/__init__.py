"""Readers: raw IE data sets -> canonical Example records, streamed one record at a time.

One module per input format, each registering a :class:`~prouie.readers.base.Format` with the
options it takes: ``ie_instructions`` (InstructUIE layout), ``iepile`` (raw jsonl), ``conll``
(BIO, IOB1 or IOB2), ``phee`` (json lines with nested arguments), ``fewrel`` (json keyed by
relation id), ``slot`` (a YAML schema of slots plus jsonl data) and ``records`` (canonical jsonl).

Every reader fails loudly on malformed input with :class:`~prouie.records.RecordError` naming file,
line (or array index) and field. With ``on_error="skip"`` the record is skipped and counted instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prouie.readers import conll, fewrel, ie_instructions, iepile, phee, records, slot
from prouie.readers.base import Format, Option, ReadStats, formats, get_format, natural_label
from prouie.readers.conll import CONLL_LABELS, bio_chunks, join_tokens, load_label_map
from prouie.readers.slot import load_slot_schema
from prouie.records import Example, RecordError, iter_jsonl

FORMATS = tuple(f.name for f in formats())

# The readers by name, for callers that want one format's reader directly.
read_ie_instructions = ie_instructions.read_ie_instructions
read_iepile = iepile.read_iepile
read_conll = conll.read_conll
read_phee = phee.read_phee
read_fewrel = fewrel.read_fewrel
read_slot = slot.read_slot
read_records = records.read_records


def read(
    fmt: str,
    path: str | Path,
    *,
    stats: ReadStats | None = None,
    on_error: str = "raise",
    **options: Any,
) -> Iterator[Example]:
    """Stream Example records from ``path`` in format ``fmt`` (one of :data:`FORMATS`).

    ``options`` are the format's own (``prouie convert --help`` lists them per format); ``None``
    means "not given". An option the format does not take, or a missing required one, fails
    before anything is read.
    """
    spec = get_format(fmt)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    given = {k: v for k, v in options.items() if v is not None}
    known = {o.name for o in spec.options}
    for name in given.keys() - known:
        raise ValueError(
            f"--format {fmt} takes no option --{name.replace('_', '-')} "
            f"(it takes: {', '.join(o.flag for o in spec.options) or 'none'})"
        )
    for opt in spec.options:
        if opt.required and opt.name not in given:
            raise ValueError(f"--format {fmt} needs {opt.flag} ({opt.help})")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir() and not spec.folder:
        raise RecordError(str(path), "<path>", f"is a folder; --format {fmt} reads a file")
    return spec.reader(
        path, stats=stats if stats is not None else ReadStats(), on_error=on_error, **given
    )


__all__ = [
    "CONLL_LABELS",
    "FORMATS",
    "Format",
    "Option",
    "ReadStats",
    "bio_chunks",
    "formats",
    "get_format",
    "iter_jsonl",
    "join_tokens",
    "load_label_map",
    "load_slot_schema",
    "natural_label",
    "read",
    "read_conll",
    "read_fewrel",
    "read_ie_instructions",
    "read_iepile",
    "read_phee",
    "read_records",
    "read_slot",
]
