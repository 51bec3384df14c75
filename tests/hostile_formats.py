"""Damaged inputs of the IEPile, CoNLL and IE_INSTRUCTIONS readers (hostile-input suite)."""

from __future__ import annotations

import json

from hostile_cases import TEXT, Case, jl, line


def convert(fmt: str, inp: str, *extra: str) -> list[str]:
    return ["convert", "--input", inp, "--format", fmt, "--out", "o.jsonl", *extra]


IEPILE_OK = line({"text": TEXT, "entity": [{"entity": "Paris", "entity_type": "location"}]})
IEI_OK = [{"sentence": TEXT, "entities": [{"name": "Paris", "type": "location", "pos": [21, 26]}]}]


def iei(rows: object, labels: object = ("location",), task: str = "NER") -> dict[str, str | bytes]:
    raw = rows if isinstance(rows, (str, bytes)) else json.dumps(rows, ensure_ascii=False)
    files: dict[str, str | bytes] = {f"iei/{task}/toy/test.json": raw}
    if labels is not None:
        files[f"iei/{task}/toy/labels.json"] = (
            labels if isinstance(labels, str) else json.dumps(list(labels))
        )
    return files


def format_cases() -> list[Case]:
    """Damaged inputs of each raw format, through convert (and prepare for a few)."""
    out = ["o.jsonl"]
    iei_file = "iei/NER/toy/test.json"
    cases = [
        # iepile
        Case(
            "iepile-text_missing",
            {"i.jsonl": jl(IEPILE_OK, {"entity": []})},
            convert("iepile", "i.jsonl"),
            ["i.jsonl:2", "'text'"],
            planted=out,
        ),
        Case(
            "iepile-entity_not_list",
            {"i.jsonl": jl(IEPILE_OK, {"text": TEXT, "entity": "Paris"})},
            convert("iepile", "i.jsonl"),
            ["i.jsonl:2", "'entity'"],
            planted=out,
        ),
        Case(
            "iepile-entity_type_missing",
            {"i.jsonl": jl(IEPILE_OK, {"text": TEXT, "entity": [{"entity": "Paris"}]})},
            convert("iepile", "i.jsonl"),
            ["i.jsonl:2", "'entity[0].entity_type'"],
            planted=out,
        ),
        Case(
            "iepile-not_substring",
            {
                "i.jsonl": jl(
                    IEPILE_OK,
                    {"text": TEXT, "entity": [{"entity": "Rome", "entity_type": "location"}]},
                )
            },
            convert("iepile", "i.jsonl"),
            ["i.jsonl:2", "'entities[0].text'"],
            planted=out,
        ),
        Case(
            "iepile-id_list",
            {"i.jsonl": jl(IEPILE_OK, {"id": [1, 2], "text": TEXT, "entity": []})},
            convert("iepile", "i.jsonl"),
            ["i.jsonl:2", "'id'"],
            planted=out,
        ),
        Case(
            "iepile-array_line",
            {"i.jsonl": jl(IEPILE_OK, "[1, 2, 3]")},
            convert("iepile", "i.jsonl"),
            ["i.jsonl:2", "'<record>'"],
            planted=out,
        ),
        Case(
            "iepile-no_task_key",
            {"i.jsonl": jl({"text": TEXT})},
            convert("iepile", "i.jsonl"),
            ["i.jsonl:1", "'entity/relation/event'"],
            planted=out,
        ),
        Case(
            "iepile-latin1",
            {"i.jsonl": (IEPILE_OK + "\n").encode() + "à\n".encode("latin-1")},
            convert("iepile", "i.jsonl"),
            ["i.jsonl:2", "'<bytes>'"],
            planted=out,
        ),
        Case(
            "iepile-label_not_in_labels",
            {"i.jsonl": jl(IEPILE_OK)},
            convert("iepile", "i.jsonl", "--labels", "person"),
            ["i.jsonl:1", "'entities[0].type'"],
            planted=out,
        ),
        Case(
            "iepile-ee_arguments_number",
            {
                "i.jsonl": jl(
                    {
                        "text": TEXT,
                        "event": [{"event_type": "move", "event_trigger": "lives", "arguments": 5}],
                    }
                )
            },
            convert("iepile", "i.jsonl"),
            ["i.jsonl:1", "'event[0].arguments'"],
            planted=out,
        ),
        Case(
            "iepile-relation_not_object",
            {"i.jsonl": jl({"text": TEXT, "relation": ["x"]})},
            convert("iepile", "i.jsonl"),
            ["i.jsonl:1", "'relation[0]'"],
            planted=out,
        ),
        Case(
            "iepile-empty_file",
            {"i.jsonl": ""},
            convert("iepile", "i.jsonl"),
            ["i.jsonl", "no records"],
            planted=out,
        ),
        Case(
            "iepile-prepare_cm_bad_line",
            {"i.jsonl": jl(IEPILE_OK, "{bad")},
            [
                "prepare",
                "--input",
                "i.jsonl",
                "--format",
                "iepile",
                "--stage",
                "cm",
                "--out",
                "prep",
            ],
            ["i.jsonl:2", "'<line>'"],
            planted=["prep/dataset_info.json", "prep/i_cm_ner.jsonl"],
        ),
        Case(
            "iepile-prepare_sa_negative",
            {
                "i.jsonl": jl(
                    IEPILE_OK, {"text": TEXT, "entity": [{"entity": 5, "entity_type": "location"}]}
                )
            },
            [
                "prepare",
                "--input",
                "i.jsonl",
                "--format",
                "iepile",
                "--stage",
                "sa",
                "--out",
                "prep",
            ],
            ["i.jsonl:2", "'entity[0].entity'"],
            planted=["prep/dataset_info.json", "prep/i_sa_ner.jsonl"],
        ),
        # conll
        Case(
            "conll-no_tag_column",
            {"c.txt": "Nadim B-PER\nLadki\n"},
            convert("conll", "c.txt"),
            ["c.txt:2", "'tag'"],
            planted=out,
        ),
        Case(
            "conll-bad_tag",
            {"c.txt": "Nadim B-PER\nLadki X-PER\n"},
            convert("conll", "c.txt"),
            ["c.txt:1", "'tags[1]'"],
            planted=out,
        ),
        Case(
            "conll-latin1",
            {"c.txt": b"Nadim B-PER\n\n" + "Müller B-PER\n".encode("latin-1")},
            convert("conll", "c.txt"),
            ["c.txt:3", "'<bytes>'"],
            planted=out,
        ),
        Case(
            "conll-option_of_other_format",
            {"c.txt": "Nadim B-PER\n"},
            convert("conll", "c.txt", "--labels", "person"),
            ["--labels", "--format conll"],
            planted=out,
        ),
        Case(
            "conll-label_map_bad_yaml",
            {"c.txt": "Nadim B-PER\n", "m.yaml": "PER: [person\nLOC: x\n"},
            convert("conll", "c.txt", "--label-map", "m.yaml"),
            ["m.yaml:", "invalid YAML"],
            planted=out,
        ),
        Case(
            "conll-label_map_not_strings",
            {"c.txt": "Nadim B-PER\n", "m.yaml": "PER: [person]\n"},
            convert("conll", "c.txt", "--label-map", "m.yaml"),
            ["m.yaml", "'PER'"],
            planted=out,
        ),
        Case(
            "conll-label_map_missing",
            {"c.txt": "Nadim B-PER\n"},
            convert("conll", "c.txt", "--label-map", "nope.yaml"),
            ["nope.yaml"],
            planted=out,
        ),
        Case(
            "conll-empty",
            {"c.txt": "\n\n"},
            convert("conll", "c.txt"),
            ["c.txt", "no records"],
            planted=out,
        ),
        Case(
            "conll-docstart_only",
            {"c.txt": "-DOCSTART- O\n\n"},
            convert("conll", "c.txt"),
            ["c.txt", "no records"],
            planted=out,
        ),
        Case(
            "conll-prepare_bad_tag",
            {"c.txt": "Nadim Q\n"},
            ["prepare", "--input", "c.txt", "--format", "conll", "--stage", "cm", "--out", "prep"],
            ["c.txt:1", "'tags[0]'"],
            planted=["prep/dataset_info.json"],
        ),
        # ie_instructions
        Case(
            "iei-object_not_array",
            iei({"sentence": TEXT}),
            convert("ie_instructions", iei_file),
            ["test.json", "must be a JSON array"],
            planted=out,
        ),
        Case(
            "iei-truncated",
            iei(json.dumps(IEI_OK)[:30]),
            convert("ie_instructions", iei_file),
            ["test.json:1", "invalid JSON"],
            planted=out,
        ),
        Case(
            "iei-labels_missing",
            iei(IEI_OK, labels=None),
            convert("ie_instructions", iei_file),
            ["labels.json"],
            planted=out,
        ),
        Case(
            "iei-labels_malformed",
            iei(IEI_OK, labels='["location",'),
            convert("ie_instructions", iei_file),
            ["labels.json:1", "invalid JSON"],
            planted=out,
        ),
        Case(
            "iei-labels_not_strings",
            iei(IEI_OK, labels="[[1]]"),
            convert("ie_instructions", iei_file),
            ["labels.json", "[0]"],
            planted=out,
        ),
        Case(
            "iei-negative_pos",
            iei(
                [
                    {
                        "sentence": TEXT,
                        "entities": [{"name": "Paris", "type": "location", "pos": [-5, 26]}],
                    }
                ]
            ),
            convert("ie_instructions", iei_file),
            ["test.json[0]", "'entities[0].start/end'"],
            planted=out,
        ),
        Case(
            "iei-type_not_in_labels",
            iei([{"sentence": TEXT, "entities": [{"name": "Paris", "type": "city"}]}]),
            convert("ie_instructions", iei_file),
            ["test.json[0]", "'entities[0].type'"],
            planted=out,
        ),
        Case(
            "iei-sentence_missing",
            iei([IEI_OK[0], {"entities": []}]),
            convert("ie_instructions", iei_file),
            ["test.json[1]", "'sentence'"],
            planted=out,
        ),
        Case(
            "iei-entities_not_list",
            iei([{"sentence": TEXT, "entities": "Paris"}]),
            convert("ie_instructions", iei_file),
            ["test.json[0]", "'entities'"],
            planted=out,
        ),
        Case(
            "iei-ee_labels_shape",
            iei([{"sentence": TEXT, "events": []}], labels='["a", "b", "c"]', task="EE"),
            convert("ie_instructions", "iei/EE/toy/test.json"),
            ["labels.json", "event_types"],
            planted=out,
        ),
        Case(
            "iei-re_head_missing",
            iei(
                [
                    {
                        "sentence": TEXT,
                        "relations": [{"type": "lives in", "tail": {"name": "Paris"}}],
                    }
                ],
                labels='["lives in"]',
                task="RE",
            ),
            convert("ie_instructions", "iei/RE/toy/test.json"),
            ["test.json[0]", "'relations[0].head'"],
            planted=out,
        ),
        Case(
            "iei-latin1",
            iei(json.dumps(IEI_OK).replace("Nadim", "Nad\u00efm").encode("latin-1")),
            convert("ie_instructions", iei_file),
            ["test.json:1", "'<bytes>'"],
            planted=out,
        ),
        Case(
            "iei-empty_array",
            iei([]),
            convert("ie_instructions", iei_file),
            ["test.json", "no records"],
            planted=out,
        ),
        Case(
            "iei-entity_string",
            iei([{"sentence": TEXT, "entities": ["Paris"]}]),
            convert("ie_instructions", iei_file),
            ["test.json[0]", "'entities[0]'"],
            planted=out,
        ),
    ]
    return cases
