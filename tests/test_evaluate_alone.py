"""``prouie evaluate generated_predictions.jsonl`` alone gives the report that ``--records`` gives.

On the sample data (wikigold NER, FewRel RE, PHEE EE) and a slot schema, with CM and SA prompts
and damaged predictions: the per-dataset scores and problem counts read from the prompts and labels
alone equal those of the same file joined to its canonical records, and a shuffled subset of the
file scores that subset.
"""

from __future__ import annotations

import json
import random
from itertools import islice
from pathlib import Path

import pytest
from damage import damaged
from prouie.cli import main
from prouie.evaluation import RecordIndex, read_predictions, score_items
from prouie.generation import format_prompt, user_turn
from prouie.readers import read
from prouie.targets import instruction_for, render_target
from shared_data import shared_file

SAMPLES = [
    ("conll", "wikigold/wikigold.conll.txt"),
    ("fewrel", "fewrel/val_wiki.json"),
    ("phee", "phee/test.json"),
]
SLOT = {
    "task": "slot",
    "labels": ["action", "device", "place"],
    "meta": {"definitions": {"action": "what to do", "device": "a thing", "place": "where"}},
}


def slot_records(n: int) -> list[dict]:
    rng = random.Random(0)
    out = []
    for i in range(n):
        action, device, place = rng.choice(["buy", "sell"]), rng.choice(["phone", "tv"]), "Rome"
        text = f"please {action} a {device} in {place} {i}"
        ents = [{"type": "action", "text": action}, {"type": "device", "text": device}]
        if i % 3:
            ents.append({"type": "place", "text": place})
        out.append({"id": f"s{i}", "dataset": "slots", "text": text, "entities": ents, **SLOT})
    return out


def sample_records(fmt: str, rel: str, n: int = 400) -> list[dict]:
    return list(islice(read(fmt, shared_file(rel)), n))


def lf_rows(records: list[dict], stage: str) -> list[dict]:
    return [
        {
            "prompt": format_prompt(user_turn(instruction_for(r, stage), r["text"])),
            "predict": damaged(render_target(r, stage), i),
            "label": render_target(r, stage),
        }
        for i, r in enumerate(records)
    ]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def tables(result: dict) -> dict:
    return {t: v["datasets"] for t, v in result["tasks"].items()}


@pytest.mark.parametrize("stage", ["cm", "sa"])
@pytest.mark.parametrize(("fmt", "rel"), [*SAMPLES, ("slot", "")])
def test_predictions_alone_equal_predictions_with_records(
    tmp_path: Path, fmt: str, rel: str, stage: str
) -> None:
    records = slot_records(200) if fmt == "slot" else sample_records(fmt, rel)
    (dataset,) = {r["dataset"] for r in records}
    preds = write_jsonl(tmp_path / "generated_predictions.jsonl", lf_rows(records, stage))
    recs = write_jsonl(tmp_path / "records.jsonl", records)
    alone, _ = score_items(
        read_predictions(preds, dataset=dataset, shared_task="slot" if fmt == "slot" else "ner")
    )
    joined, _ = score_items(read_predictions(preds, recs))
    got, want = tables(alone.result()), tables(joined.result())
    assert got == want
    (task,) = want
    d = want[task][dataset]
    assert d["n"] == len(records) and d["outputs_with_problems"] > len(records) // 3
    assert 0 < next(iter(d["scores"].values())).get("f1", 0.5) < 1


def test_a_shuffled_subset_scores_the_subset(tmp_path: Path) -> None:
    records = [r for fmt, rel in SAMPLES for r in sample_records(fmt, rel, 150)]
    rows = [row for fmt in ("cm",) for row in lf_rows(records, fmt)]
    keep = random.Random(1).sample(range(len(rows)), 200)
    preds = write_jsonl(tmp_path / "gp.jsonl", [rows[i] for i in keep])
    index = RecordIndex.from_files([write_jsonl(tmp_path / "records.jsonl", records)])
    subset, _ = score_items(read_predictions(preds, index))
    # The same subset, in file order, joined to just its own records.
    own = write_jsonl(tmp_path / "own.jsonl", [records[i] for i in sorted(keep)])
    ordered = write_jsonl(tmp_path / "ordered.jsonl", [rows[i] for i in sorted(keep)])
    expected, _ = score_items(read_predictions(ordered, own))
    assert tables(subset.result()) == tables(expected.result())
    assert index.coverage()["scored"] == 200 and index.coverage()["subset"]


def test_evaluate_command_alone_and_with_records(tmp_path: Path, capsys) -> None:
    records = sample_records("phee", "phee/test.json", 100)
    run = tmp_path / "PHEE"
    run.mkdir()
    preds = write_jsonl(run / "generated_predictions.jsonl", lf_rows(records, "sa"))
    recs = write_jsonl(tmp_path / "records.jsonl", records + sample_records(*SAMPLES[0], 50))
    assert main(["evaluate", str(preds), "--out", str(tmp_path / "a"), "--quiet", "--no-plot"]) == 0
    args = ["evaluate", str(preds), "--records", str(recs), "--out", str(tmp_path / "b")]
    assert main([*args, "--quiet", "--no-plot"]) == 0
    assert "Scored 100 of 150 records" in capsys.readouterr().err
    a = json.loads((tmp_path / "a" / "report.json").read_text())
    b = json.loads((tmp_path / "b" / "report.json").read_text())
    assert tables(a) == tables(b)  # the run folder names the data set
    assert b["coverage"]["subset"] and "coverage" not in a
