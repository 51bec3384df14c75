"""DE data export: EasyR1 jsonl, verl parquet and TRL rows carry the SFT prompt and the SFR gold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prouie.cli import main
from prouie.records import RecordError, iter_jsonl
from prouie.rl_export import export, load_records, rl_prompt, trl_row, verl_row
from prouie.sfr import decode_ground_truth, score_response
from prouie.targets import render_target, to_alpaca
from prouie.units import units_from_example

FIXTURE = Path(__file__).parent / "fixtures" / "de_records.jsonl"


def records() -> list[dict]:
    return list(iter_jsonl(FIXTURE))


def test_prompt_is_the_sft_user_turn() -> None:
    for ex in records():
        row = to_alpaca(ex, "sa")
        # LLaMA-Factory's alpaca converter joins instruction and input with a newline.
        assert rl_prompt(ex) == row["instruction"] + "\n" + row["input"]
        assert rl_prompt(ex, "cm") == to_alpaca(ex, "cm")["instruction"] + "\n" + ex["text"]


def test_easyr1_export_rows(tmp_path: Path) -> None:
    out = tmp_path / "de" / "re.jsonl"
    rc = main(
        [
            "export-rl",
            "--target",
            "easyr1",
            "--input",
            str(FIXTURE),
            "--task",
            "re",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    want = [ex for ex in records() if ex["task"] == "re"]
    assert len(rows) == len(want) == 4
    for row, ex in zip(rows, want, strict=True):
        assert set(row) == {"prompt", "answer"}
        assert row["prompt"] == rl_prompt(ex)
        gt = decode_ground_truth(row["answer"])
        assert (gt.task, gt.text, gt.id) == ("re", ex["text"], ex["id"])
        assert gt.units == units_from_example(ex)
        # The SA target of the record is a perfect answer.
        assert score_response(render_target(ex, "sa"), row["answer"]).score == 1.0


def test_easyr1_export_custom_keys_and_sampling(tmp_path: Path) -> None:
    out = tmp_path / "ner.jsonl"
    report = export(
        "easyr1",
        [FIXTURE],
        out,
        task="ner",
        num_samples=3,
        seed=1,
        prompt_key="problem",
        answer_key="gt",
    )
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert report.rows == 3 and report.available == 4 and len(rows) == 3
    assert all(set(r) == {"problem", "gt"} for r in rows)
    ids = [decode_ground_truth(r["gt"]).id for r in rows]
    assert len(set(ids)) == 3
    again = export("easyr1", [FIXTURE], tmp_path / "b.jsonl", task="ner", num_samples=3, seed=1)
    assert again.rows == 3
    assert [
        decode_ground_truth(json.loads(x)["answer"]).id for x in (tmp_path / "b.jsonl").open()
    ] == ids
    assert "sampled 3 of 4" in report.summary()


def test_verl_export_parquet(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "ee.parquet"
    rc = main(
        [
            "export-rl",
            "--target",
            "verl",
            "--input",
            str(FIXTURE),
            "--task",
            "ee",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    table = pq.read_table(out).to_pylist()
    want = [ex for ex in records() if ex["task"] == "ee"]
    assert len(table) == 4
    for i, (row, ex) in enumerate(zip(table, want, strict=True)):
        assert row == verl_row(ex, i)
        assert row["data_source"] == f"prouie/ee/{ex['dataset']}"
        assert row["prompt"] == [{"role": "user", "content": rl_prompt(ex)}]
        assert row["ability"] == "information_extraction"
        assert row["reward_model"]["style"] == "rule"
        assert decode_ground_truth(row["reward_model"]["ground_truth"]).units == units_from_example(
            ex
        )
        assert row["extra_info"] == {
            "split": "train",
            "index": i,
            "id": ex["id"],
            "task": "ee",
            "dataset": ex["dataset"],
        }


def test_trl_row() -> None:
    ex = records()[0]
    row = trl_row(ex)
    assert row["prompt"] == [{"role": "user", "content": rl_prompt(ex)}]
    assert row["task"] == "ner" and decode_ground_truth(row["ground_truth"]).id == ex["id"]


def test_separator_inside_a_value_is_counted(tmp_path: Path) -> None:
    ex = {
        "id": "sep",
        "task": "ner",
        "text": "Smith | Sons went home",
        "labels": ["organization"],
        "entities": [{"type": "organization", "text": "Smith | Sons"}],
    }
    path = tmp_path / "sep.jsonl"
    path.write_text(json.dumps(ex) + "\n", "utf-8")
    report = export("easyr1", [path], tmp_path / "out.jsonl")
    assert report.not_round_trip == 1
    assert "1 records hold a separator" in report.summary()


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="asked for 10 samples but .* hold only 4 ner records"):
        load_records([FIXTURE], "ner", 10)
    with pytest.raises(ValueError, match="must be positive"):
        load_records([FIXTURE], "ner", 0)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "ner", "text": "x"}\n', "utf-8")
    with pytest.raises(RecordError, match=r"bad.jsonl:1: field 'labels'"):
        load_records([bad])
    with pytest.raises(ValueError, match="unknown target"):
        export("openrlhf", [FIXTURE], tmp_path / "x")
    rc = main(
        ["export-rl", "--target", "easyr1", "--input", str(bad), "--out", str(tmp_path / "o")]
    )
    assert rc == 2


def test_format_prompt_template_passes_the_prompt_through() -> None:
    from jinja2 import Template

    # EasyR1 (verl/utils/dataset.py) renders Template(file.strip()).render(content=prompt).
    text = (Path(__file__).parents[1] / "templates" / "rl_format.jinja").read_text("utf-8")
    for ex in records():
        prompt = rl_prompt(ex)
        assert Template(text.strip()).render(content=prompt) == prompt
