"""Evaluation reports: a Markdown table per task (the paper's Tables 1-4 layout), the JSON result and
a PNG chart (matplotlib, imported only when a chart is drawn)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prouie.units import PROBLEM_KINDS

_TASK_TITLES = {
    "ner": "NER (span-level micro-F1 on (type, entity))",
    "re": "RE (micro-F1 on (type, head, tail))",
    "ee": "EE (trigger F1 on (event type, trigger); argument F1 on (event type, role, argument))",
    "slot": "Slots (slot-level ExactAcc)",
}
_METRIC_TITLES = {"entity": "", "relation": "", "trigger": "Trigger ", "argument": "Argument "}


def pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown_table(header: list[str], rows: list[list[Any]], left: int = 1) -> list[str]:
    align = ["---"] * left + ["---:"] * (len(header) - left)
    return [_row(header), _row(align), *(_row(r) for r in rows)]


def problem_kinds(result: dict[str, Any]) -> list[str]:
    """Problem kinds that occur in a result, in taxonomy order (unknown kinds last, sorted)."""
    seen: set[str] = set()
    for t in result["tasks"].values():
        for d in t["datasets"].values():
            seen.update(d["outputs_with"])
    known = [k for k in PROBLEM_KINDS if k in seen]
    return known + sorted(seen - set(PROBLEM_KINDS))


def to_markdown(result: dict[str, Any], title: str = "Evaluation") -> str:
    """The result as Markdown: one table per task with P/R/F1 (%), counts and an average row, then
    the error taxonomy (how many outputs show each problem kind)."""
    out = [f"# {title}", "", f"String matching: **{result['matching']}**.", ""]
    for task, t in result["tasks"].items():
        out += [f"## {_TASK_TITLES.get(task, task)}", ""]
        datasets = t["datasets"]
        if task == "slot":
            header = ["Dataset", "Outputs", "Slots", "Correct", "ExactAcc"]
            rows = []
            for name, d in datasets.items():
                s = d["scores"]["exact_acc"]
                rows.append([name or "-", d["n"], s["total"], s["correct"], pct(s["accuracy"])])
            if len(datasets) > 1:
                rows.append(["**Avg**", "", "", "", pct(t["average"]["exact_acc"]["accuracy"])])
            out += markdown_table(header, rows) + [""]
            header = ["Dataset", "Slot", "Correct / Total", "ExactAcc"]
            left = 2
            rows = [
                [name or "-", slot, f"{a['correct']} / {a['total']}", pct(a["accuracy"])]
                for name, d in datasets.items()
                for slot, a in d["per_slot"].items()
            ]
            out += markdown_table(header, rows, left) + [""]
            continue
        metrics = t["metrics"]
        header = ["Dataset", "Outputs"]
        for m in metrics:
            pre = _METRIC_TITLES.get(m, m + " ")
            header += [f"{pre}P", f"{pre}R", f"{pre}F1", f"{pre}TP / Pred / Gold"]
        rows = []
        for name, d in datasets.items():
            row: list[Any] = [name or "-", d["n"]]
            for m in metrics:
                s = d["scores"][m]
                row += [pct(s["precision"]), pct(s["recall"]), pct(s["f1"])]
                row.append(f"{s['tp']} / {s['pred']} / {s['gold']}")
            rows.append(row)
        if len(datasets) > 1:
            row = ["**Avg**", sum(d["n"] for d in datasets.values())]
            for m in metrics:
                a = t["average"][m]
                row += [pct(a["precision"]), pct(a["recall"]), f"**{pct(a['f1'])}**", ""]
            rows.append(row)
            row = ["micro (all)", ""]
            for m in metrics:
                s = t["micro"][m]
                row += [pct(s["precision"]), pct(s["recall"]), pct(s["f1"])]
                row.append(f"{s['tp']} / {s['pred']} / {s['gold']}")
            rows.append(row)
        out += markdown_table(header, rows) + [""]

    kinds = problem_kinds(result)
    out += ["## Output problems", ""]
    if not kinds:
        out += ["No output shows any problem.", ""]
    else:
        out += ["Outputs showing each problem kind (an output may show several).", ""]
        header = ["Task", "Dataset", "Outputs", "With problems", *kinds]
        rows = []
        for task, t in result["tasks"].items():
            for name, d in t["datasets"].items():
                rows.append(
                    [task, name or "-", d["n"], d["outputs_with_problems"]]
                    + [d["outputs_with"].get(k, 0) for k in kinds]
                )
        out += markdown_table(header, rows, left=2) + [""]
    return "\n".join(out)


def write_json(result: dict[str, Any], path: str | Path) -> Path:
    """Write the result as indented JSON."""
    path = Path(path)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def plot(result: dict[str, Any], path: str | Path) -> Path:
    """A PNG with one panel per task (main scores per dataset, %) and one of output problems.

    Needs matplotlib (``pip install 'prouie[report]'``); it runs headless (Agg backend).
    """
    plt = pyplot("the evaluation chart")
    tasks = result["tasks"]
    kinds = problem_kinds(result)
    panels = len(tasks) + (1 if kinds else 0)
    fig, axes = plt.subplots(panels or 1, 1, figsize=(10, 3.2 * max(panels, 1)), squeeze=False)
    axes = axes[:, 0]
    for ax, (task, t) in zip(axes, tasks.items(), strict=False):
        names = [n or "-" for n in t["datasets"]]
        if task == "slot":
            series = {
                "ExactAcc": [d["scores"]["exact_acc"]["accuracy"] for d in t["datasets"].values()]
            }
        else:
            series = {
                f"{m} F1": [d["scores"][m]["f1"] for d in t["datasets"].values()]
                for m in t["metrics"]
            }
        bar_chart(ax, names, series)
        ax.set_title(_TASK_TITLES.get(task, task), fontsize=10)
        ax.set_ylabel("%")
        ax.set_ylim(0, 115)
    if kinds:
        ax = axes[len(tasks)]
        names = [f"{task}/{n or '-'}" for task, t in tasks.items() for n in t["datasets"]]
        series = {
            k: [
                d["outputs_with"].get(k, 0) / d["n"] if d["n"] else 0.0
                for t in tasks.values()
                for d in t["datasets"].values()
            ]
            for k in kinds
        }
        bar_chart(ax, names, series)
        ax.set_title("Outputs showing each problem kind", fontsize=10)
        ax.set_ylabel("% of outputs")
        ax.set_ylim(0, 115)
    return save(fig, path)


def pyplot(what: str) -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend; ``what`` names the chart in the error."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"{what} needs matplotlib: pip install 'prouie[report]' (or pass --no-plot)"
        ) from exc
    return plt


def save(fig: Any, path: str | Path) -> Path:
    """Lay out, write as PNG and close a figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def bar_chart(ax: Any, names: list[str], series: dict[str, list[float]]) -> None:
    k = max(len(series), 1)
    width = min(0.8 / k, 0.3)
    for i, (label, values) in enumerate(series.items()):
        xs = [j + (i - (k - 1) / 2) * width for j in range(len(names))]
        bars = ax.bar(xs, [100 * v for v in values], width, label=label)
        if len(names) * k <= 40:
            ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xlim(-0.6, len(names) - 0.4)  # a lone dataset keeps a bar's width, not the axis width
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(
        names,
        rotation=20 if len(names) > 4 else 0,
        ha="right" if len(names) > 4 else "center",
        fontsize=8,
    )
    ax.legend(fontsize=8, loc="upper right")
