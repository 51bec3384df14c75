"""Model answers made from gold targets the usual ways of getting them wrong (tests, benchmarks)."""

from __future__ import annotations

import json


def damaged(target: str, i: int) -> str:
    """The ``i``-th answer for a gold ``target``: a sixth each of cut off, wrapped in chatter,
    wrong values, a refusal, an unknown key added, and the target itself."""
    kind = i % 6
    if kind == 0:
        return target[: len(target) // 2]
    if kind == 1:
        return "Sure, here it is:\n" + target + "\nHope this helps."
    if kind == 2:
        return json.dumps({k: v[::-1] for k, v in json.loads(target).items()}, ensure_ascii=False)
    if kind == 3:
        return "I cannot answer."
    if kind == 4:
        return json.dumps({"not a label": "x", **json.loads(target)}, ensure_ascii=False)
    return target
