"""Each reader on small generated fixtures, including malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prouie.readers import ReadStats, bio_chunks, join_tokens, read
from prouie.records import RecordError, iter_jsonl, validate_example


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, rows: list) -> Path:
    return write(path, "".join(json.dumps(r) + "\n" for r in rows))


# --------------------------------------------------------------------------- records


def test_validate_checks_offsets() -> None:
    ex = {
        "task": "ner",
        "text": "Ann met Bob",
        "labels": ["person"],
        "entities": [{"type": "person", "text": "Bob", "start": 0, "end": 3}],
    }
    with pytest.raises(
        RecordError, match=r"x\.jsonl:3: field 'entities\[0\]': text\[0:3\] is 'Ann'"
    ):
        validate_example(ex, "x.jsonl:3")


def test_validate_locates_repeated_strings_in_order() -> None:
    ex = validate_example(
        {
            "task": "ner",
            "text": "Bob, Bob and Bob",
            "labels": ["person"],
            "entities": [{"type": "person", "text": "Bob"} for _ in range(3)],
        },
        "x",
    )
    assert [(e["start"], e["end"]) for e in ex["entities"]] == [(0, 3), (5, 8), (13, 16)]
    assert ex["meta"]["located"] == 3


def test_validate_rejects_unknown_label_and_missing_span() -> None:
    with pytest.raises(RecordError, match=r"entities\[0\]\.type.*'animal' is not in labels"):
        validate_example(
            {
                "task": "ner",
                "text": "a cat",
                "labels": ["person"],
                "entities": [{"type": "animal", "text": "cat"}],
            },
            "f:1",
        )
    with pytest.raises(RecordError, match=r"'dog' is not a substring"):
        validate_example(
            {
                "task": "ner",
                "text": "a cat",
                "labels": ["animal"],
                "entities": [{"type": "animal", "text": "dog"}],
            },
            "f:1",
        )
    with pytest.raises(RecordError, match="field 'task'"):
        validate_example({"task": "pos", "text": "a", "labels": []}, "f:1")


def test_validate_reads_null_or_absent_lists_and_meta_as_empty() -> None:
    ex = {
        "task": "ee",
        "text": "Ann took aspirin",
        "labels": ["adverse event"],
        "roles": None,
        "meta": None,
        "entities": None,
        "events": [{"type": "adverse event", "trigger": {"text": "took"}, "arguments": None}],
    }
    out = validate_example(ex, "x.jsonl:1")
    assert (out["roles"], out["entities"], out["relations"]) == ([], [], [])
    assert out["meta"] == {"located": 1}  # meta read as {}, then the trigger located
    assert out["events"][0]["arguments"] == []
    with pytest.raises(RecordError, match=r"x\.jsonl:1: field 'labels': is missing"):
        validate_example({"task": "ner", "text": "Ann"}, "x.jsonl:1")
    with pytest.raises(RecordError, match=r"field 'meta': must be dict, got list"):
        validate_example({"task": "ner", "text": "A", "labels": [], "meta": []}, "x.jsonl:1")


def test_iter_jsonl_names_line(tmp_path: Path) -> None:
    f = write(tmp_path / "r.jsonl", '{"task": "ner", "text": "a", "labels": []}\n\n{oops\n')
    it = iter_jsonl(f)
    assert next(it)["text"] == "a"
    with pytest.raises(RecordError, match=r"r\.jsonl:3: field '<line>': invalid JSON"):
        next(it)


# --------------------------------------------------------------------------- IE_INSTRUCTIONS


def iei_root(tmp_path: Path) -> Path:
    root = tmp_path / "IE_INSTRUCTIONS"
    write(root / "NER" / "toy" / "labels.json", json.dumps(["person", "location"]))
    write(
        root / "NER" / "toy" / "train.json",
        json.dumps(
            [
                {
                    "sentence": "Ann lives in Oslo .",
                    "entities": [
                        {"name": "Ann", "type": "person", "pos": [0, 3]},
                        {"name": "Oslo", "type": "location", "pos": []},
                    ],
                },
                {"sentence": "Nothing here .", "entities": []},
            ]
        ),
    )
    write(root / "RE" / "rel" / "labels.json", json.dumps(["work for"]))
    write(
        root / "RE" / "rel" / "test.json",
        json.dumps(
            [
                {
                    "sentence": "Ann works for Acme .",
                    "relations": [
                        {
                            "head": {"name": "Ann", "type": "person", "pos": [0, 3]},
                            "type": "work for",
                            "tail": {"name": "Acme", "type": "organization", "pos": [14, 18]},
                        }
                    ],
                }
            ]
        ),
    )
    write(root / "EE" / "ev" / "labels.json", json.dumps([["attack"], ["attacker", "target"]]))
    write(
        root / "EE" / "ev" / "dev.json",
        json.dumps(
            [
                {
                    "sentence": "Rebels shelled the town .",
                    "events": [
                        {
                            "trigger": "shelled",
                            "type": "attack",
                            "pos": [],
                            "arguments": [
                                {"name": "Rebels", "role": "attacker", "pos": []},
                                {"name": "the town", "role": "target", "pos": []},
                            ],
                        }
                    ],
                }
            ]
        ),
    )
    return root


def test_ie_instructions_all_tasks(tmp_path: Path) -> None:
    stats = ReadStats()
    recs = list(read("ie_instructions", iei_root(tmp_path), stats=stats))
    assert [(r["task"], r["dataset"], r["meta"]["split"]) for r in recs] == [
        ("ner", "toy", "train"),
        ("ner", "toy", "train"),
        ("re", "rel", "test"),
        ("ee", "ev", "dev"),
    ]
    assert recs[0]["entities"][1] == {"type": "location", "text": "Oslo", "start": 13, "end": 17}
    assert recs[3]["labels"] == ["attack"] and recs[3]["roles"] == ["attacker", "target"]
    assert recs[3]["events"][0]["arguments"][1]["start"] == 15
    assert stats.read == 4 and stats.located == 4


def test_ie_instructions_filters(tmp_path: Path) -> None:
    root = iei_root(tmp_path)
    assert [r["task"] for r in read("ie_instructions", root, task="re")] == ["re"]
    assert len(list(read("ie_instructions", root / "NER" / "toy", split="train"))) == 2
    with pytest.raises(FileNotFoundError, match="no IE_INSTRUCTIONS split files"):
        list(read("ie_instructions", root, dataset="missing"))


def test_ie_instructions_malformed(tmp_path: Path) -> None:
    root = iei_root(tmp_path)
    write(
        root / "NER" / "toy" / "dev.json",
        json.dumps(
            [
                {
                    "sentence": "Ann .",
                    "entities": [{"name": "Ann", "type": "person", "pos": [0, 3]}],
                },
                {"sentence": "Bob .", "entities": [{"name": "Bob", "pos": [0, 3]}]},
            ]
        ),
    )
    with pytest.raises(
        RecordError, match=r"dev\.json\[1\]: field 'entities\[0\]\.type': is missing"
    ):
        list(read("ie_instructions", root, split="dev"))
    stats = ReadStats()  # skipping goes on past the bad record
    assert (
        len(
            list(
                read("ie_instructions", root, task="ner", split="dev", stats=stats, on_error="skip")
            )
        )
        == 1
    )
    assert stats.skipped == 1 and "dev.json[1]" in stats.errors[0]
    write(root / "NER" / "toy" / "dev.json", '[{"sentence": "A", "entities": []}, {"sent')
    with pytest.raises(RecordError, match=r"dev\.json:1: .*invalid JSON"):
        list(read("ie_instructions", root, split="dev"))


# --------------------------------------------------------------------------- IEPile


def test_iepile_three_tasks(tmp_path: Path) -> None:
    ner = jsonl(
        tmp_path / "ner.jsonl",
        [
            {
                "text": "Ann in Oslo",
                "entity": [
                    {"entity": "Ann", "entity_type": "person"},
                    {"entity": "Oslo", "entity_type": "location"},
                ],
            }
        ],
    )
    r = list(read("iepile", ner))[0]
    assert r["task"] == "ner" and r["labels"] == ["person", "location"]
    rel = jsonl(
        tmp_path / "re.jsonl",
        [
            {
                "text": "Ann works for Acme",
                "relation": [{"head": "Ann", "relation": "work for", "tail": "Acme"}],
            }
        ],
    )
    r = list(read("iepile", rel))[0]
    assert r["relations"][0]["tail"]["start"] == 14
    ev = jsonl(
        tmp_path / "ee.jsonl",
        [
            {
                "text": "Rebels shelled the town",
                "event": [
                    {
                        "event_trigger": "shelled",
                        "event_type": "attack",
                        "arguments": [{"argument": "Rebels", "role": "attacker"}],
                    }
                ],
            }
        ],
    )
    r = list(read("iepile", ev))[0]
    assert r["roles"] == ["attacker"] and r["events"][0]["trigger"]["start"] == 7


def test_iepile_malformed_line(tmp_path: Path) -> None:
    f = write(tmp_path / "ner.jsonl", '{"text": "Ann", "entity": []}\n{"text": 5, "entity": []}\n')
    with pytest.raises(RecordError, match=r"ner\.jsonl:2: field 'text': must be str"):
        list(read("iepile", f))


# --------------------------------------------------------------------------- CoNLL


def test_bio_chunks_iob1_and_iob2() -> None:
    assert bio_chunks(["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]) == [
        ("PER", 0, 2),
        ("LOC", 3, 4),
        ("LOC", 4, 5),
    ]
    assert bio_chunks(["B-PER", "I-PER", "B-PER", "I-ORG"]) == [
        ("PER", 0, 2),
        ("PER", 2, 3),
        ("ORG", 3, 4),
    ]
    with pytest.raises(RecordError, match="not a BIO tag"):
        bio_chunks(["X-PER"], "f:1")


def test_join_tokens_offsets() -> None:
    text, starts = join_tokens(["Hello", ",", "world", "!"], "rules")
    assert text == "Hello, world!" and starts == [0, 5, 7, 12]
    text, starts = join_tokens(["Hello", ",", "world"])
    assert text == "Hello , world" and starts == [0, 6, 8]


def test_conll_docstart_and_columns(tmp_path: Path) -> None:
    f = write(
        tmp_path / "toy.conll",
        "-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
        "German JJ B-NP B-MISC\n\nPeter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER\n",
    )
    recs = list(read("conll", f))
    assert [r["text"] for r in recs] == ["EU rejects German", "Peter Blackburn"]
    assert recs[0]["labels"] == ["person", "organization", "miscellaneous"]
    assert recs[1]["entities"] == [
        {"type": "person", "text": "Peter Blackburn", "start": 0, "end": 15}
    ]


def test_conll_malformed(tmp_path: Path) -> None:
    f = write(tmp_path / "bad.conll", "EU B-ORG\nrejects\n")
    with pytest.raises(RecordError, match=r"bad\.conll:2: field 'tag'"):
        list(read("conll", f))


# --------------------------------------------------------------------------- PHEE


def phee_row(**extra) -> dict:
    text = "After 5 days of treatment with IL-2, the patient developed a lesion."
    ev = {
        "event_id": "E1",
        "event_type": "Adverse_event",
        "Trigger": {"text": [["developed"]], "start": [[49]]},
        "Subject": {"text": [["patient"]], "start": [[41]]},
        "Treatment": {
            "text": [["5 days of treatment with IL-2"]],
            "start": [[6]],
            "Drug": {"text": [["IL-2"]], "start": [[31]]},
            "Time_elapsed": {"text": [["After", "days"]], "start": [[0, 8]]},
        },
        **extra,
    }
    return {"id": "p1", "context": text, "annotations": [{"events": [ev]}]}


def test_phee_dotted_roles(tmp_path: Path) -> None:
    f = jsonl(tmp_path / "phee.json", [phee_row()])
    r = list(read("phee", f))[0]
    assert r["labels"] == ["adverse event"]
    args = [(a["role"], a["text"]) for a in r["events"][0]["arguments"]]
    assert args == [
        ("Subject", "patient"),
        ("Treatment", "5 days of treatment with IL-2"),
        ("Treatment.Drug", "IL-2"),
        ("Treatment.Time_elapsed", "After 5 days"),
    ]
    assert r["meta"]["discontinuous"] == 1
    assert r["roles"] == ["Subject", "Treatment", "Treatment.Drug", "Treatment.Time_elapsed"]


def test_phee_bad_offsets(tmp_path: Path) -> None:
    f = jsonl(tmp_path / "phee.json", [phee_row(Effect={"text": [["lesion"]], "start": [[3]]})])
    with pytest.raises(RecordError, match=r"phee\.json:1: field 'events\[0\]\.arguments\[4\]'"):
        list(read("phee", f))


# --------------------------------------------------------------------------- FewRel


def test_fewrel(tmp_path: Path) -> None:
    write(tmp_path / "pid2name.json", json.dumps({"P17": ["country", "sovereign state"]}))
    f = write(
        tmp_path / "val.json",
        json.dumps(
            {
                "P17": [
                    {
                        "tokens": ["Oslo", "is", "in", "Norway", "."],
                        "h": ["oslo", "Q1", [[0]]],
                        "t": ["norway", "Q2", [[3]]],
                    }
                ]
            }
        ),
    )
    r = list(read("fewrel", f))[0]
    assert r["labels"] == ["country"]
    assert r["relations"][0]["head"]["text"] == "Oslo" and r["relations"][0]["tail"]["start"] == 11
    write(
        tmp_path / "val.json",
        json.dumps({"P17": [{"tokens": ["a"], "h": ["a", "Q", [[0]]], "t": ["b", "Q", [[7]]]}]}),
    )
    with pytest.raises(RecordError, match=r"val\.json\[P17\]\[0\]: field 't\[2\]\[0\]'"):
        list(read("fewrel", f))


# --------------------------------------------------------------------------- slots


def test_slot_schema_and_data(tmp_path: Path) -> None:
    schema = write(
        tmp_path / "schema.yaml",
        "slots:\n  - name: body\n    definition: The main subject.\n"
        "  - name: location\n    definition: The address constraint.\n",
    )
    data = jsonl(
        tmp_path / "q.jsonl",
        [
            {
                "id": "q1",
                "text": "cheap hotels near Oslo",
                "slots": {"body": "hotels", "location": ["Oslo"]},
            }
        ],
    )
    r = list(read("slot", data, schema=schema))[0]
    assert r["task"] == "slot" and r["labels"] == ["body", "location"]
    assert r["meta"]["definitions"]["body"] == "The main subject."
    bad = jsonl(tmp_path / "bad.jsonl", [{"text": "x", "slots": {"colour": "red"}}])
    with pytest.raises(RecordError, match=r"bad\.jsonl:1: field 'slots\.colour'"):
        list(read("slot", bad, schema=schema))
    with pytest.raises(ValueError, match="--schema"):
        read("slot", data)


def test_registry_rejects_duplicates_and_suggests_close_names() -> None:
    from prouie.readers import get_format
    from prouie.readers.base import Format, register

    with pytest.raises(ValueError, match="'conll' is already registered"):
        register(Format("conll", lambda path, **kw: iter(()), "again"))
    with pytest.raises(ValueError, match=r"did you mean iepile\?"):
        get_format("iepil")
    with pytest.raises(ValueError, match=r"unknown input format 'xyz'; \(formats: "):
        get_format("xyz")


def test_each_format_takes_only_its_own_options(tmp_path: Path) -> None:
    f = tmp_path / "c.txt"
    f.write_text("Nadim B-PER\n")
    with pytest.raises(ValueError, match="--format conll takes no option --labels"):
        read("conll", f, labels=["person"])
    assert len(list(read("conll", f, labels=None))) == 1  # None means "not given"


def test_cli_flags_come_from_the_registry() -> None:
    import argparse

    from prouie.commands._input import add_input_args
    from prouie.readers import formats

    parser = argparse.ArgumentParser()
    add_input_args(parser)
    flags = {s for a in parser._actions for s in a.option_strings}
    assert {o.flag for f in formats() for o in f.options} <= flags
