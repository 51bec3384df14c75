"""Evaluation metrics of the paper (Section 3.1, Appendix A.5), computed on structural units.

- NER: span-level micro-F1 on (entity type, entity text);
- RE: micro-F1 on (relation type, head text, tail text);
- EE: trigger F1 on (event type, trigger text) and argument F1 on (event type, role, argument text);
- slot: ExactAcc per slot: a slot is right iff the predicted value equals the gold value after
  trimming surrounding whitespace (an output that is not a JSON object gets every slot wrong).

Each sentence contributes *sets* of units (set semantics: a unit predicted twice counts once, and
two identical gold mentions in one sentence count once), and true positives / predictions / gold
units are summed over the sentences of a dataset before precision, recall and F1 are taken
(micro averaging). Matching is on exact strings by default; ``loose=True`` compares strings after
case folding and collapsing runs of whitespace. The average row of a table is the unweighted mean of
the per-dataset scores, as in the paper's Tables 1-4.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prouie.parsing import Parsed
from prouie.units import Units, loose

# The metrics reported for each task, in table order; MAIN_METRIC is the one an average refers to.
METRICS: dict[str, tuple[str, ...]] = {
    "ner": ("entity",),
    "re": ("relation",),
    "ee": ("trigger", "argument"),
    "slot": ("exact_acc",),
}
MAIN_METRIC = {"ner": "entity", "re": "relation", "ee": "argument", "slot": "exact_acc"}


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts; a ratio with a zero denominator is 0.

    >>> prf(1, 2, 4)
    (0.5, 0.25, 0.3333333333333333)
    """
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0
    return p, r, f


@dataclass(slots=True)
class Counts:
    """Summed true positives, predicted units and gold units of one metric."""

    tp: int = 0
    pred: int = 0
    gold: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.tp += other.tp
        self.pred += other.pred
        self.gold += other.gold
        return self

    def as_dict(self) -> dict[str, float | int]:
        p, r, f = prf(self.tp, self.pred, self.gold)
        return {
            "tp": self.tp,
            "pred": self.pred,
            "gold": self.gold,
            "precision": p,
            "recall": r,
            "f1": f,
        }


def _loosen(units: frozenset[tuple[str, ...]]) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(map(loose, u)) for u in units)


def unit_sets(units: Units, *, loose_match: bool = False) -> dict[str, frozenset[tuple[str, ...]]]:
    """The unit set each metric of ``units.task`` compares (slot task: not set-based, see
    :func:`slot_matches`).

    >>> u = Units("re", types=frozenset({"work for"}), triples=frozenset({("work for", "Ann", "ACME")}))
    >>> unit_sets(u)
    {'relation': frozenset({('work for', 'Ann', 'ACME')})}
    """
    task = units.task
    if task == "ner":
        sets = {"entity": units.pairs}
    elif task == "re":
        sets = {"relation": units.triples}
    elif task == "ee":
        sets = {"trigger": units.triggers, "argument": units.arguments}
    else:
        raise ValueError(f"task {task!r} has no unit sets; slot outputs are scored by slot_matches")
    if loose_match:
        return {k: _loosen(v) for k, v in sets.items()}
    return sets


def sentence_counts(gold: Units, pred: Units, *, loose_match: bool = False) -> dict[str, Counts]:
    """Counts of one sentence for every metric of its task (set semantics).

    >>> g = Units("ner", pairs=frozenset({("person", "Ann"), ("person", "Bob")}))
    >>> p = Units("ner", pairs=frozenset({("person", "Ann"), ("location", "Bob")}))
    >>> sentence_counts(g, p)["entity"]
    Counts(tp=1, pred=2, gold=2)
    """
    gs = unit_sets(gold, loose_match=loose_match)
    ps = unit_sets(pred, loose_match=loose_match)
    return {m: Counts(len(gs[m] & ps[m]), len(ps[m]), len(gs[m])) for m in gs}


def slot_matches(
    gold: Units, pred: Units, *, ok: bool = True, loose_match: bool = False
) -> list[tuple[str, bool]]:
    """(slot, correct) for every slot of the gold schema, in schema order (slot-level ExactAcc).

    A slot is correct iff the predicted value equals the gold value once surrounding whitespace is
    trimmed (``loose_match``: after :func:`loose`). A missing slot is the empty value; when the output
    could not be read (``ok`` False) every slot is wrong, empty gold slots included.

    >>> g = Units("slot", slots=(("body", "phone"), ("action", "")))
    >>> slot_matches(g, Units("slot", slots=(("body", " phone "), ("action", "buy"))))
    [('body', True), ('action', False)]
    """
    if not ok:
        return [(s, False) for s, _ in gold.slots]
    norm = loose if loose_match else str.strip
    predicted = dict(pred.slots)
    return [(s, norm(predicted.get(s, "")) == norm(v)) for s, v in gold.slots]


