"""Rule-based perturbations: Typo Injection and Lowercase Conversion.

Both return the :class:`~prouie.robust.spans.Edit` list for a record (empty when the record offers
nothing to perturb); :func:`prouie.robust.spans.apply_edits` turns it into the perturbed record with
its gold spans moved and, for edits inside a span, the gold string updated.
"""

from __future__ import annotations

import random
import re

from prouie.records import Example
from prouie.robust.spans import Edit, covered, fits

_WORD = re.compile(r"[^\W\d_]+")
# Neighbours on a QWERTY keyboard: the substitution a fast typist makes.
_KEYBOARD = dict(
    zip(
        "qwertyuiopasdfghjklzxcvbnm",
        [
            "wa", "qeas", "wrsd", "etdf", "rygf", "tuhg", "yijh", "uokj", "iplk", "ol",
            "qwsz", "weadzx", "ersfxc", "rtdgcv", "tyfhvb", "yugjbn", "uihknm", "iojlm", "opk",
            "asx", "zsdc", "xdfv", "cfgb", "vghn", "bhjm", "njk",
        ],
        strict=True,
    )
)  # fmt: skip


def typo(word: str, rng: random.Random) -> str:
    """``word`` with one typo: swap two inner letters, drop, double or mistype one (never unchanged).

    >>> typo("robustness", random.Random(0)) != "robustness"
    True
    """
    ops = ["swap", "drop", "double", "key"]
    rng.shuffle(ops)
    for op in ops:
        i = rng.randrange(1, len(word) - 1)  # keep the first and last letters: still readable
        if op == "swap" and word[i] != word[i + 1]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if op == "drop":
            return word[:i] + word[i + 1 :]
        if op == "double":
            return word[: i + 1] + word[i:]
        near = _KEYBOARD.get(word[i].lower())
        if op == "key" and near:
            c = rng.choice(near)
            return word[:i] + (c.upper() if word[i].isupper() else c) + word[i + 1 :]
    return word[:-1]


def typo_edits(
    record: Example,
    rng: random.Random,
    *,
    rate: float = 0.2,
    min_length: int = 5,
    inside_spans: bool = False,
) -> list[Edit]:
    """Typos in a share ``rate`` (at least one) of the long words of the record's text.

    Long words have ``min_length`` letters or more. Words inside a gold span are candidates only
    with ``inside_spans`` (the gold string then carries the typo); a word that straddles a span
    boundary never is.
    """
    ranges = covered(record)
    candidates = []
    for m in _WORD.finditer(record["text"]):
        start, end = m.span()
        if end - start < min_length:
            continue
        if not all(fits((start, end), r) for r in ranges):
            continue  # a word that straddles a span edge (or holds a whole span)
        if not inside_spans and any(s <= start and end <= e for s, e in ranges):
            continue
        candidates.append((start, end, m.group()))
    if not candidates:
        return []
    k = max(1, round(rate * len(candidates)))
    chosen = sorted(rng.sample(candidates, k))
    return [Edit(start, end, typo(word, rng)) for start, end, word in chosen]


def lowercase_edits(record: Example) -> list[Edit]:
    """One edit per character whose lower case differs (and keeps its length, so offsets hold)."""
    edits = []
    for i, c in enumerate(record["text"]):
        low = c.lower()
        if low != c and len(low) == 1:
            edits.append(Edit(i, i + 1, low))
    return edits
