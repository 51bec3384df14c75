"""Loss-guided Data Augmentation (LDA, Robust UIE arXiv 2503.03201): scores, selection, the loop's
state, its stop rule and its report. Pure logic: no ML framework is imported here.

One round scores every augmented sample with the current model (mean target-token loss, see
:mod:`prouie.integrations.loss_scoring`), keeps the top ``beta`` of each (dataset, perturbation)
group, fine-tunes on them and evaluates on the validation set; ``beta`` halves each round and the
loop stops when the validation F1 gains less than ``delta`` points (or at a round limit). The random
baseline (the paper's ablation) draws the same number of samples from each group.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from prouie.paths import atomic_open, repair_tail
from prouie.records import Example, RecordError, validate_example
from prouie.report import markdown_table, pyplot, save
from prouie.settings import suggest

ORIGINAL = "original"  # the perturbation group of a record that carries no meta.perturbation
SELECTIONS = ("loss", "random")


# ----------------------------------------------------------------------------- scores files


def read_scores(path: str | Path) -> dict[str, float | None]:
    """``{id: loss}`` of a scores jsonl (``{"id", "loss", "tokens"}`` per line); {} when absent.

    A last line cut short by a killed run is ignored (its sample is scored again); a broken line
    anywhere else raises :class:`RecordError`.
    """
    path = Path(path)
    if not path.exists():
        return {}
    scores: dict[str, float | None] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            scores[str(row["id"])] = None if row["loss"] is None else float(row["loss"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            if n == len(lines):
                break
            raise RecordError(
                f"{path}:{n}", "loss", "not a scores line {id, loss, tokens}"
            ) from None
    return scores


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    """``lines`` as the whole of ``path``, replaced at once (:func:`prouie.paths.atomic_open`)."""
    with atomic_open(path) as fh:
        for line in lines:
            fh.write(line + "\n")


def _line(sid: str, loss: float | None, tokens: int) -> str:
    return json.dumps({"id": sid, "loss": loss, "tokens": tokens}, ensure_ascii=False)


@contextmanager
def score_writer(path: str | Path) -> Iterator[Callable[[str, float | None, int], None]]:
    """Append scores to ``path``: yields ``write(id, loss, tokens)``; each line is flushed.

    A line cut short by an earlier killed run is dropped first, so appending never glues a new line
    onto a broken one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_tail(path)
    with path.open("a", encoding="utf-8") as fh:

        def write(sid: str, loss: float | None, tokens: int) -> None:
            fh.write(_line(sid, loss, tokens) + "\n")
            fh.flush()

        yield write


def merge_score_files(out: Path, shards: Sequence[Path], order: Sequence[str]) -> Path:
    """Merge ``out`` and the per-rank ``shards`` into ``out`` (in ``order``), then remove the shards."""
    rows: dict[str, str] = {}
    for path in (out, *shards):
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rows[str(json.loads(line)["id"])] = line
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut short by a killed rank: that sample is scored again
    known = set(order)
    _write_lines(
        out, [rows[i] for i in order if i in rows] + [v for k, v in rows.items() if k not in known]
    )
    for path in shards:
        path.unlink(missing_ok=True)
    return out


# ----------------------------------------------------------------------------- selection


def group_of(ex: Example) -> tuple[str, str]:
    """The selection group of a record: (dataset, perturbation type).

    >>> group_of({"dataset": "conll", "meta": {"perturbation": "typo"}})
    ('conll', 'typo')
    """
    meta = ex.get("meta") or {}
    return str(ex.get("dataset") or ""), str(meta.get("perturbation") or ORIGINAL)


def group_quota(n: int, beta: float) -> int:
    """How many of a group of ``n`` samples a round keeps: ceil(beta * n), so that every group with
    a sample contributes at least one (the paper gives no rounding rule; see docs/lda.md).

    >>> group_quota(1000, 0.1), group_quota(7, 0.1), group_quota(0, 0.1)
    (100, 1, 0)
    """
    # round() first: 0.1 * 1000 is 100.00000000000001 in floating point.
    return min(n, math.ceil(round(beta * n, 9)))


