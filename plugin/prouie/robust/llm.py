"""LLM-based perturbations: the prompt for a record, and the validation of the model's answer.

Each LLM type has a template ``templates/perturb_<type>.jinja`` asking for a strict JSON object with
a ``candidates`` list (3 candidates), and a JSON schema sent as ``response_format``. The prompt
depends on the record only, never on the seed: the seed picks one of the valid candidates, so a
second seed over the same records costs no request (the answers are cached).

Which mention, triple, trigger or context words a prompt is about is drawn with a generator seeded
by the record id and the type, for the same reason.

:func:`apply_answer` validates an answer and builds the perturbed record, or raises
:class:`Rejected` with a short reason (``not JSON``, ``wrong shape``, ``type changed``, ...). The
edits are applied by :func:`prouie.robust.spans.apply_edits`, so the rest of the sentence stays
unchanged by construction and every gold span stays an exact substring at recomputed offsets.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

from prouie.records import Example
from prouie.robust.spans import Edit, SpanBroken, apply_edits, covered, fits, spans
from prouie.targets import round_trips, template_dirs, template_env

CANDIDATES = 3
MAX_MASKS = 4
_CONTEXT_WORD = re.compile(r"[^\W\d_]{3,}")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)

# Reasons an answer is rejected (the summary and the rejects file use these words).
REASONS = (
    "not JSON",
    "wrong shape",
    "type changed",
    "unchanged",
    "bad mention",
    "repeats a gold mention",
    "original sentence not kept",
    "span broken",
    "breaks the target format",
)


class Rejected(ValueError):
    """An LLM answer that cannot make a valid perturbed record; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:  # the rejects file and the summary speak only these words
            raise ValueError(f"unknown rejection reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Plan:
    """What one LLM request is about: the template variables and the text ranges it rewrites."""

    kind: str
    variables: dict[str, Any]
    targets: tuple[tuple[int, int], ...]


def _pick_rng(record: Example, kind: str) -> random.Random:
    return random.Random(f"{record['id']}|{kind}")


def plan(record: Example, kind: str) -> Plan | None:
    """The request for ``record`` and LLM type ``kind``, or None when the record has nothing to offer.

    A target that no replacement could take without cutting another gold span (a trigger that
    straddles an argument's edge, a head overlapping its tail) gives None too, before any request.
    """
    p = _plan(record, kind)
    if p is None:
        return None
    ranges = covered(record)
    if not all(fits(t, r) for t in p.targets for r in ranges):
        return None
    if any(a[1] > b[0] for a, b in pairwise(sorted(p.targets))):
        return None
    return p


def _plan(record: Example, kind: str) -> Plan | None:
    rng = _pick_rng(record, kind)
    text = record["text"]
    base = {"text": text, "task": record["task"], "labels": record["labels"]}
    if kind == "replace_entity":
        mentions = sorted({(e["text"], e["type"]) for e in record["entities"]})
        if not mentions:
            return None
        mention, type_ = rng.choice(mentions)
        targets = tuple(
            (e["start"], e["end"])
            for e in record["entities"]
            if (e["text"], e["type"]) == (mention, type_)
        )
        return Plan(kind, {**base, "mention": mention, "type": type_}, tuple(sorted(set(targets))))
    if kind == "replace_triple":
        if not record["relations"]:
            return None
        r = rng.choice(record["relations"])
        head, tail = r["head"], r["tail"]
        variables = {
            **base,
            "relation": r["type"],
            "head": head["text"],
            "head_type": head.get("type") or "",
            "tail": tail["text"],
            "tail_type": tail.get("type") or "",
        }
        targets = ((head["start"], head["end"]), (tail["start"], tail["end"]))
        return Plan(kind, variables, targets)
    if kind == "replace_trigger":
        if not record["events"]:
            return None
        ev = rng.choice(record["events"])
        trigger = ev["trigger"]
        variables = {**base, "trigger": trigger["text"], "event_type": ev["type"]}
        return Plan(kind, variables, ((trigger["start"], trigger["end"]),))
    if kind == "change_context":
        ranges = covered(record)
        words = [
            m.span()
            for m in _CONTEXT_WORD.finditer(text)
            if not any(m.start() < e and s < m.end() for s, e in ranges)
        ]
        if not words:
            return None
        chosen = sorted(rng.sample(words, min(MAX_MASKS, len(words))))
        masked, last = [], 0
        for i, (s, e) in enumerate(chosen, 1):
            masked += [text[last:s], f"[MASK{i}]"]
            last = e
        variables = {**base, "masked": "".join(masked) + text[last:], "masks": len(chosen)}
        return Plan(kind, variables, tuple(chosen))
    if kind == "extend_sentence":
        return Plan(kind, base, ())
    raise ValueError(f"not an LLM perturbation type: {kind!r}")


@lru_cache(maxsize=32)
def _template(kind: str, dirs: tuple[str, ...]) -> Any:
    # Held once per run: jinja's own cache stats the file on every lookup (~0.4 ms a request).
    return template_env(dirs).get_template(f"perturb_{kind}.jinja")


def messages(p: Plan) -> list[dict[str, str]]:
    """The chat messages of a plan: one user turn rendered from ``perturb_<type>.jinja``."""
    template = _template(p.kind, template_dirs())
    return [{"role": "user", "content": template.render(**p.variables).strip()}]


def _schema(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": 1, "maxItems": CANDIDATES}


def _object(**props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


_STR = {"type": "string"}
_ITEMS = {
    "replace_entity": _object(mention=_STR, type=_STR),
    "replace_triple": _object(head=_STR, tail=_STR, relation=_STR),
    "replace_trigger": _object(trigger=_STR, event_type=_STR),
    "change_context": {"type": "array", "items": _STR, "minItems": 1, "maxItems": CANDIDATES},
    "extend_sentence": _STR,
}


def response_format(kind: str) -> dict[str, Any]:
    """The JSON schema of an answer, as an OpenAI ``response_format`` (servers may ignore it)."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": f"perturb_{kind}",
            "strict": True,
            "schema": _object(candidates=_schema(_ITEMS[kind])),
        },
    }


def parse_answer(answer: str) -> list[Any]:
    """The ``candidates`` list of an answer (a code fence around the JSON is tolerated)."""
    fenced = _FENCE.match(answer)
    try:
        obj = json.loads(fenced.group(1) if fenced else answer)
    except json.JSONDecodeError as exc:
        raise Rejected("not JSON", exc.msg) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("candidates"), list):
        raise Rejected("wrong shape", "expected an object with a 'candidates' list")
    if not obj["candidates"]:
        raise Rejected("wrong shape", "no candidates")
    return obj["candidates"]


def apply_answer(record: Example, p: Plan, answer: str, rng: random.Random) -> Example:
    """The perturbed record built from a valid candidate of ``answer`` picked with ``rng``.

    Every candidate is validated; the first rejection reason is raised when none is valid.
    """
    candidates = parse_answer(answer)
    if p.kind == "change_context":
        return _change_context(record, p, candidates, rng)
    built: list[Example] = []
    first: Rejected | None = None
    for candidate in candidates:
        try:
            built.append(_build(record, p, candidate))
        except Rejected as exc:
            first = first or exc
    if not built:
        assert first is not None
        raise first
    return rng.choice(built)


def _field(candidate: Any, name: str) -> str:
    value = candidate.get(name) if isinstance(candidate, dict) else None
    if not isinstance(value, str):
        raise Rejected("wrong shape", f"candidate without a string {name!r}: {candidate!r}")
    return value


def _mention(value: str, old: str) -> str:
    """A replacement mention: one line, no surrounding space, different from the old one."""
    if not value.strip() or value != value.strip() or "\n" in value:
        raise Rejected("bad mention", f"{value!r} is empty, padded or spans lines")
    if value.casefold() == old.casefold():
        raise Rejected("unchanged", f"{value!r} is the original mention")
    return value


def _repeated(record: Example, added: str) -> list[str]:
    """Gold strings of the record that occur as whole words in ``added`` (case-insensitive)."""
    return sorted(
        {
            s["text"]
            for s in spans(record)
            if re.search(rf"(?<!\w){re.escape(s['text'])}(?!\w)", added, re.IGNORECASE)
        }
    )


def _finish(record: Example, edits: list[Edit]) -> Example:
    try:
        out = apply_edits(record, edits)
    except SpanBroken as exc:
        raise Rejected("span broken", str(exc)) from None
    if not round_trips(out):
        raise Rejected("breaks the target format", "a gold string now holds a separator")
    return out


def _build(record: Example, p: Plan, candidate: Any) -> Example:
    v = p.variables
    if p.kind == "extend_sentence":
        if not isinstance(candidate, str):
            raise Rejected("wrong shape", f"candidate is not a string: {candidate!r}")
        at = candidate.find(record["text"])
        if at < 0:
            raise Rejected("original sentence not kept", candidate[:200])
        before, after = candidate[:at], candidate[at + len(record["text"]) :]
        if not (before + after).strip():
            raise Rejected("unchanged", "nothing was added")
        repeated = _repeated(record, f"{before}\n{after}")
        if repeated:
            raise Rejected("repeats a gold mention", ", ".join(repeated))
        n = len(record["text"])
        return _finish(record, [Edit(0, 0, before), Edit(n, n, after)])
    if p.kind == "replace_entity":
        if _field(candidate, "type") != v["type"]:
            raise Rejected("type changed", f"{candidate['type']!r} instead of {v['type']!r}")
        new = _mention(_field(candidate, "mention"), v["mention"])
        return _finish(record, [Edit(s, e, new) for s, e in p.targets])
    if p.kind == "replace_triple":
        if _field(candidate, "relation") != v["relation"]:
            raise Rejected(
                "type changed", f"{candidate['relation']!r} instead of {v['relation']!r}"
            )
        head = _mention(_field(candidate, "head"), v["head"])
        tail = _mention(_field(candidate, "tail"), v["tail"])
        if head.casefold() == tail.casefold():
            raise Rejected("bad mention", "head and tail are the same")
        (hs, he), (ts, te) = p.targets
        return _finish(record, [Edit(hs, he, head), Edit(ts, te, tail)])
    if p.kind == "replace_trigger":
        if _field(candidate, "event_type") != v["event_type"]:
            got = candidate["event_type"]
            raise Rejected("type changed", f"{got!r} instead of {v['event_type']!r}")
        new = _mention(_field(candidate, "trigger"), v["trigger"])
        return _finish(record, [Edit(s, e, new) for s, e in p.targets])
    raise ValueError(f"not an LLM perturbation type: {p.kind!r}")


def _change_context(record: Example, p: Plan, candidates: list[Any], rng: random.Random) -> Example:
    """One candidate list per mask; each mask takes a valid word picked by ``rng``."""
    if len(candidates) != len(p.targets):
        raise Rejected("wrong shape", f"{len(candidates)} lists for {len(p.targets)} masks")
    text = record["text"]
    edits = []
    for (s, e), options in zip(p.targets, candidates, strict=True):
        if not isinstance(options, list):
            raise Rejected("wrong shape", f"candidates of a mask are not a list: {options!r}")
        valid = [
            w
            for w in options
            if isinstance(w, str)
            and w.strip() == w
            and w
            and "\n" not in w
            and "[MASK" not in w
            and not _repeated(record, w)
        ]
        if not valid:
            raise Rejected("bad mention", f"no usable word for {text[s:e]!r}: {options!r}")
        edits.append(Edit(s, e, rng.choice(valid)))
    if all(text[ed.start : ed.end] == ed.new for ed in edits):
        raise Rejected("unchanged", "every mask got its original word back")
    return _finish(record, edits)
