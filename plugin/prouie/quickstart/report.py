"""The quickstart's one report: F1 per task and stage, output lengths CM vs SA, timings, charts.

It reads what the steps wrote (each evaluation's ``report.json`` and ``predictions.jsonl``, the
``timings.json`` of the runs) and writes ``report/quickstart.md``, ``report/quickstart.json`` and
the PNG charts beside them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from statistics import mean
from typing import Any

from prouie.quickstart.pipeline import Quickstart

# The evaluation report's Markdown tables (right-aligned numbers) and matplotlib setup.
from prouie.report import markdown_table, pyplot, save

# (task, metric, column title): the main metrics of the paper's tables.
COLUMNS = (
    ("ner", "entity", "NER F1"),
    ("re", "relation", "RE F1"),
    ("ee", "trigger", "EE trigger F1"),
    ("ee", "argument", "EE argument F1"),
)
LENGTH_TASKS = ("ner", "re", "ee")


def stage_scores(qs: Quickstart) -> dict[str, dict[str, float]]:
    """``evaluation name -> column title -> F1 (%)`` for every evaluation that exists."""
    out: dict[str, dict[str, float]] = {}
    for name, _, _ in qs.evaluated():
        path = qs.eval_dir(name) / "report.json"
        if not path.is_file():
            continue
        tasks = json.loads(path.read_text("utf-8"))["tasks"]
        out[name] = {
            title: 100 * tasks[task]["micro"][metric]["f1"]
            for task, metric, title in COLUMNS
            if task in tasks
        }
    return out


def output_lengths(qs: Quickstart) -> dict[str, dict[str, float]]:
    """``evaluation name -> task -> mean characters of the model's outputs`` on the test split."""
    out: dict[str, dict[str, float]] = {}
    for name, _, _ in qs.evaluated():
        path = qs.eval_dir(name) / "predictions.jsonl"
        if not path.is_file():
            continue
        by_task: dict[str, list[int]] = {}
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                by_task.setdefault(row["task"], []).append(len(row["prediction"]))
        out[name] = {t: mean(v) for t, v in by_task.items()}
    return out


def robustness_scores(qs: Quickstart) -> dict[str, dict[str, Any]]:
    """``model name -> prouie robustness's result`` for the robustness steps that finished."""
    out = {}
    for name in qs.robustness_models():
        path = qs.robustness_dir(name) / "robustness.json"
        if path.is_file():
            out[name] = json.loads(path.read_text("utf-8"))
    return out


def lda_rounds(qs: Quickstart) -> dict[str, dict[str, Any]]:
    """``selection -> prouie lda's report`` for the LDA runs that finished."""
    out = {}
    for selection in ("loss", "random"):
        path = qs.work / "lda" / selection / "lda_report.json"
        if path.is_file():
            out[selection] = json.loads(path.read_text("utf-8"))
    return out


def robust_markdown(result: dict[str, Any]) -> list[str]:
    """The Robust UIE sections: F1 and drop per perturbation type, and the LDA round."""
    out: list[str] = []
    robustness = result.get("robustness") or {}
    if robustness:
        out += [
            "## Robustness (test F1 %, and its drop in points)",
            "",
            "Each type's drop is against the original sentences it was made from "
            "(`prouie robustness`; details in `robustness_<model>/robustness.md`). The final model "
            "is ProUIE's (after DE); the LDA model is the final model after the loss-guided round.",
            "",
        ]
        kinds: list[str] = []
        for rob in robustness.values():
            kinds += [k for k in rob["types"] if k != "original" and k not in kinds]
        rows = []
        for name, rob in robustness.items():
            for task, t in rob["tasks"].items():
                cells = t["rows"]["all"]
                row = [name, task.upper(), f"{100 * cells['original']['f1']:.1f}"]
                for k in kinds:
                    c = cells.get(k)
                    row.append(
                        "-" if c is None else f"{100 * c['f1']:.1f} (drop {100 * c['drop']:.1f})"
                    )
                rows.append(row)
        out += markdown_table(["model", "task", "original", *kinds], rows, left=2) + [""]
    lda = result.get("lda")
    if lda:
        out += [
            "## LDA: one round on the augmented training data",
            "",
            "Validation F1 (points, mean of the tasks' main metrics on original and perturbed "
            "validation sentences) before the round (the final model) and after it, for the "
            "loss-guided selection and the random-selection baseline of the same size "
            "(`prouie lda`; reports in `lda/<selection>/`).",
            "",
        ]
        rows = []
        for selection, doc in lda.items():
            r0 = next((r for r in doc["rounds"] if r["round"] == 0), None)
            r1 = next((r for r in doc["rounds"] if r["round"] == 1), None)
            if r0 is None or r1 is None or r0["f1"] is None or r1["f1"] is None:
                continue
            rows.append(
                [
                    selection,
                    str(r1["samples"]),
                    f"{r0['f1']:.1f}",
                    f"{r1['f1']:.1f}",
                    f"{r1['f1'] - r0['f1']:+.1f}",
                ]
            )
        out += markdown_table(["selection", "samples", "before", "after", "gain"], rows) + [""]
    return out


