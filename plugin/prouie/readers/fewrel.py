"""FewRel ``{Pxxx: [{tokens, h, t}]}`` as RE records (one annotated pair per sentence).

Relation names come from ``pid2name.json`` (beside the file unless given). Without it the raw
relation ids (``P177``) become the labels, and the read records a warning saying so.
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
    expect_top,
    guarded,
    register,
    stream_json,
    take,
    warn,
)
from prouie.readers.conll import join_tokens
from prouie.records import (
    Example,
    RecordError,
    check_writable,
    load_json,
    need_strings,
    new_example,
)


def _relation_names(path: Path, pid2name: str | Path | None, stats: ReadStats) -> dict[str, str]:
    """Relation id -> name from ``pid2name.json``; a missing file is a warning, not an error."""
    names_file = Path(pid2name) if pid2name else path.parent / "pid2name.json"
    if not names_file.is_file():
        if pid2name:
            raise FileNotFoundError(f"{names_file}: no such file (--pid2name)")
        warn(
            stats,
            f"{names_file} not found: the relation ids (e.g. P177) are used as relation labels; "
            "pass --pid2name FILE for natural-language names",
        )
        return {}
    data = load_json(names_file)
    if not isinstance(data, dict):
        raise RecordError(str(names_file), "<file>", "must be a JSON object {id: [name, ...]}")
    names = {}
    for key, val in data.items():
        name = val[0] if isinstance(val, list) and val else val
        if not isinstance(name, str) or not name:
            raise RecordError(str(names_file), key, "must be a name or a list starting with one")
        names[key] = name
    return names


def _side(row: Any, key: str, tokens: list[str], starts: list[int], text: str, where: str) -> dict:
    """The head (``h``) or tail (``t``) span of a FewRel instance: ``[name, id, [[token indices]]]``."""
    ent = take(row, key, where, key, list)
    if (
        len(ent) < 3
        or not isinstance(ent[2], list)
        or not ent[2]
        or not isinstance(ent[2][0], list)
    ):
        raise RecordError(where, key, "must be [name, id, [[token indices]]]")
    idx = ent[2][0]
    if not idx or not all(type(x) is int and 0 <= x < len(tokens) for x in idx):
        raise RecordError(where, f"{key}[2][0]", f"token indices {idx} are outside the sentence")
    s, e = starts[min(idx)], starts[max(idx)] + len(tokens[max(idx)])
    return {"text": text[s:e], "type": "", "start": s, "end": e}


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
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    ds = dataset or "FewRel"
    names = _relation_names(path, pid2name, stats)
    expect_top(path, "{", "a JSON object keyed by relation id")
    pids = [k for k, _ in stream_json(path, "", kv=True)]
    labels = list(dict.fromkeys(names.get(p, p) for p in pids))

    def items() -> Iterator[tuple[str, Any]]:
        for pid, rows in stream_json(path, "", kv=True):
            if not isinstance(rows, list):
                raise RecordError(f"{path}[{pid}]", pid, "must be a JSON array of instances")
            for j, row in enumerate(rows):
                where = f"{path}[{pid}][{j}]"
                check_writable(row, where)
                yield where, (pid, j, row)

    def build(where: str, raw: Any, i: int) -> Example:
        pid, j, row = raw
        tokens = need_strings(row, "tokens", where, "tokens")
        text, starts = join_tokens(tokens)
        ex = new_example(id=f"{ds}-{pid}-{j}", dataset=ds, task="re", text=text, labels=labels)
        ex["relations"].append(
            {
                "type": names.get(pid, pid),
                "head": _side(row, "h", tokens, starts, text, where),
                "tail": _side(row, "t", tokens, starts, text, where),
            }
        )
        return ex

    yield from guarded(items(), build, stats, on_error)


register(
    Format(
        "fewrel",
        read_fewrel,
        "FewRel json keyed by relation id (tokens with head/tail token indices)",
        (
            DATASET,
            Option("pid2name", "pid2name.json with relation names (default: beside the input)"),
        ),
    )
)
