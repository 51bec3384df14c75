"""Reading prediction files (prouie and LLaMA-Factory formats), reports, and ``prouie evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prouie.cli import main
from prouie.evaluation import RecordIndex, read_predictions, score_items
from prouie.generation import format_prompt, user_turn
from prouie.records import RecordError
from prouie.report import plot, to_markdown, write_json
from prouie.targets import instruction_for, render_target
from shared_data import shared_file

RECORDS = [
    {
        "id": "n1",
        "dataset": "conll",
        "task": "ner",
        "text": "Kevin and Therese went to Paris",
        "labels": ["person", "location"],
        "entities": [
            {"type": "person", "text": "Kevin"},
            {"type": "person", "text": "Therese"},
            {"type": "location", "text": "Paris"},
        ],
    },
    {
        "id": "n2",
        "dataset": "wiki",
        "task": "ner",
        "text": "Ann lives in Rome",
        "labels": ["person", "location"],
        "entities": [{"type": "person", "text": "Ann"}, {"type": "location", "text": "Rome"}],
    },
    {
        "id": "r1",
        "dataset": "scierc",
        "task": "re",
        "text": "our algorithm uses a surface",
        "labels": ["used for", "part of"],
        "relations": [
            {"type": "used for", "head": {"text": "surface"}, "tail": {"text": "algorithm"}}
        ],
    },
    {
        "id": "e1",
        "dataset": "phee",
        "task": "ee",
        "text": "the patient developed a rash after IL-2",
        "labels": ["adverse event"],
        "roles": ["Subject", "Effect", "Treatment"],
        "events": [
            {
                "type": "adverse event",
                "trigger": {"text": "developed"},
                "arguments": [
                    {"role": "Subject", "text": "patient"},
                    {"role": "Effect", "text": "a rash"},
                    {"role": "Treatment", "text": "IL-2"},
                ],
            }
        ],
    },
    {
        "id": "s1",
        "dataset": "query",
        "task": "slot",
        "text": "buy a phone in Paris",
        "labels": ["action", "body", "location"],
        "entities": [{"type": "action", "text": "buy"}, {"type": "body", "text": "phone"}],
    },
]
PREDICTIONS = [
    '{"person": "Kevin | Therese", "location": ""}',  # 2/2 right, 1 missed
    '<think>\n\n</think>\n\n{"person": "Ann", "location": "Rome"}',  # all right
    '```json\n{"used for": "surface, algorithm"}\n```',
    '{"adverse event": "developed: Subject: patient; Effect: a rash',  # cut off
    '{"action": "buy", "body": " phone", "location": ""}',
]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def llamafactory_rows(records: list[dict], preds: list[str], stage: str = "sa") -> list[dict]:
    # The keys LLaMA-Factory's save_predictions / vllm_infer.py write; the prompt is the user turn
    # of a prouie alpaca row in the qwen3_nothink chat format, special tokens kept.
    return [
        {
            "prompt": format_prompt(user_turn(instruction_for(r, stage), r["text"])),
            "predict": p,
            "label": render_target(r, stage),
        }
        for r, p in zip(records, preds, strict=True)
    ]


def prouie_rows(records: list[dict], preds: list[str]) -> list[dict]:
    return [
        {
            "id": r["id"],
            "dataset": r["dataset"],
            "task": r["task"],
            "prompt": "p",
            "prediction": p,
            "reference": render_target(r, "sa"),
            "record": r,
        }
        for r, p in zip(records, preds, strict=True)
    ]


def check_result(result: dict) -> None:
    t = result["tasks"]
    assert list(t) == ["ner", "re", "ee", "slot"]
    conll = t["ner"]["datasets"]["conll"]["scores"]["entity"]
    assert (conll["tp"], conll["pred"], conll["gold"]) == (2, 2, 3)
    assert t["ner"]["datasets"]["wiki"]["scores"]["entity"]["f1"] == 1.0
    assert abs(t["ner"]["average"]["entity"]["f1"] - (0.8 + 1.0) / 2) < 1e-9
    assert t["re"]["datasets"]["scierc"]["scores"]["relation"]["f1"] == 1.0
    ee = t["ee"]["datasets"]["phee"]
    assert ee["scores"]["trigger"]["f1"] == 1.0
    assert (ee["scores"]["argument"]["tp"], ee["scores"]["argument"]["gold"]) == (2, 3)
    assert ee["outputs_with"] == {"truncated": 1}
    assert t["re"]["datasets"]["scierc"]["outputs_with"] == {"extra_text": 1}
    assert t["slot"]["datasets"]["query"]["scores"]["exact_acc"]["accuracy"] == 1.0


def test_prouie_predictions_need_nothing_else(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", prouie_rows(RECORDS, PREDICTIONS))
    ev, details = score_items(read_predictions(path))
    check_result(ev.result())
    assert [d["id"] for d in details] == ["n1", "n2", "r1", "e1", "s1"]
    assert details[3]["problems"][0][0] == "truncated"


def test_llamafactory_predictions_join_records_by_text_in_any_order(tmp_path: Path) -> None:
    rows = llamafactory_rows(RECORDS, PREDICTIONS)
    preds = write_jsonl(tmp_path / "generated_predictions.jsonl", rows[::-1])
    recs = write_jsonl(tmp_path / "records.jsonl", RECORDS)
    ev, details = score_items(read_predictions(preds, recs))
    check_result(ev.result())
    assert [d["id"] for d in details] == ["s1", "e1", "r1", "n2", "n1"]


def test_a_record_is_joined_by_id_when_the_row_has_one(tmp_path: Path) -> None:
    rows = [
        dict(row, prompt="custom prompt", id=r["id"])
        for r, row in zip(RECORDS, llamafactory_rows(RECORDS, PREDICTIONS), strict=True)
    ]
    index = RecordIndex.from_files([write_jsonl(tmp_path / "records.jsonl", RECORDS)])
    ev, _ = score_items(read_predictions(write_jsonl(tmp_path / "gp.jsonl", rows), index))
    check_result(ev.result())


def test_llamafactory_predictions_alone_read_the_prompt_and_label(tmp_path: Path) -> None:
    not_slot = RECORDS[:4]
    for stage in ("cm", "sa"):
        rows = llamafactory_rows(not_slot, PREDICTIONS[:4], stage)
        preds = write_jsonl(tmp_path / f"{stage}.jsonl", rows)
        alone, _ = score_items(read_predictions(preds, dataset="d"))
        joined, _ = score_items(
            read_predictions(preds, write_jsonl(tmp_path / "records.jsonl", not_slot))
        )
        by_task = {t: v["micro"] for t, v in alone.result()["tasks"].items()}
        assert by_task == {t: v["micro"] for t, v in joined.result()["tasks"].items()}
        assert by_task["ner"]["entity"]["tp"] == 4
    slot = write_jsonl(tmp_path / "slot.jsonl", llamafactory_rows(RECORDS[4:], PREDICTIONS[4:]))
    ev, _ = score_items(read_predictions(slot, dataset="query", shared_task="slot"))
    assert (
        ev.result()["tasks"]["slot"]["datasets"]["query"]["scores"]["exact_acc"]["accuracy"] == 1.0
    )


def test_records_count_the_prouie_rows_they_cover(tmp_path: Path) -> None:
    index = RecordIndex.from_files([write_jsonl(tmp_path / "records.jsonl", RECORDS)])
    path = write_jsonl(tmp_path / "p.jsonl", prouie_rows(RECORDS[:2], PREDICTIONS[:2]))
    list(read_predictions(path, index))
    assert (index.coverage()["scored"], index.coverage()["subset"]) == (2, True)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"label": 3}, r"gp\.jsonl:1: field 'label': must be a string, got int"),
        ({"predict": None}, r"gp\.jsonl:1: field 'predict': must be a string, got NoneType"),
        ({"prompt": 7}, r"gp\.jsonl:1: field 'prompt': is not one of"),
    ],
)
def test_bad_llamafactory_rows_name_the_field(tmp_path: Path, change: dict, match: str) -> None:
    row = {**llamafactory_rows(RECORDS[:1], PREDICTIONS[:1])[0], **change}
    with pytest.raises(RecordError, match=match):
        list(read_predictions(write_jsonl(tmp_path / "gp.jsonl", [row])))


def test_llamafactory_prompt_of_no_known_template_fails_clearly(tmp_path: Path) -> None:
    rows = [dict(llamafactory_rows(RECORDS, PREDICTIONS)[0], prompt="Extract.\nAnn")]
    preds = write_jsonl(tmp_path / "gp.jsonl", rows)
    with pytest.raises(RecordError, match=r"gp\.jsonl:1: field 'prompt': is not one of.*--records"):
        list(read_predictions(preds))


def test_a_subset_of_the_records_scores_that_subset(tmp_path: Path) -> None:
    rows = llamafactory_rows(RECORDS, PREDICTIONS)
    keep = [3, 0, 2]
    preds = write_jsonl(tmp_path / "gp.jsonl", [rows[i] for i in keep])
    index = RecordIndex.from_files([write_jsonl(tmp_path / "records.jsonl", RECORDS)])
    subset, _ = score_items(read_predictions(preds, index))
    alone = write_jsonl(
        tmp_path / "p.jsonl",
        prouie_rows([RECORDS[i] for i in keep], [PREDICTIONS[i] for i in keep]),
    )
    expected, _ = score_items(read_predictions(alone))
    assert subset.result() == expected.result()
    cov = index.coverage()
    assert (cov["records"], cov["scored"], cov["subset"]) == (5, 3, True)
    assert {"task": "ner", "dataset": "wiki", "records": 1, "scored": 0} in cov["datasets"]
    index = RecordIndex.from_files([tmp_path / "records.jsonl"])
    with pytest.raises(RecordError, match=r"gp2\.jsonl:2: field 'prompt': .*already used"):
        list(read_predictions(write_jsonl(tmp_path / "gp2.jsonl", rows[:1] * 2), index))


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("{not json", r"p\.jsonl:2: field '<line>': invalid JSON"),
        ("[1, 2]", r"p\.jsonl:2: field '<line>': must be a JSON object"),
        ('{"prediction": 3, "record": {}}', r"p\.jsonl:2: field 'prediction': must be a string"),
        ('{"foo": 1}', r"p\.jsonl:2: field 'prediction': is missing"),
        (
            '{"prediction": "{}", "record": {"task": "ner", "text": "x"}}',
            r"p\.jsonl:2 \(field 'record'\): field 'labels'",
        ),
        (
            '{"prediction": "{}", "record": {"task": "nerr", "text": "x", "labels": []}}',
            r"field 'task': must be one of",
        ),
        (
            '{"prediction": "{}", "record": {"task": "ner", "text": "x", "labels": ["a"], '
            '"entities": [{"type": "a", "text": 3}], "relations": [], "events": []}}',
            r"p\.jsonl:2 \(field 'record'\): field 'entities\[0\]\.text'",
        ),
        (
            '{"prediction": "{}", "record": {"task": "ner", "text": "x", "labels": ["a", 1], '
            '"entities": [], "relations": [], "events": []}}',
            r"p\.jsonl:2 \(field 'record'\): field 'labels\[1\]': must be str",
        ),
    ],
)
def test_bad_prediction_lines_name_file_line_and_field(
    tmp_path: Path, line: str, match: str
) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(
        json.dumps(prouie_rows(RECORDS[:1], PREDICTIONS[:1])[0]) + "\n" + line + "\n",
        encoding="utf-8",
    )
    with pytest.raises(RecordError, match=match):
        list(read_predictions(path))


def test_markdown_json_and_png_report(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", prouie_rows(RECORDS, PREDICTIONS))
    ev, _ = score_items(read_predictions(path))
    result = ev.result()
    md = to_markdown(result, title="Demo")
    assert md.startswith("# Demo")
    assert "| conll | 1 | 100.00 | 66.67 | 80.00 | 2 / 2 / 3 |" in md
    assert "| **Avg** | 2 | 100.00 | 83.33 | **90.00** |  |" in md
    assert (
        "| phee | 1 | 100.00 | 100.00 | 100.00 | 1 / 1 / 1 | 100.00 | 66.67 | 80.00 | 2 / 2 / 3 |"
        in md
    )
    assert "| query | 1 | 3 | 3 | 100.00 |" in md
    assert "| Task | Dataset | Outputs | With problems | truncated | extra_text |" in md
    assert "| re | scierc | 1 | 1 | 0 | 1 |" in md
    assert json.loads(write_json(result, tmp_path / "r.json").read_text()) == json.loads(
        json.dumps(result)
    )
    png = plot(result, tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_command_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    preds = write_jsonl(
        tmp_path / "generated_predictions.jsonl", llamafactory_rows(RECORDS, PREDICTIONS)
    )
    recs = write_jsonl(tmp_path / "records.jsonl", RECORDS)
    out = tmp_path / "report"
    assert (
        main(["evaluate", str(preds), "--records", str(recs), "--out", str(out), "--details"]) == 0
    )
    printed = capsys.readouterr().out
    assert "## NER" in printed
    result = json.loads((out / "report.json").read_text())
    check_result(result)
    assert result["matching"] == "strict"
    assert (out / "report.md").read_text().startswith("# Evaluation")
    assert (out / "report.png").exists()
    details = [json.loads(x) for x in (out / "details.jsonl").read_text().splitlines()]
    assert len(details) == 5 and details[0]["where"].endswith("generated_predictions.jsonl:1")


def test_evaluate_command_reports_bad_input_and_loose_matching(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    preds = write_jsonl(tmp_path / "gp.jsonl", llamafactory_rows(RECORDS, PREDICTIONS))
    rows = [dict(r, prompt="Extract.") for r in llamafactory_rows(RECORDS, PREDICTIONS)]
    preds = write_jsonl(tmp_path / "gp.jsonl", rows)
    assert main(["evaluate", str(preds), "--out", str(tmp_path / "o"), "--no-plot"]) == 2
    assert "gp.jsonl:1: field 'prompt': is not one of" in capsys.readouterr().err
    rows = prouie_rows(RECORDS[:1], ['{"person": "KEVIN | therese"}'])
    p = write_jsonl(tmp_path / "p.jsonl", rows)
    assert (
        main(["evaluate", str(p), "--out", str(tmp_path / "o2"), "--no-plot", "--loose", "--quiet"])
        == 0
    )
    result = json.loads((tmp_path / "o2" / "report.json").read_text())
    assert result["matching"] == "loose"
    assert result["tasks"]["ner"]["datasets"]["conll"]["scores"]["entity"]["tp"] == 2
    assert not (tmp_path / "o2" / "report.png").exists()


@pytest.mark.parametrize(
    ("fmt", "rel"),
    [
        ("conll", "wikigold/wikigold.conll.txt"),
        ("phee", "phee/test.json"),
        ("fewrel", "fewrel/val_wiki.json"),
    ],
)
def test_gold_targets_score_full_marks_on_real_data(fmt: str, rel: str) -> None:
    """A model that writes exactly the gold target (CM or SA) gets every unit right and no problem."""
    from itertools import islice

    from prouie.evaluation import Item
    from prouie.readers import read

    records = list(islice(read(fmt, shared_file(rel)), 3000))
    items = [
        Item(f"{rel}:{i}", r, render_target(r, stage))
        for i, r in enumerate(records)
        for stage in ("cm", "sa")
    ]
    ev, _ = score_items(items)
    (task,) = ev.result()["tasks"].values()
    (d,) = task["datasets"].values()
    assert d["n"] == 2 * len(records) and d["outputs_with_problems"] == 0
    for s in d["scores"].values():
        assert s["gold"] > 1000 and s["tp"] == s["pred"] == s["gold"]


def test_prompts_of_user_templates_are_read_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Templates from $PROUIE_TEMPLATE_DIR, here with a newline inside the instruction."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "cm_ner.jinja").write_text(
        "Find {{ labels|join(', ') }} ({{ labels|length }} types).\nAnswer in JSON.", "utf-8"
    )
    monkeypatch.setenv("PROUIE_TEMPLATE_DIR", str(templates))
    records = [dict(RECORDS[0], id=f"n{i}", text=f"{RECORDS[0]['text']} {i}") for i in range(3)]
    rows = llamafactory_rows(records, PREDICTIONS[:1] * 3, "cm")
    assert rows[0]["prompt"].startswith("<|im_start|>user\nFind person, location (2 types).\n")
    preds = write_jsonl(tmp_path / "gp.jsonl", rows)
    alone, _ = score_items(read_predictions(preds, dataset="conll"))
    joined, _ = score_items(read_predictions(preds, write_jsonl(tmp_path / "r.jsonl", records)))
    assert alone.result()["tasks"] == joined.result()["tasks"]
    assert alone.result()["tasks"]["ner"]["datasets"]["conll"]["scores"]["entity"]["tp"] == 6