def to_markdown(result: dict[str, Any]) -> str:
    """The report's Markdown from :func:`collect`'s result."""
    out = ["# prouie quickstart", ""]
    out += [
        f"Model: `{result['model']}`; data: `{result['data']}`; sizes: `{result['sizes_name']}`.",
        "",
        "## Test F1 (%) after each stage",
        "",
    ]
    titles = [t for _, _, t in COLUMNS]
    rows = [
        [name] + [f"{s[t]:.1f}" if t in s else "-" for t in titles]
        for name, s in result["scores"].items()
    ]
    out += markdown_table(["stage", *titles], rows) + [""]
    out += [
        "CM stages are asked with the CM prompt, SA and DE with the concise SA prompt. SA trains "
        "RE and EE only (paper A.3), so NER's concise prompt is one no stage trained on; DE's NER "
        "phase is where the paper brings NER back, which takes more GRPO steps than a quickstart "
        "has (docs/quickstart.md).",
        "",
    ]
    out += [
        "## Output length (mean characters of the model's test outputs)",
        "",
        "CM keeps every key of the schema; SA drops the empty ones. CM is read after "
        "cm_phase3, SA after sa.",
        "",
    ]
    lengths = result["lengths"]
    rows = []
    for task in LENGTH_TASKS:
        cm = lengths.get("cm_phase3", {}).get(task)
        sa = lengths.get("sa", {}).get(task)
        cells = [f"{x:.1f}" if x is not None else "-" for x in (cm, sa)]
        ratio = f"{sa / cm:.2f}" if cm and sa is not None else "-"
        rows.append([task.upper(), *cells, ratio])
    out += markdown_table(["task", "CM", "SA", "SA / CM"], rows) + [""]
    out += robust_markdown(result)
    out += ["## Time per step", ""]
    rows = [[name, f"{sec:.1f}"] for name, sec in result["timings"].items()]
    rows.append(["**total**", f"**{sum(result['timings'].values()):.1f}**"])
    out += markdown_table(["step", "seconds"], rows) + [""]
    load = result["load_average"]
    out += [
        f"Load average when the report was written (1, 5, 15 min): {load[0]:.2f}, "
        f"{load[1]:.2f}, {load[2]:.2f} on {result['cpus']} CPU(s).",
        "",
    ]
    for chart in result["charts"]:
        rel = Path(os.path.relpath(chart, result["report_dir"]))
        out += [f"![{rel.with_suffix('').as_posix().lstrip('./')}]({rel.as_posix()})", ""]
    return "\n".join(out)


def plot(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """``f1.png`` (F1 per task across the stages) and ``length.png`` (CM vs SA output length);
    none when matplotlib is missing (``pip install "prouie[report]"``)."""
    try:
        plt = pyplot("the quickstart charts")
    except ImportError:  # the charts are optional: the Markdown and JSON are the report
        return []
    charts = []
    stages = list(result["scores"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for _, _, title in COLUMNS:
        ax.plot(
            stages, [result["scores"][s].get(title, 0.0) for s in stages], marker="o", label=title
        )
    ax.set_ylabel("test F1 (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("F1 after each stage")
    charts.append(save(fig, out_dir / "f1.png"))

    fig, ax = plt.subplots(figsize=(5, 3))
    lengths = result["lengths"]
    x = range(len(LENGTH_TASKS))
    for offset, stage, label in ((-0.2, "cm_phase3", "CM"), (0.2, "sa", "SA")):
        ax.bar(
            [i + offset for i in x],
            [lengths.get(stage, {}).get(t, 0.0) for t in LENGTH_TASKS],
            width=0.4,
            label=label,
        )
    ax.set_xticks(list(x), [t.upper() for t in LENGTH_TASKS])
    ax.set_ylabel("mean characters")
    ax.legend()
    ax.set_title("Output length, CM vs SA")
    charts.append(save(fig, out_dir / "length.png"))
    return charts


def write_report(qs: Quickstart, timings: dict[str, float], sizes_name: str = "default") -> Path:
    """Write ``report/quickstart.md`` (+ ``.json`` and the charts) into the working folder; return
    the Markdown file."""
    out_dir = qs.work / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "model": qs.user_model or "embedded tiny model",
        "data": str(qs.user_data) if qs.user_data else "embedded corpus",
        "sizes_name": sizes_name,
        "scores": stage_scores(qs),
        "lengths": output_lengths(qs),
        "robustness": robustness_scores(qs),
        "lda": lda_rounds(qs),
        "timings": timings,
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
    }
    result["report_dir"] = str(out_dir)
    charts = plot(result, out_dir)
    made = [qs.robustness_dir(name) / "robustness.png" for name in qs.robustness_models()]
    made += [qs.work / "lda" / sel / "lda_report.png" for sel in ("loss", "random")]
    charts += [p for p in made if p.is_file()]
    result["charts"] = [str(p) for p in charts]
    (out_dir / "quickstart.json").write_text(json.dumps(result, indent=1), "utf-8")
    md = out_dir / "quickstart.md"
    md.write_text(to_markdown(result) + "\n", "utf-8")
    return md