def _groups(records: Iterable[Example]) -> dict[tuple[str, str], list[Example]]:
    groups: dict[tuple[str, str], list[Example]] = {}
    for ex in records:
        groups.setdefault(group_of(ex), []).append(ex)
    return groups


def select_top(
    records: Iterable[Example], scores: dict[str, float | None], beta: float
) -> list[Example]:
    """The top ``beta`` of each (dataset, perturbation) group by loss, highest first within a group.

    Samples without a score (none computed, or no target token left after the cut-off) rank last;
    ties keep the input order, so the selection is deterministic.

    >>> recs = [{"id": str(i), "dataset": "d", "meta": {"perturbation": "typo"}} for i in range(20)]
    >>> [ex["id"] for ex in select_top(recs, {str(i): float(i % 7) for i in range(20)}, 0.1)]
    ['6', '13']
    """
    out: list[Example] = []
    for group in _groups(records).values():
        ranked = sorted(
            group,
            key=lambda ex: (
                -math.inf if scores.get(str(ex["id"])) is None else scores[str(ex["id"])]
            ),
            reverse=True,
        )
        out += ranked[: group_quota(len(group), beta)]
    return out


def select_random(records: Iterable[Example], beta: float, seed: int) -> list[Example]:
    """The random baseline: as many samples per group as :func:`select_top` keeps, drawn by ``seed``.

    >>> recs = [{"id": str(i), "dataset": "d"} for i in range(30)]
    >>> a, b = select_random(recs, 0.1, 7), select_random(recs, 0.1, 7)
    >>> len(a), a == b
    (3, True)
    """
    rng = random.Random(seed)
    out: list[Example] = []
    for group in _groups(records).values():
        picked = sorted(rng.sample(range(len(group)), group_quota(len(group), beta)))
        out += [group[i] for i in picked]
    return out


def select(
    records: Sequence[Example],
    beta: float,
    *,
    method: str = "loss",
    scores: dict[str, float | None] | None = None,
    seed: int = 0,
) -> list[Example]:
    """:func:`select_top` (``method="loss"``, needs ``scores``) or :func:`select_random`."""
    if method == "random":
        return select_random(records, beta, seed)
    if method != "loss":
        raise ValueError(f"unknown selection {method!r}; expected one of {', '.join(SELECTIONS)}")
    if scores is None:
        raise ValueError("loss selection needs scores")
    return select_top(records, scores, beta)


def write_dataset(
    records: Iterable[Example], out_dir: str | Path, name: str, stage: str
) -> list[str]:
    """Write ``records`` as LLaMA-Factory alpaca files with ``prouie prepare``'s writer and register
    them in ``out_dir/dataset_info.json``; returns the entry names (one per dataset, task and split,
    :func:`prouie.prepare.entry_name` with ``<name>_<dataset>`` as the dataset), ready for ``dataset=`` joined by commas."""
    from prouie.prepare import entry_name, prepare_alpaca
    from prouie.readers import ReadStats

    parts: dict[tuple[str, str, str], list[Example]] = {}
    for i, ex in enumerate(records):
        ex = validate_example(ex, f"{name}[{i}]")
        split = str((ex.get("meta") or {}).get("split") or "")
        parts.setdefault((str(ex.get("dataset") or "data"), ex["task"], split), []).append(ex)
    names = []
    for (dataset, task, split), group in parts.items():
        entry = entry_name(stage, task, f"{name}_{dataset}", split)
        prepare_alpaca(group, out_dir, stage, ReadStats(), name=entry)
        names.append(entry)
    return names


# ----------------------------------------------------------------------------- config


