"""Damaged inputs of the PHEE, FewRel and slot readers (hostile-input suite)."""

from __future__ import annotations

import json

from hostile_cases import TEXT, Case, jl, line, ner
from hostile_formats import convert

PHEE_OK = {
    "id": "p1",
    "context": TEXT,
    "annotations": [
        {
            "events": [
                {
                    "event_type": "Adverse_event",
                    "Trigger": {"text": [["lives"]], "start": [[12]]},
                }
            ]
        }
    ],
}
FEWREL_OK = {
    "P177": [{"tokens": TEXT.split(), "h": ["nadim", "Q1", [[0, 1]]], "t": ["paris", "Q2", [[4]]]}]
}
SCHEMA = "slots:\n  - name: city\n    definition: A city.\n"


def raw_format_cases() -> list[Case]:
    """Damaged PHEE, FewRel and slot inputs, through convert."""
    out = ["o.jsonl"]
    cases = [
        # phee
        Case(
            "phee-array_line",
            {"ph.jsonl": jl(PHEE_OK, "[1, 2, 3]")},
            convert("phee", "ph.jsonl"),
            ["ph.jsonl:2", "'<record>'"],
            planted=out,
        ),
        Case(
            "phee-context_missing",
            {"ph.jsonl": jl({"annotations": []})},
            convert("phee", "ph.jsonl"),
            ["ph.jsonl:1", "'context'"],
            planted=out,
        ),
        Case(
            "phee-annotations_object",
            {"ph.jsonl": jl({"context": TEXT, "annotations": {}})},
            convert("phee", "ph.jsonl"),
            ["ph.jsonl:1", "'annotations'"],
            planted=out,
        ),
        Case(
            "phee-trigger_string",
            {
                "ph.jsonl": jl(
                    {
                        "context": TEXT,
                        "annotations": [
                            {"events": [{"event_type": "Adverse_event", "Trigger": "lives"}]}
                        ],
                    }
                )
            },
            convert("phee", "ph.jsonl"),
            ["ph.jsonl:1", "'annotations[0].events[0].Trigger'"],
            planted=out,
        ),
        Case(
            "phee-start_not_int",
            {
                "ph.jsonl": jl(
                    {
                        "context": TEXT,
                        "annotations": [
                            {
                                "events": [
                                    {
                                        "event_type": "Adverse_event",
                                        "Trigger": {"text": [["lives"]], "start": [["12"]]},
                                    }
                                ]
                            }
                        ],
                    }
                )
            },
            convert("phee", "ph.jsonl"),
            ["ph.jsonl:1", "Trigger"],
            planted=out,
        ),
        Case(
            "phee-events_string",
            {"ph.jsonl": jl({"context": TEXT, "annotations": [{"events": "x"}]})},
            convert("phee", "ph.jsonl"),
            ["ph.jsonl:1", "'annotations[0].events'"],
            planted=out,
        ),
        Case(
            "phee-latin1",
            {"ph.jsonl": (line(PHEE_OK) + "\n").encode() + b'{"context": "\xe9"}\n'},
            convert("phee", "ph.jsonl"),
            ["ph.jsonl:2", "'<bytes>'"],
            planted=out,
        ),
        # fewrel
        Case(
            "fewrel-array_top",
            {"f.json": json.dumps([FEWREL_OK]), "pid2name.json": '{"P177": ["crosses"]}'},
            convert("fewrel", "f.json"),
            ["f.json", "must be a JSON object"],
            planted=out,
        ),
        Case(
            "fewrel-index_outside",
            {
                "f.json": json.dumps(
                    {"P177": [{"tokens": ["a"], "h": ["a", "Q", [[0]]], "t": ["b", "Q", [[7]]]}]}
                ),
                "pid2name.json": '{"P177": ["crosses"]}',
            },
            convert("fewrel", "f.json"),
            ["f.json[P177][0]", "'t[2][0]'"],
            planted=out,
        ),
        Case(
            "fewrel-h_malformed",
            {
                "f.json": json.dumps(
                    {"P177": [{"tokens": ["a"], "h": ["a"], "t": ["a", "Q", [[0]]]}]}
                ),
                "pid2name.json": '{"P177": ["crosses"]}',
            },
            convert("fewrel", "f.json"),
            ["f.json[P177][0]", "'h'"],
            planted=out,
        ),
        Case(
            "fewrel-rows_not_list",
            {
                "f.json": json.dumps({"P177": {"tokens": []}}),
                "pid2name.json": '{"P177": ["crosses"]}',
            },
            convert("fewrel", "f.json"),
            ["f.json[P177]", "'P177'"],
            planted=out,
        ),
        Case(
            "fewrel-pid2name_malformed",
            {"f.json": json.dumps(FEWREL_OK), "pid2name.json": '{"P177": '},
            convert("fewrel", "f.json"),
            ["pid2name.json:1", "invalid JSON"],
            planted=out,
        ),
        Case(
            "fewrel-pid2name_option_missing",
            {"f.json": json.dumps(FEWREL_OK)},
            convert("fewrel", "f.json", "--pid2name", "names.json"),
            ["names.json"],
            planted=out,
        ),
        Case(
            "fewrel-tokens_not_strings",
            {
                "f.json": json.dumps(
                    {"P177": [{"tokens": [1, 2], "h": ["a", "Q", [[0]]], "t": ["b", "Q", [[1]]]}]}
                ),
                "pid2name.json": "{}",
            },
            convert("fewrel", "f.json"),
            ["f.json[P177][0]", "'tokens[0]'"],
            planted=out,
        ),
        Case(
            "fewrel-truncated",
            {"f.json": json.dumps(FEWREL_OK)[:25], "pid2name.json": "{}"},
            convert("fewrel", "f.json"),
            ["f.json:1", "invalid JSON"],
            planted=out,
        ),
        # slot
        Case(
            "slot-schema_option_missing",
            {"s.jsonl": jl({"text": "Paris", "slots": {"city": "Paris"}})},
            convert("slot", "s.jsonl"),
            ["--schema"],
            planted=out,
        ),
        Case(
            "slot-schema_bad_yaml",
            {"s.jsonl": jl({"text": "Paris", "slots": {}}), "schema.yaml": "slots: [\n"},
            convert("slot", "s.jsonl", "--schema", "schema.yaml"),
            ["schema.yaml:", "invalid YAML"],
            planted=out,
        ),
        Case(
            "slot-schema_no_slots",
            {"s.jsonl": jl({"text": "Paris", "slots": {}}), "schema.yaml": "slots: []\n"},
            convert("slot", "s.jsonl", "--schema", "schema.yaml"),
            ["schema.yaml", "'slots'"],
            planted=out,
        ),
        Case(
            "slot-schema_duplicate",
            {
                "s.jsonl": jl({"text": "Paris", "slots": {}}),
                "schema.yaml": SCHEMA + "  - name: city\n",
            },
            convert("slot", "s.jsonl", "--schema", "schema.yaml"),
            ["schema.yaml", "unique"],
            planted=out,
        ),
        Case(
            "slot-unknown_slot",
            {"s.jsonl": jl({"text": "Paris", "slots": {"colour": "red"}}), "schema.yaml": SCHEMA},
            convert("slot", "s.jsonl", "--schema", "schema.yaml"),
            ["s.jsonl:1", "'slots.colour'"],
            planted=out,
        ),
        Case(
            "slot-value_number",
            {"s.jsonl": jl({"text": "Paris", "slots": {"city": 5}}), "schema.yaml": SCHEMA},
            convert("slot", "s.jsonl", "--schema", "schema.yaml"),
            ["s.jsonl:1", "'slots.city'"],
            planted=out,
        ),
        Case(
            "slot-slots_list",
            {"s.jsonl": jl({"text": "Paris", "slots": ["city"]}), "schema.yaml": SCHEMA},
            convert("slot", "s.jsonl", "--schema", "schema.yaml"),
            ["s.jsonl:1", "'slots'"],
            planted=out,
        ),
        Case(
            "slot-schema_missing_file",
            {"s.jsonl": jl({"text": "Paris", "slots": {}})},
            convert("slot", "s.jsonl", "--schema", "none.yaml"),
            ["none.yaml"],
            planted=out,
        ),
        # format name
        Case(
            "format-unknown",
            {"r.jsonl": ner() + "\n"},
            ["convert", "--input", "r.jsonl", "--format", "conl", "--out", "o.jsonl"],
            ["unknown input format 'conl'", "did you mean conll"],
            planted=out,
        ),
    ]
    return cases
