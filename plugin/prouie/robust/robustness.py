"""The robustness report: F1 on the original records and on each perturbation type, and the drop.

Predictions (from ``prouie predict``, or LLaMA-Factory joined to their records) are grouped by the
``meta.perturbation`` of their record; records without one are the originals. Each output is
parsed once with :func:`prouie.evaluation.parse_item` (the same parser, units and metrics as
``prouie evaluate``) and counted in its group and in the baselines it belongs to. The drop of a type is measured against the originals *that type was made from*
(``meta.parent_id``): a type that only applies to some records (typos need a long word, Replace
Triple a relation) is compared with the same records unperturbed. The layout follows the paper's
RUIE-Bench results: per task, one row per data set, the original F1 then each type's F1 with its
absolute and relative drop.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prouie.evaluation import Item, parse_item
from prouie.metrics import MAIN_METRIC, Evaluator
from prouie.parsing import Parsed
from prouie.records import Example
from prouie.report import bar_chart, markdown_table, pct, pyplot, save
from prouie.robust.kinds import TYPES
from prouie.units import Units

ORIGINAL = "original"


def _f1(result: dict[str, Any], task: str, dataset: str | None) -> float | None:
    t = result["tasks"].get(task)
    if t is None:
        return None
    metric = MAIN_METRIC[task]
    if dataset is None:
        return t["micro"][metric]["f1"]
    d = t["datasets"].get(dataset)
    return None if d is None else d["scores"][metric]["f1"]


# An output parsed once: its record, gold units and parse (an original is also every baseline).
Scored = tuple[Example, Units, Parsed]


def _score(outputs: list[Scored], loose_match: bool) -> dict[str, Any]:
    evaluator = Evaluator(loose_match=loose_match)
    for rec, gold, parsed in outputs:
        evaluator.add(rec.get("dataset") or "", gold, parsed)
    return evaluator.result()


def robustness(items: Iterable[Item], *, loose_match: bool = False) -> dict[str, Any]:
    """Scores per task, data set and perturbation type, with drops; JSON-ready.

    ``loose_match`` compares strings as ``prouie evaluate --loose`` does.

    ``result["tasks"][task]["rows"][dataset][type]`` holds ``f1``, ``baseline_f1`` (the originals
    it was made from), ``drop`` (baseline - f1) and ``relative_drop`` (drop / baseline), and ``n``;
    the dataset ``"all"`` is the micro score over the task's data sets.
    """
    groups: dict[str, list[Scored]] = {}
    originals: dict[str, Scored] = {}
    for item in items:
        scored = (item.record, *parse_item(item))
        kind = (item.record.get("meta") or {}).get("perturbation") or ORIGINAL
        groups.setdefault(kind, []).append(scored)
        if kind == ORIGINAL:
            originals[item.record["id"]] = scored
    kinds = [k for k in (ORIGINAL, *TYPES) if k in groups]
    kinds += sorted(set(groups) - set(kinds))
    tasks: dict[str, Any] = {}
    missing_parents: dict[str, int] = {}
    original_result = _score(groups.get(ORIGINAL, []), loose_match)
    for kind in kinds:
        result = original_result if kind == ORIGINAL else _score(groups[kind], loose_match)
        baseline = original_result
        if kind != ORIGINAL:
            parents = [
                originals.get((rec.get("meta") or {}).get("parent_id"))
                for rec, _, _ in groups[kind]
            ]
            missing_parents[kind] = sum(p is None for p in parents)
            baseline = _score([p for p in parents if p is not None], loose_match)
        for task, t in result["tasks"].items():
            rows = tasks.setdefault(task, {"metric": MAIN_METRIC[task], "rows": {}})["rows"]
            for dataset in [*t["datasets"], None]:
                f1 = _f1(result, task, dataset)
                base = _f1(baseline, task, dataset)
                n = t["datasets"][dataset]["n"] if dataset is not None else _n(t)
                cell: dict[str, Any] = {"f1": f1, "n": n, "baseline_f1": base}
                if kind != ORIGINAL and base is not None:
                    cell["drop"] = base - f1
                    cell["relative_drop"] = (base - f1) / base if base else None
                rows.setdefault(dataset if dataset is not None else "all", {})[kind] = cell
    return {
        "matching": "loose" if loose_match else "strict",
        "types": kinds,
        "tasks": tasks,
        "missing_parents": missing_parents,
    }


def _n(task_result: dict[str, Any]) -> int:
    return sum(d["n"] for d in task_result["datasets"].values())


def to_markdown(result: dict[str, Any], title: str = "Robustness") -> str:
    """One table per task: original F1, then each type's F1 (absolute drop, relative drop %)."""
    out = [f"# {title}", "", f"String matching: **{result.get('matching', 'strict')}**.", ""]
    out += [
        "F1 in %; in brackets the change from the original records each type was made from "
        "(points, then relative %; negative is a drop).",
        "",
    ]
    for task, t in result["tasks"].items():
        kinds = [k for k in result["types"] if any(k in row for row in t["rows"].values())]
        out += [f"## {task.upper()} ({t['metric']} F1)", ""]
        header = ["Dataset", *(k.replace("_", " ") for k in kinds)]
        rows = []
        for dataset, row in t["rows"].items():
            cells = [dataset or "-"]
            for k in kinds:
                c = row.get(k)
                if c is None:
                    cells.append("")
                elif "drop" in c:
                    rel = c.get("relative_drop")
                    rel_s = f"{-100 * rel:+.1f}%" if rel is not None else "n/a"
                    cells.append(f"{pct(c['f1'])} ({-100 * c['drop']:+.2f}, {rel_s})")
                else:
                    cells.append(pct(c["f1"]))
            rows.append(cells)
        out += markdown_table(header, rows) + [""]
    missing = {k: v for k, v in result.get("missing_parents", {}).items() if v}
    if missing:
        out += [
            "Perturbed predictions whose original record has no prediction (left out of the "
            f"baselines): {missing}.",
            "",
        ]
    return "\n".join(out)


def plot(result: dict[str, Any], path: str | Path) -> Path:
    """A PNG with one panel per task: micro F1 on the originals and on each type (%)."""
    plt = pyplot("the robustness chart")
    tasks = result["tasks"]
    fig, axes = plt.subplots(len(tasks) or 1, 1, figsize=(10, 3.2 * max(len(tasks), 1)))
    axes = list(axes) if len(tasks) > 1 else [axes]
    for ax, (task, t) in zip(axes, tasks.items(), strict=False):
        row = t["rows"]["all"]
        kinds = [k for k in result["types"] if k in row]
        bar_chart(
            ax,
            [k.replace("_", " ") for k in kinds],
            {f"{t['metric']} F1": [row[k]["f1"] for k in kinds]},
        )
        ax.set_title(f"{task.upper()}: F1 on original and perturbed records", fontsize=10)
        ax.set_ylabel("%")
        ax.set_ylim(0, 115)
    return save(fig, path)
