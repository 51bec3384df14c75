"""Prompts and targets of the CM and SA stages (paper Figures 4-8), and their round-trip check.

The instructions are jinja templates in ``templates/`` (``cm_<task>.jinja``, ``sa_<task>.jinja``);
code never holds a prompt string. A target is a JSON object keyed by label (schema order): CM keeps
every key ("" when empty), SA drops empty keys. ``json.dumps`` with its default separators gives
exactly the paper's ``{"used for": "surface, algorithm"}``.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from prouie.records import Example
from prouie.units import (
    ARG_SEP,
    KV_SEP,
    PAIR_SEP,
    SEP,
    sorted_spans,
    units_from_example,
    units_from_obj,
)

STAGES = ("cm", "sa")
TEMPLATE_DIR_ENV = "PROUIE_TEMPLATE_DIR"


def template_dirs() -> tuple[str, ...]:
    """Where templates are looked up: ``$PROUIE_TEMPLATE_DIR`` first (a user's overrides), then ours."""
    return _template_dirs(os.environ.get(TEMPLATE_DIR_ENV) or "")


@lru_cache(maxsize=8)
def _template_dirs(override: str) -> tuple[str, ...]:
    dirs = [override] if override else []
    here = Path(__file__).resolve().parent
    # An installed wheel ships them as prouie/templates; a checkout (or editable install) keeps
    # them in the repository's top-level templates/.
    for candidate in (here / "templates", here.parents[1] / "templates"):
        if candidate.is_dir():
            dirs.append(str(candidate))
    return tuple(dirs)


def make_env(dirs: tuple[str, ...]) -> Any:
    """A new jinja2 environment over the template folders ``dirs`` (see :func:`template_dirs`),
    with the settings every prouie template is rendered with."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(dirs)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


@lru_cache(maxsize=4)
def template_env(dirs: tuple[str, ...]) -> Any:
    """The shared (cached) environment of ``dirs``: :func:`make_env` once per folder list."""
    return make_env(dirs)


@lru_cache(maxsize=1024)
def _render_instruction(
    task: str,
    stage: str,
    labels: tuple[str, ...],
    roles: tuple[str, ...],
    definitions: tuple[tuple[str, str], ...],
    dirs: tuple[str, ...],
) -> str:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    template = template_env(dirs).get_template(f"{stage}_{task}.jinja")
    return template.render(labels=list(labels), roles=list(roles), definitions=dict(definitions))


def render_instruction(
    task: str,
    stage: str,
    labels: list[str] | tuple[str, ...],
    roles: list[str] | tuple[str, ...] | None = None,
    definitions: dict[str, str] | None = None,
) -> str:
    """The instruction of ``task`` at ``stage`` for a label schema (cached per schema).

    >>> render_instruction("ner", "cm", ["location", "person"])[:60]
    'You are an information extraction assistant. Strictly extrac'
    """
    return _render_instruction(
        task,
        stage,
        tuple(labels),
        tuple(roles or ()),
        tuple((definitions or {}).items()),
        template_dirs(),
    )


def _ee_group(trigger: str, args: list[tuple[str, str]]) -> str:
    if not args:
        return trigger
    return trigger + KV_SEP + ARG_SEP.join(f"{r}{KV_SEP}{a}" for r, a in args)


def target_obj(ex: Example, stage: str = "cm") -> dict[str, str]:
    """The target object of a record: label -> joined values (SA: empty keys dropped).

    Values are unique and in order of first appearance (start offset). RE pairs are ordered by the
    earlier of their two mentions; EE groups by trigger, arguments in annotation order.
    """
    task = ex["task"]
    values: dict[str, list[str]] = {label: [] for label in ex["labels"]}
    if task in ("ner", "slot"):
        for e in sorted_spans(ex.get("entities") or ()):
            vals = values[e["type"]]
            s = e["text"].strip() if task == "slot" else e["text"]
            if s not in vals:
                vals.append(s)
    elif task == "re":
        inf = float("inf")

        def first(r: Any) -> tuple[float, float]:
            a, b = r["head"].get("start"), r["tail"].get("start")
            a = inf if a is None else a
            b = inf if b is None else b
            return (min(a, b), max(a, b))

        for r in sorted(ex.get("relations") or (), key=first):
            pair = r["head"]["text"] + PAIR_SEP + r["tail"]["text"]
            vals = values[r["type"]]
            if pair not in vals:
                vals.append(pair)
    elif task == "ee":
        grouped: dict[str, dict[str, list[tuple[str, str]]]] = {label: {} for label in ex["labels"]}
        for ev in sorted(ex.get("events") or (), key=lambda e: _start(e["trigger"])):
            args = grouped[ev["type"]].setdefault(ev["trigger"]["text"], [])
            for a in ev.get("arguments") or ():
                pair = (a["role"], a["text"])
                if pair not in args:
                    args.append(pair)
        for label, by_trigger in grouped.items():
            values[label] = [_ee_group(t, args) for t, args in by_trigger.items()]
    else:
        raise ValueError(f"unknown task {task!r}")
    if stage == "sa":
        return {k: SEP.join(v) for k, v in values.items() if v}
    if stage != "cm":
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    return {k: SEP.join(v) for k, v in values.items()}


def _start(span: Any) -> float:
    s = span.get("start")
    return float("inf") if s is None else s


def render_target(ex: Example, stage: str = "cm") -> str:
    """The target text: ``json.dumps`` of :func:`target_obj`, non-ASCII kept.

    >>> ex = {"task": "re", "labels": ["used for", "part of"], "text": "surface algorithm",
    ...       "relations": [{"type": "used for", "head": {"text": "surface", "start": 0},
    ...                      "tail": {"text": "algorithm", "start": 8}}]}
    >>> render_target(ex, "sa")
    '{"used for": "surface, algorithm"}'
    """
    return json.dumps(target_obj(ex, stage), ensure_ascii=False)


def instruction_for(ex: Example, stage: str = "cm") -> str:
    """The instruction for a record's own schema."""
    defs = (ex.get("meta") or {}).get("definitions") if ex["task"] == "slot" else None
    return render_instruction(ex["task"], stage, ex["labels"], ex.get("roles"), defs)


def to_alpaca(ex: Example, stage: str = "cm") -> dict[str, str]:
    """LLaMA-Factory alpaca row: ``instruction`` (template), ``input`` (the text), ``output`` (target)."""
    return {
        "instruction": instruction_for(ex, stage),
        "input": ex["text"],
        "output": render_target(ex, stage),
    }


_SEPARATORS = {
    "ner": (SEP,),
    "slot": (SEP,),
    "re": (SEP, PAIR_SEP),
    "ee": (SEP, ARG_SEP, KV_SEP),
}


def _strings(ex: Example) -> list[str]:
    task = ex["task"]
    if task in ("ner", "slot"):
        return [e["text"] for e in ex.get("entities") or ()]
    if task == "re":
        return [s["text"] for r in ex.get("relations") or () for s in (r["head"], r["tail"])]
    return [
        s
        for ev in ex.get("events") or ()
        for s in (ev["trigger"]["text"], *(a["text"] for a in ev.get("arguments") or ()))
    ]


def round_trips(ex: Example, stage: str = "cm", target: str | None = None) -> bool:
    """Whether parsing the rendered target gives back the record's units.

    A cheap scan for separators inside values decides most records; only a record with a separator
    inside one of its strings is rendered and parsed for real.
    """
    seps = _SEPARATORS[ex["task"]]
    if not any(sep in s for s in _strings(ex) for sep in seps):
        return True
    text = render_target(ex, stage) if target is None else target
    units, _ = units_from_obj(
        json.loads(text), ex["task"], ex["labels"], ex.get("roles"), ex["text"]
    )
    return units == units_from_example(ex)