@dataclass
class LdaConfig:
    """Settings of ``prouie lda`` (``recipes/lda.yaml`` documents every key)."""

    model: str
    original: str
    augmented: str
    validation: str
    out: str = "saves/lda"
    start_checkpoint: str | None = None
    train_recipe: str = "recipes/lda_train.yaml"
    train_overrides: list[str] = field(default_factory=list)
    template: str = "qwen3_nothink"
    stage: str = "cm"
    cutoff_len: int = 2048
    mix_original: bool = True
    beta: float = 0.1
    beta_decay: float = 0.5
    delta: float = 0.3
    max_rounds: int = 4
    selection: str = "loss"
    seed: int = 42
    scoring: dict[str, Any] = field(default_factory=dict)
    predict: dict[str, Any] = field(default_factory=dict)
    launcher: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: Any, where: str = "config") -> LdaConfig:
        """Validated settings; unknown keys get a close-match suggestion, paths stay as written."""
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: must be a mapping of settings")
        names = [f.name for f in fields(cls)]
        for key in raw:
            if key not in names:
                raise ValueError(f"{where}: unknown setting {key!r}{suggest(str(key), names)}")
        for key in ("model", "original", "augmented", "validation"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise ValueError(f"{where}: {key!r} is required (a path)")
        cfg = cls(**raw)
        checks = [
            (0 < cfg.beta <= 1, "beta must be in (0, 1]"),
            (0 < cfg.beta_decay <= 1, "beta_decay must be in (0, 1]"),
            (isinstance(cfg.max_rounds, int) and cfg.max_rounds >= 1, "max_rounds must be >= 1"),
            (cfg.selection in SELECTIONS, f"selection must be one of {', '.join(SELECTIONS)}"),
            (cfg.stage in ("cm", "sa"), "stage must be cm or sa"),
            (isinstance(cfg.train_overrides, list), "train_overrides must be a list of key=value"),
            (all("=" in str(o) for o in cfg.train_overrides), "train_overrides: use key=value"),
        ]
        for ok, problem in checks:
            if not ok:
                raise ValueError(f"{where}: {problem}")
        return cfg

    def beta_of(self, round_no: int) -> float:
        """Round ``r`` (1-based) keeps beta * decay^(r-1): 10 %, 5 %, 2.5 % ... by default."""
        return self.beta * self.beta_decay ** (round_no - 1)


# ----------------------------------------------------------------------------- loop state


@dataclass
class Round:
    """What one round did; round 0 is the fine-tune on the original data (no augmented samples)."""

    round: int
    beta: float = 0.0
    phases: list[str] = field(default_factory=list)  # done: scored, selected, trained, evaluated
    checkpoint: str | None = None
    selected: int = 0
    used_ids: int = 0  # distinct augmented samples trained on so far (this round included)
    f1: float | None = None
    f1_by_perturbation: dict[str, float] = field(default_factory=dict)


@dataclass
class LoopState:
    """The loop's progress, saved after every phase so a killed loop resumes where it was."""

    selection: str
    augmented_total: int
    rounds: list[Round] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    stop_reason: str | None = None

    @classmethod
    def load(cls, path: Path) -> LoopState | None:
        if not path.exists():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["rounds"] = [Round(**r) for r in raw.get("rounds", [])]
        return cls(**raw)

    def save(self, path: Path) -> None:
        from dataclasses import asdict

        path.parent.mkdir(parents=True, exist_ok=True)
        _write_lines(path, [json.dumps(asdict(self), indent=1, ensure_ascii=False)])

    def round(self, n: int, beta: float = 0.0) -> Round:
        """Round ``n``, added when the loop reaches it."""
        for r in self.rounds:
            if r.round == n:
                return r
        r = Round(n, beta)
        self.rounds.append(r)
        return r


def stop_reason(rounds: Sequence[Round], delta: float, max_rounds: int) -> str | None:
    """Why the loop stops after the last evaluated round, or None to go on.

    The gain is the validation F1 (points) over the round before; below ``delta`` stops (the paper's
    rule), as does reaching ``max_rounds`` augmented rounds.

    >>> rs = [Round(0, f1=50.0), Round(1, f1=53.0), Round(2, f1=53.2)]
    >>> stop_reason(rs[:2], 0.3, 4) is None, stop_reason(rs, 0.3, 4)
    (True, 'F1 gain 0.20 < delta 0.3 in round 2')
    """
    done = [r for r in rounds if r.f1 is not None]
    if len(done) >= 2:
        gain = done[-1].f1 - done[-2].f1
        if gain < delta:
            return f"F1 gain {gain:.2f} < delta {delta:g} in round {done[-1].round}"
    if done and done[-1].round >= max_rounds:
        return f"round limit {max_rounds} reached"
    return None


def validation_f1(result: dict[str, Any]) -> float:
    """One validation F1 in points from an :class:`~prouie.metrics.Evaluator` result: the mean over
    tasks of each task's main metric, micro-averaged over its datasets (slot: ExactAcc)."""
    vals = []
    for t in result["tasks"].values():
        main = t["micro"][t["main_metric"]]
        vals.append(main["accuracy"] if "accuracy" in main else main["f1"])
    return 100 * sum(vals) / len(vals) if vals else 0.0


# ----------------------------------------------------------------------------- report


def report_rows(state: LoopState) -> list[dict[str, Any]]:
    """Per round: beta, samples used, cumulative share of the augmented data, F1s."""
    rows = []
    for r in sorted(state.rounds, key=lambda r: r.round):
        rows.append(
            {
                "round": r.round,
                "beta": r.beta,
                "samples": r.selected,
                "cumulative_share": r.used_ids / state.augmented_total
                if state.augmented_total
                else 0.0,
                "f1": r.f1,
                "f1_by_perturbation": r.f1_by_perturbation,
                "checkpoint": r.checkpoint,
            }
        )
    return rows


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def write_report(state: LoopState, out_dir: str | Path, *, plot: bool = True) -> list[Path]:
    """``lda_report.md``, ``lda_report.json`` and (matplotlib installed) ``lda_report.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = report_rows(state)
    kinds = sorted({k for r in rows for k in r["f1_by_perturbation"]})
    header = ["Round", "beta", "Samples", "Cumulative share", "Val F1", *kinds]
    lines = [
        f"# LDA ({state.selection} selection)",
        "",
        f"Augmented samples: {state.augmented_total}. Stop: {state.stop_reason or 'not stopped yet'}.",
        "",
    ]
    rows_md = [
        [
            r["round"],
            f"{100 * r['beta']:.2f} %",
            r["samples"],
            f"{100 * r['cumulative_share']:.2f} %",
            _fmt(r["f1"]),
            *(_fmt(r["f1_by_perturbation"].get(k)) for k in kinds),
        ]
        for r in rows
    ]
    lines += markdown_table(header, rows_md)
    paths = [out / "lda_report.md", out / "lda_report.json"]
    _write_lines(paths[0], lines)
    doc = {
        "selection": state.selection,
        "augmented_total": state.augmented_total,
        "stop_reason": state.stop_reason,
        "rounds": rows,
    }
    _write_lines(paths[1], [json.dumps(doc, indent=2, ensure_ascii=False)])
    if plot:
        try:
            plt = pyplot("the LDA report chart")
        except ImportError:  # the chart is optional here: the Markdown and JSON are the report
            return paths
        fig, ax = plt.subplots(figsize=(6, 3.5))
        xs = [r["round"] for r in rows if r["f1"] is not None]
        ax.plot(xs, [r["f1"] for r in rows if r["f1"] is not None], marker="o", label="overall")
        for k in kinds:
            pts = [
                (r["round"], r["f1_by_perturbation"][k])
                for r in rows
                if k in r["f1_by_perturbation"]
            ]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", alpha=0.6, label=k)
        ax.set_xlabel("round")
        ax.set_ylabel("validation F1")
        ax.set_title(f"LDA ({state.selection})")
        ax.legend(fontsize=7)
        paths.append(save(fig, out / "lda_report.png"))
    return paths