@dataclass(slots=True)
class DatasetScore:
    """Everything accumulated for one (task, dataset): metric counts, slot tallies, problems."""

    task: str
    n: int = 0
    unparseable: int = 0
    with_problems: int = 0
    counts: dict[str, Counts] = field(default_factory=dict)
    slot_correct: Counter = field(default_factory=Counter)
    slot_total: Counter = field(default_factory=Counter)
    problems: dict[str, int] = field(default_factory=dict)
    outputs_with: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.counts and self.task != "slot":
            self.counts = {m: Counts() for m in METRICS[self.task]}

    def scores(self) -> dict[str, dict[str, float | int]]:
        """Per metric: counts and P/R/F1 (slot task: ExactAcc with correct/total)."""
        if self.task == "slot":
            correct, total = sum(self.slot_correct.values()), sum(self.slot_total.values())
            return {"exact_acc": _acc(correct, total)}
        return {m: c.as_dict() for m, c in self.counts.items()}

    def per_slot(self) -> dict[str, dict[str, float | int]]:
        """Slot task: ExactAcc of each slot (the paper's Figure 3)."""
        return {s: _acc(self.slot_correct[s], t) for s, t in self.slot_total.items()}


def _acc(correct: int, total: int) -> dict[str, float | int]:
    return {"correct": correct, "total": total, "accuracy": correct / total if total else 0.0}


class Evaluator:
    """Accumulates gold/prediction pairs per (task, dataset) and reports the paper's tables.

    >>> ev = Evaluator()
    >>> gold = Units("ner", types=frozenset({"person"}), pairs=frozenset({("person", "Ann")}))
    >>> from prouie.parsing import parse_output
    >>> ev.add("demo", gold, parse_output('{"person": "Ann | Bob"}', "ner", ["person"]))
    >>> ev.result()["tasks"]["ner"]["datasets"]["demo"]["scores"]["entity"]["f1"]
    0.6666666666666666
    """

    def __init__(self, *, loose_match: bool = False) -> None:
        self.loose_match = loose_match
        self.scores: dict[str, dict[str, DatasetScore]] = {}

    def add(self, dataset: str, gold: Units, parsed: Parsed) -> None:
        """Score one output (``parsed``) against its gold units."""
        task = gold.task
        by_ds = self.scores.setdefault(task, {})
        ds = by_ds.get(dataset)
        if ds is None:
            ds = by_ds[dataset] = DatasetScore(task)
        ds.n += 1
        if parsed.problems:
            ds.with_problems += 1
            ds.unparseable += not parsed.ok
            kinds = [p.kind for p in parsed.problems]
            for k in kinds:
                ds.problems[k] = ds.problems.get(k, 0) + 1
            for k in dict.fromkeys(kinds):  # each kind once, in order of appearance
                ds.outputs_with[k] = ds.outputs_with.get(k, 0) + 1
        pred = parsed.units
        if task == "slot":
            for s, right in slot_matches(gold, pred, ok=parsed.ok, loose_match=self.loose_match):
                ds.slot_total[s] += 1
                if right:
                    ds.slot_correct[s] += 1
            return
        if pred.task != task:
            raise ValueError(f"prediction parsed as {pred.task!r} for a {task!r} gold record")
        for m, c in sentence_counts(gold, pred, loose_match=self.loose_match).items():
            ds.counts[m] += c

    def result(self) -> dict[str, Any]:
        """JSON-ready result: per task, per dataset scores and problems, the average row, and the
        micro scores over all datasets of the task."""
        tasks: dict[str, Any] = {}
        for task in sorted(self.scores, key=_task_order):
            by_ds = self.scores[task]
            datasets: dict[str, Any] = {}
            for name in sorted(by_ds):
                ds = by_ds[name]
                entry: dict[str, Any] = {
                    "n": ds.n,
                    "scores": ds.scores(),
                    "unparseable": ds.unparseable,
                    "outputs_with_problems": ds.with_problems,
                    "problems": dict(ds.problems),
                    "outputs_with": dict(ds.outputs_with),
                }
                if task == "slot":
                    entry["per_slot"] = ds.per_slot()
                datasets[name] = entry
            tasks[task] = {
                "metrics": list(METRICS[task]),
                "main_metric": MAIN_METRIC[task],
                "datasets": datasets,
                "average": _average(task, datasets),
                "micro": _micro(task, by_ds.values()),
            }
        return {"matching": "loose" if self.loose_match else "strict", "tasks": tasks}


def _task_order(task: str) -> int:
    return list(METRICS).index(task) if task in METRICS else len(METRICS)


def _average(task: str, datasets: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Unweighted mean over datasets of each score (the Avg row of the paper's tables)."""
    out: dict[str, dict[str, float]] = {}
    n = len(datasets)
    if not n:
        return out
    for m in METRICS[task]:
        keys = ("accuracy",) if task == "slot" else ("precision", "recall", "f1")
        out[m] = {k: sum(d["scores"][m][k] for d in datasets.values()) / n for k in keys}
    return out


def _micro(task: str, scores: Iterable[DatasetScore]) -> dict[str, dict[str, float | int]]:
    """Counts summed over every dataset of the task, then scored once."""
    scores = list(scores)
    if task == "slot":
        correct = sum(sum(ds.slot_correct.values()) for ds in scores)
        total = sum(sum(ds.slot_total.values()) for ds in scores)
        return {"exact_acc": _acc(correct, total)}
    out = {}
    for m in METRICS[task]:
        c = Counts()
        for ds in scores:
            c += ds.counts[m]
        out[m] = c.as_dict()
    return out
