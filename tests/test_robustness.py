"""``prouie robustness``: F1 per task and perturbation type with drops, from prediction files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prouie.cli import main
from prouie.records import validate_example
from prouie.robust import rule_perturb
from prouie.targets import render_target
from test_perturb import make_records, read_jsonl, write_jsonl


def prediction_row(record: dict, prediction: str) -> dict:
    """A line of ``prouie predict`` output (the record travels with its prediction)."""
    return {
        "id": record["id"],
        "dataset": record["dataset"],
        "task": record["task"],
        "prompt": record["text"],
        "prediction": prediction,
        "reference": render_target(record, "sa"),
        "record": record,
    }


def test_drops_are_measured_against_the_parents_of_each_type(tmp_path):
    originals = [validate_example(r, r["id"]) for r in make_records(4) if r["task"] == "ner"]
    rows = [prediction_row(r, render_target(r, "sa")) for r in originals]  # all correct
    typos = [rule_perturb(r, "typo_injection", 0) for r in originals[:2]]
    # First typo record: the model finds one of the two entities; second: both.
    first = typos[0]
    rows.append(prediction_row(first, json.dumps({"person": first["entities"][0]["text"]})))
    rows.append(prediction_row(typos[1], render_target(typos[1], "sa")))
    lowered = [rule_perturb(r, "lowercase", 0) for r in originals]
    rows += [prediction_row(r, "not json at all") for r in lowered]
    preds = write_jsonl(tmp_path / "preds.jsonl", rows)

    out = tmp_path / "report"
    assert main(["robustness", str(preds), "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "robustness.json").read_text())
    assert result["types"] == ["original", "typo_injection", "lowercase"]
    row = result["tasks"]["ner"]["rows"]["all"]
    assert row["original"]["f1"] == 1.0 and row["original"]["n"] == 4
    # Typos: 3 of 4 gold entities found, no false positive: P = 1, R = 3/4, F1 = 6/7.
    assert row["typo_injection"]["f1"] == pytest.approx(6 / 7)
    assert row["typo_injection"]["baseline_f1"] == 1.0
    assert row["typo_injection"]["drop"] == pytest.approx(1 / 7)
    assert row["typo_injection"]["relative_drop"] == pytest.approx(1 / 7)
    assert row["lowercase"]["f1"] == 0.0 and row["lowercase"]["relative_drop"] == 1.0
    assert result["matching"] == "strict"
    md = (out / "robustness.md").read_text()
    assert "| demo_ner |" in md and "85.71 (-14.29, -14.3%)" in md
    assert (out / "robustness.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.framework
def test_robustness_end_to_end_on_tiny_model_predictions(tiny_model: Path, tmp_path: Path):
    records = write_jsonl(tmp_path / "records.jsonl", make_records(2))
    perturbed = tmp_path / "perturbed.jsonl"
    assert main(["perturb", "--input", str(records), "--format", "records",
                 "--out", str(perturbed), "--types", "rule", "--quiet"]) == 0  # fmt: skip
    both = write_jsonl(tmp_path / "all.jsonl", read_jsonl(records) + read_jsonl(perturbed))
    preds = tmp_path / "preds.jsonl"
    rc = main(["predict", "--model", str(tiny_model), "--data", str(both), "--out", str(preds),
               "--backend", "transformers", "--max-new-tokens", "16", "--dtype", "float32",
               "--batch-size", "4", "--quiet"])  # fmt: skip
    assert rc == 0
    out = tmp_path / "report"
    assert main(["robustness", str(preds), "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "robustness.json").read_text())
    assert set(result["tasks"]) == {"ner", "re", "ee"}
    assert result["types"] == ["original", "typo_injection", "lowercase"]
    assert "lowercase" not in result["tasks"]["ee"]["rows"]["all"]  # not applicable to EE
    for task, t in result["tasks"].items():
        cell = t["rows"]["all"]["typo_injection"]
        assert cell["n"] == 2 and 0.0 <= cell["f1"] <= 1.0, task
        assert cell["drop"] == pytest.approx(cell["baseline_f1"] - cell["f1"])
    assert result["missing_parents"] == {"typo_injection": 0, "lowercase": 0}
    assert (out / "robustness.md").read_text().startswith("# Robustness")
    assert (out / "robustness.png").read_bytes()[:4] == b"\x89PNG"
