"""The damaged inputs of the hostile-input suite, as data: one :class:`Case` per damaged input.

Each case writes its files into a fresh folder, runs one ``prouie`` command on them and states the
exit status and the places (file, line or index, field) the one-line message must name. Paths in
``argv`` and ``place`` are relative to the case folder; ``{d}`` stands for that folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

TEXT = "Nadim Ladki lives in Paris"
GOOD_NER = {
    "id": "1",
    "dataset": "toy",
    "task": "ner",
    "text": TEXT,
    "labels": ["person", "location"],
    "entities": [{"type": "person", "text": "Nadim Ladki", "start": 0, "end": 11}],
}
GOOD_RE = {
    "id": "2",
    "dataset": "toy",
    "task": "re",
    "text": TEXT,
    "labels": ["lives in"],
    "relations": [{"type": "lives in", "head": {"text": "Nadim Ladki"}, "tail": {"text": "Paris"}}],
}
GOOD_EE = {
    "id": "3",
    "dataset": "toy",
    "task": "ee",
    "text": TEXT,
    "labels": ["residence"],
    "roles": ["resident"],
    "events": [
        {
            "type": "residence",
            "trigger": {"text": "lives"},
            "arguments": [{"role": "resident", "text": "Nadim Ladki"}],
        }
    ],
}


def line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def ner(**change: object) -> str:
    return line({**GOOD_NER, **change})


def entity(**change: object) -> str:
    return ner(entities=[{**GOOD_NER["entities"][0], **change}])


def rel(**change: object) -> str:
    relation = {**GOOD_RE["relations"][0], **change}
    return line({**GOOD_RE, "relations": [relation]})


def event(**change: object) -> str:
    ev = {**GOOD_EE["events"][0], **change}
    return line({**GOOD_EE, "events": [ev]})


def without(key: str) -> str:
    return line({k: v for k, v in GOOD_NER.items() if k != key})


# (name, damaged third line of a records file, field the message must name)
RECORD_DAMAGE: list[tuple[str, str | bytes, str]] = [
    ("not_json", '{"id": "x", "task": ', "<line>"),
    ("truncated", ner()[:40], "<line>"),
    ("array_line", "[1, 2, 3]", "<record>"),
    ("string_line", '"hello"', "<record>"),
    ("missing_task", without("task"), "task"),
    ("unknown_task", ner(task="ner2"), "task"),
    ("null_task", ner(task=None), "task"),
    ("text_number", ner(text=123), "text"),
    ("text_missing", without("text"), "text"),
    ("labels_string", ner(labels="person"), "labels"),
    ("labels_nested", ner(labels=[["person"]]), "labels[0]"),
    ("roles_nested", ner(roles=[["x"]]), "roles[0]"),
    ("id_list", ner(id=[1, 2]), "id"),
    ("dataset_object", ner(dataset={"a": 1}), "dataset"),
    ("meta_list", ner(meta=[1]), "meta"),
    ("entities_object", ner(entities={"type": "person"}), "entities"),
    ("entity_string", ner(entities=["Nadim"]), "entities[0]"),
    ("entity_type_missing", ner(entities=[{"text": "Paris"}]), "entities[0].type"),
    ("entity_type_unknown", entity(type="org"), "entities[0].type"),
    ("entity_text_number", entity(text=5, start=None, end=None), "entities[0].text"),
    ("entity_text_empty", entity(text="", start=None, end=None), "entities[0].text"),
    ("negative_offsets", entity(text="Ladki", start=-5, end=11), "entities[0].start/end"),
    ("end_past_text", entity(start=0, end=999), "entities[0].start/end"),
    ("reversed_offsets", entity(start=11, end=0), "entities[0].start/end"),
    ("string_offsets", entity(start="0", end="11"), "entities[0].start/end"),
    ("bool_offsets", entity(start=False, end=True), "entities[0].start/end"),
    ("float_offsets", entity(start=0.0, end=11.0), "entities[0].start/end"),
    ("offsets_mismatch", entity(start=1, end=12), "entities[0]"),
    ("start_only", entity(end=None), "entities[0].start/end"),
    ("not_a_substring", entity(text="Nadine", start=None, end=None), "entities[0].text"),
    ("re_head_string", rel(head="Nadim Ladki"), "relations[0].head"),
    ("re_type_unknown", rel(type="born in"), "relations[0].type"),
    (
        "re_negative_offsets",
        rel(head={"text": "Ladki", "start": -5, "end": 11}),
        "relations[0].head.start/end",
    ),
    ("ee_trigger_missing", event(trigger=None), "events[0].trigger"),
    (
        "ee_unknown_role",
        event(arguments=[{"role": "visitor", "text": "Paris"}]),
        "events[0].arguments[0].role",
    ),
    ("ee_arguments_object", event(arguments={"role": "resident"}), "events[0].arguments"),
    ("lone_surrogate", ner()[:-1] + ', "meta": {"note": "\\ud800"}}', "<string>"),
    ("latin1_bytes", ner(text="Nadim Ladki vit à Paris").encode("latin-1"), "<bytes>"),
    ("deep_nesting", "[" * 100_000 + "]" * 100_000, "<line>"),
    ("labels_null", ner(labels=None), "labels"),
]


@dataclass
class Case:
    """One damaged input fed to one command."""

    id: str
    files: dict[str, str | bytes]
    argv: list[str]
    place: list[str]
    status: int = 2
    planted: list[str] = field(default_factory=list)  # outputs planted before the run


def records_file(damaged: str | bytes) -> bytes:
    good = (ner() + "\n" + ner(id="1b") + "\n").encode()
    tail = damaged if isinstance(damaged, bytes) else damaged.encode("utf-8", "surrogatepass")
    return good + tail + b"\n"


# Every command that reads canonical records: argv (after the input is set) and planted outputs.
RECORD_COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "convert": (
        ["convert", "--input", "r.jsonl", "--format", "records", "--out", "o.jsonl"],
        ["o.jsonl"],
    ),
    "prepare_cm": (
        ["prepare", "--input", "r.jsonl", "--format", "records", "--stage", "cm", "--out", "prep"],
        ["prep/dataset_info.json", "prep/toy_cm_ner.jsonl"],
    ),
    "prepare_sa": (
        ["prepare", "--input", "r.jsonl", "--format", "records", "--stage", "sa", "--out", "prep"],
        ["prep/dataset_info.json", "prep/toy_sa_ner.jsonl"],
    ),
    "stats": (["stats", "--input", "r.jsonl", "--format", "records"], []),
    "export_easyr1": (
        ["export-rl", "--target", "easyr1", "--input", "r.jsonl", "--out", "rl.jsonl"],
        ["rl.jsonl"],
    ),
    "export_verl": (
        ["export-rl", "--target", "verl", "--input", "r.jsonl", "--out", "rl.parquet"],
        ["rl.parquet"],
    ),
    "plan": (
        ["plan", "--ner", "r.jsonl", "--stages", "cm_phase1", "--out", "plan"],
        ["plan/dataset_info.json"],
    ),
}


def record_cases() -> list[Case]:
    cases = []
    for name, damaged, fieldname in RECORD_DAMAGE:
        for command, (argv, planted) in RECORD_COMMANDS.items():
            cases.append(
                Case(
                    f"{command}-{name}",
                    {"r.jsonl": records_file(damaged)},
                    argv,
                    ["r.jsonl:3", f"'{fieldname}'"],
                    planted=planted,
                )
            )
        # evaluate: the records joined to LLaMA-Factory predictions, line by line
        preds = "".join(
            line({"prompt": TEXT, "predict": "{}", "label": ""}) + "\n" for _ in range(3)
        )
        cases.append(
            Case(
                f"evaluate_records-{name}",
                {"r.jsonl": records_file(damaged), "p.jsonl": preds},
                [
                    "evaluate",
                    "p.jsonl",
                    "--records",
                    "r.jsonl",
                    "--out",
                    "ev",
                    "--no-plot",
                    "--quiet",
                ],
                ["r.jsonl:3", f"'{fieldname}'"],
                planted=["ev/report.md", "ev/report.json"],
            )
        )
    return cases


def jl(*rows: object) -> str:
    return "".join((r if isinstance(r, str) else line(r)) + "\n" for r in rows)


GOOD_RECORDS = jl(GOOD_NER, {**GOOD_NER, "id": "1b"})


def path_cases() -> list[Case]:
    """Bad paths, each caught before any work: a folder for a file, an output under a file, an
    output that is a folder (or a file where a folder is expected), the output being the input."""
    r = {"r.jsonl": GOOD_RECORDS}
    lf = jl(
        {"prompt": TEXT, "predict": "{}", "label": ""},
        {"prompt": TEXT, "predict": "{}", "label": ""},
    )
    folder = {"dir/": "", "dir/keep.txt": "keep"}
    file_ = {"f.txt": "PLANTED"}
    ev = ["evaluate", "p.jsonl", "--records", "r.jsonl", "--no-plot", "--quiet"]
    runs: dict[str, tuple[dict, list[str]]] = {
        "convert": (r, ["convert", "--input", "r.jsonl", "--format", "records", "--out"]),
        "export_easyr1": (r, ["export-rl", "--target", "easyr1", "--input", "r.jsonl", "--out"]),
        "export_verl": (r, ["export-rl", "--target", "verl", "--input", "r.jsonl", "--out"]),
    }
    dir_runs: dict[str, tuple[dict, list[str]]] = {
        "prepare": (
            r,
            ["prepare", "--input", "r.jsonl", "--format", "records", "--stage", "cm", "--out"],
        ),
        "plan": (r, ["plan", "--ner", "r.jsonl", "--stages", "cm_phase1", "--out"]),
        "evaluate": ({**r, "p.jsonl": lf}, [*ev, "--out"]),
    }
    cases = []
    for name, (files, argv) in runs.items():
        cases += [
            Case(
                f"{name}-out_under_file",
                {**files, **file_},
                [*argv, "f.txt/o.out"],
                ["f.txt"],
                planted=["f.txt"],
            ),
            Case(
                f"{name}-out_is_folder",
                {**files, **folder},
                [*argv, "dir"],
                ["dir", "folder"],
                planted=["dir/keep.txt"],
            ),
            Case(
                f"{name}-out_is_input",
                dict(files),
                [*argv, "r.jsonl"],
                ["r.jsonl", "input"],
                planted=["r.jsonl"],
            ),
        ]
    for name, (files, argv) in dir_runs.items():
        cases += [
            Case(
                f"{name}-out_under_file",
                {**files, **file_},
                [*argv, "f.txt/out"],
                ["f.txt"],
                planted=["f.txt"],
            ),
            Case(
                f"{name}-out_is_file",
                {**files, **file_},
                [*argv, "f.txt"],
                ["f.txt", "is a file"],
                planted=["f.txt"],
            ),
        ]
    inputs_as_folder = {
        "convert": ["convert", "--input", "dir", "--format", "records", "--out", "o.jsonl"],
        "prepare": [
            "prepare",
            "--input",
            "dir",
            "--format",
            "iepile",
            "--stage",
            "sa",
            "--out",
            "prep",
        ],
        "stats": ["stats", "--input", "dir", "--format", "conll"],
        "export_easyr1": ["export-rl", "--target", "easyr1", "--input", "dir", "--out", "o.jsonl"],
        "export_verl": ["export-rl", "--target", "verl", "--input", "dir", "--out", "o.parquet"],
        "plan": ["plan", "--ner", "dir", "--out", "plan"],
        "evaluate_predictions": ["evaluate", "dir", "--out", "ev", "--no-plot"],
        "evaluate_records": ["evaluate", "p.jsonl", "--records", "dir", "--out", "ev", "--no-plot"],
    }
    for name, argv in inputs_as_folder.items():
        cases.append(
            Case(
                f"{name}-input_is_folder",
                {**folder, "p.jsonl": lf},
                argv,
                ["dir", "folder"],
                planted=["dir/keep.txt"],
            )
        )
    missing = {
        "convert": ["convert", "--input", "nope.jsonl", "--format", "records", "--out", "o.jsonl"],
        "export_easyr1": [
            "export-rl",
            "--target",
            "easyr1",
            "--input",
            "nope.jsonl",
            "--out",
            "o.jsonl",
        ],
        "plan": ["plan", "--ner", "nope.jsonl", "--out", "plan"],
        "evaluate": ["evaluate", "nope.jsonl", "--out", "ev", "--no-plot"],
    }
    for name, argv in missing.items():
        cases.append(Case(f"{name}-input_missing", {}, argv, ["nope.jsonl"]))
    return cases


def prouie_prediction(prediction: object, record: object = GOOD_NER) -> dict:
    return {"prediction": prediction, "record": record}


def evaluate_cases() -> list[Case]:
    """Damaged prediction files and prediction/record mismatches."""
    ev = ["--out", "ev", "--no-plot", "--quiet"]
    planted = ["ev/report.md", "ev/report.json"]
    good = prouie_prediction('{"person": "Nadim Ladki"}')
    lf_row = {"prompt": TEXT, "predict": "{}", "label": ""}
    records20 = jl(*({**GOOD_NER, "id": str(i)} for i in range(20)))

    def case(name: str, files: dict, place: list[str], records: bool = False) -> Case:
        argv = ["evaluate", "p.jsonl", *(["--records", "r.jsonl"] if records else []), *ev]
        return Case(f"evaluate-{name}", files, argv, place, planted=planted)

    return [
        case("not_json", {"p.jsonl": jl(good, "{oops")}, ["p.jsonl:2", "'<line>'"]),
        case(
            "prediction_number",
            {"p.jsonl": jl(prouie_prediction(5))},
            ["p.jsonl:1", "'prediction'"],
        ),
        case(
            "record_negative_offsets",
            {
                "p.jsonl": jl(
                    prouie_prediction(
                        "{}",
                        {
                            **GOOD_NER,
                            "entities": [
                                {"type": "person", "text": "Ladki", "start": -5, "end": 11}
                            ],
                        },
                    )
                )
            },
            ["p.jsonl:1", "start/end"],
        ),
        case(
            "record_id_list",
            {"p.jsonl": jl(prouie_prediction("{}", {**GOOD_NER, "id": [1, 2]}))},
            ["p.jsonl:1", "'id'"],
        ),
        case(
            "empty_with_20_records",
            {"p.jsonl": "", "r.jsonl": records20},
            ["p.jsonl", "no predictions"],
            records=True,
        ),
        case(
            "unknown_template_with_records",
            {"p.jsonl": jl(*[lf_row] * 3), "r.jsonl": records20},
            ["p.jsonl:1", "'prompt'"],
            records=True,
        ),
        case(
            "unknown_id",
            {"p.jsonl": jl({**lf_row, "id": "nope"}), "r.jsonl": GOOD_RECORDS},
            ["p.jsonl:1", "'id'"],
            records=True,
        ),
        case("lf_without_records", {"p.jsonl": jl(lf_row)}, ["p.jsonl:1", "'prompt'", "--records"]),
        case(
            "predict_number",
            {"p.jsonl": jl({"prompt": TEXT, "predict": 1}), "r.jsonl": GOOD_RECORDS},
            ["p.jsonl:1", "'predict'"],
            records=True,
        ),
        case(
            "misaligned_prompt",
            {"p.jsonl": jl({"prompt": "other text", "predict": "{}"}), "r.jsonl": GOOD_RECORDS},
            ["p.jsonl:1", "'prompt'"],
            records=True,
        ),
        case(
            "latin1",
            {"p.jsonl": (line(good) + "\n").encode() + b'{"prediction": "\xe9"}\n'},
            ["p.jsonl:2", "'<bytes>'"],
        ),
        case("row_is_array", {"p.jsonl": jl(good, "[1]")}, ["p.jsonl:2", "'<line>'"]),
        # lines json.loads reads and the strict reader of prediction files refuses
        case(
            "lone_surrogate",
            {"p.jsonl": jl(good, line(good)[:-1] + ', "note": "\\ud800"}')},
            ["p.jsonl:2", "'<string>'", "surrogate"],
        ),
        case("nan", {"p.jsonl": jl(good, '{"prediction": NaN}')}, ["p.jsonl:2", "'<line>'"]),
        case(
            "nested_2000_deep",
            {"p.jsonl": jl(good, '{"prediction": ' + "[" * 2000 + "]" * 2000 + "}")},
            ["p.jsonl:2", "'<line>'"],
        ),
        case("empty_file", {"p.jsonl": "\n"}, ["p.jsonl", "no predictions"]),
        case(
            "truncated_last_line",
            {"p.jsonl": line(good) + "\n" + line(good)[:20]},
            ["p.jsonl:2", "'<line>'"],
        ),
    ]


def all_cases() -> list[Case]:
    from hostile_formats import format_cases
    from hostile_raw_formats import raw_format_cases

    return record_cases() + format_cases() + raw_format_cases() + path_cases() + evaluate_cases()
