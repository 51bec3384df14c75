"""Canonical records jsonl (what ``prouie convert`` writes), validated in full."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prouie.readers.base import Format, ReadStats, guarded, register
from prouie.records import Example, iter_json_lines


def read_records(
    path: str | Path, *, stats: ReadStats | None = None, on_error: str = "raise"
) -> Iterator[Example]:
    """Stream canonical records, every field checked by :func:`prouie.records.validate_example`."""
    stats = stats if stats is not None else ReadStats()
    items = iter_json_lines(Path(path))
    yield from guarded(items, lambda where, raw, i: raw, stats, on_error, shaped=False)


register(Format("records", read_records, "canonical records jsonl (prouie convert output)"))
