"""Templates against the paper's Figures 4-8, targets, and the round trip on real data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prouie.readers import read
from prouie.records import validate_example
from prouie.targets import render_instruction, render_target, round_trips, target_obj, to_alpaca
from prouie.units import Units, split_ee_group, split_re_pair, units_from_example, units_from_obj
from shared_data import PAPER, shared_file

FIGURES = Path(__file__).parent / "fixtures" / "paper_figures_4_8.txt"

NER_LABELS = ["location", "person", "organization"]
RE_LABELS = [
    "conjunction",
    "feature of",
    "hyponym of",
    "used for",
    "part of",
    "compare",
    "evaluate for",
]
EE_LABELS = ["potential therapeutic event", "adverse event"]
EE_ROLES = ["Subject", "Effect", "Treatment", "Treatment.Drug", "Treatment.Time_elapsed"]
EE_TEXT = (
    "After 5 days of treatment with IL-2, the patient developed a hemorrhagic lesion that progressed "
    "to toxic epidermal necrolysis, as well as grade 4 pancytopenia."
)


def figure_lines() -> list[str]:
    lines = FIGURES.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5
    return lines


def paper_instruction(line: str) -> str:
    """The instruction part of a figure line: between 'Instruction ' and ' Input Example'."""
    return line[len("Instruction ") : line.index(" Input Example")]


def test_fixture_is_the_papers_text() -> None:
    if not PAPER.exists():
        pytest.skip(f"{PAPER} is absent")
    paper = PAPER.read_text(encoding="utf-8")
    for line in figure_lines():
        assert line in paper


def test_cm_ner_instruction_is_figure_4_word_for_word() -> None:
    text = paper_instruction(figure_lines()[0])
    slots = NER_LABELS
    expected = text.replace("{len(slots)}", str(len(slots))).replace(
        "{’, ’.join(slots)}", ", ".join(slots)
    )
    assert render_instruction("ner", "cm", slots) == expected


def test_cm_re_instruction_is_figure_5_word_for_word() -> None:
    text = paper_instruction(figure_lines()[1])
    expected = text.replace('{", ".join(relation_types)}', ", ".join(RE_LABELS))
    assert render_instruction("re", "cm", RE_LABELS) == expected


def test_cm_ee_instruction_is_figure_6_word_for_word() -> None:
    text = paper_instruction(figure_lines()[2])
    expected = text.replace("<EVENT_TYPES>", ", ".join(EE_LABELS)).replace(
        "<ROLE_TYPES>", ", ".join(EE_ROLES)
    )
    assert render_instruction("ee", "cm", EE_LABELS, EE_ROLES) == expected


@pytest.mark.parametrize(("task", "index"), [("re", 3), ("ee", 4)])
def test_sa_instruction_is_figures_7_8(task: str, index: int) -> None:
    """Figures 7-8 elide the CM text ('...') and add one sentence before 'The user input is:'."""
    sa = paper_instruction(figure_lines()[index])
    head, tail = sa.split("...")
    labels, roles = (RE_LABELS, None) if task == "re" else (EE_LABELS, EE_ROLES)
    cm = render_instruction(task, "cm", labels, roles)
    rendered = render_instruction(task, "sa", labels, roles)
    assert rendered.startswith(head)
    assert rendered.endswith(tail)
    assert rendered == cm.replace(" The user input is:", tail)


def output_example(line: str) -> dict:
    return json.loads(line[line.index("Output Example") + len("Output Example") :])


def test_targets_match_the_figures_outputs() -> None:
    lines = figure_lines()
    ner = validate_example(
        {
            "task": "ner",
            "labels": NER_LABELS,
            "text": "Best wishes to Kevin , Therese & their family as they embark on the next stage of their lives . JG",
            "entities": [
                {"type": "person", "text": "Kevin"},
                {"type": "person", "text": "Therese"},
            ],
        },
        "figure4",
    )
    assert target_obj(ner, "cm") == output_example(lines[0])
    re_ex = validate_example(
        {
            "task": "re",
            "labels": RE_LABELS,
            "text": "Instead of representing scene/object by a collection of isolated 3D features -LRB- usually "
            "points -RRB- , our algorithm uses a surface controlled by a small set of parameters .",
            "relations": [
                {"type": "used for", "head": {"text": "surface"}, "tail": {"text": "algorithm"}}
            ],
        },
        "figure5",
    )
    assert target_obj(re_ex, "cm") == output_example(lines[1])
    assert (
        render_target(re_ex, "sa") == '{"used for": "surface, algorithm"}'
    )  # Figure 7, byte for byte
    ee = validate_example(
        {
            "task": "ee",
            "labels": EE_LABELS,
            "roles": EE_ROLES,
            "text": EE_TEXT,
            "events": [
                {
                    "type": "adverse event",
                    "trigger": {"text": "developed"},
                    "arguments": [
                        {"role": "Subject", "text": "patient"},
                        {
                            "role": "Effect",
                            "text": "a hemorrhagic lesion that progressed to toxic epidermal necrolysis, "
                            "as well as grade 4 pancytopenia",
                        },
                        {"role": "Treatment", "text": "5 days of treatment with IL-2"},
                        {"role": "Treatment.Drug", "text": "IL-2"},
                        {"role": "Treatment.Time_elapsed", "text": "After 5 days"},
                    ],
                }
            ],
        },
        "figure6",
    )
    assert target_obj(ee, "cm") == output_example(lines[2])
    assert target_obj(ee, "sa") == output_example(lines[4])
    assert list(target_obj(ee, "cm")) == EE_LABELS  # keys in schema order


def test_to_alpaca_rows() -> None:
    ex = validate_example(
        {
            "task": "ner",
            "labels": ["person"],
            "text": "Kevin met Kevin",
            "entities": [{"type": "person", "text": "Kevin"}, {"type": "person", "text": "Kevin"}],
        },
        "x",
    )
    row = to_alpaca(ex, "cm")
    assert row["input"] == "Kevin met Kevin"
    assert row["output"] == '{"person": "Kevin"}'  # duplicates removed
    assert row["instruction"].endswith("The user input is:")
    assert [e["start"] for e in ex["entities"]] == [0, 10]  # located one after the other


def test_order_of_first_appearance() -> None:
    ex = validate_example(
        {
            "task": "ner",
            "labels": ["person"],
            "text": "Ann and Bob",
            "entities": [{"type": "person", "text": "Bob"}, {"type": "person", "text": "Ann"}],
        },
        "x",
    )
    assert target_obj(ex, "sa") == {"person": "Ann | Bob"}


def test_re_split_prefers_substrings() -> None:
    assert split_re_pair("Paris, France, Europe", "Paris, France is in Europe") == (
        "Paris, France",
        "Europe",
    )
    assert split_re_pair("a, b, c", None) == ("a", "b, c")
    assert split_re_pair("no separator", "x") is None


def test_ee_group_recovers_separators_with_roles() -> None:
    roles = {"Subject", "Effect"}
    assert split_ee_group("took: 2 pills: Subject: he; Effect: rash; itch", roles) == (
        "took: 2 pills",
        [("Subject", "he"), ("Effect", "rash; itch")],
    )
    assert split_ee_group("fell", roles) == ("fell", [])
    assert split_ee_group("a; b", roles) is None


def test_clash_is_counted_not_altered() -> None:
    ex = validate_example(
        {
            "task": "ner",
            "labels": ["org"],
            "text": "A | B Corp",
            "entities": [{"type": "org", "text": "A | B Corp"}],
        },
        "x",
    )
    assert not round_trips(ex, "cm")
    assert target_obj(ex, "cm") == {"org": "A | B Corp"}  # written unchanged


def test_units_from_obj_reports_problems() -> None:
    units, problems = units_from_obj(
        {"person": "Ann | Ann | Zed", "animal": "cat", "place": 3},
        "ner",
        ["person", "place"],
        input_text="Ann met Bob",
    )
    assert units == Units(
        "ner", types=frozenset({"person"}), pairs=frozenset({("person", "Ann"), ("person", "Zed")})
    )
    kinds = sorted(p.kind for p in problems)
    assert kinds == ["duplicate_value", "non_string_value", "not_substring", "unknown_key"]


REAL = [
    ("conll", "wikigold/wikigold.conll.txt", 1696),
    ("phee", "phee/test.json", 968),
    ("fewrel", "fewrel/val_wiki.json", 11200),
]


@pytest.mark.parametrize(("fmt", "rel", "count"), REAL)
def test_real_data_round_trips(fmt: str, rel: str, count: int) -> None:
    """units(parse(render(x))) == units(x) for CM and SA on every record without a separator clash."""
    path = shared_file(rel)
    n = clashes = 0
    for ex in read(fmt, path):
        n += 1
        gold = units_from_example(ex)
        for stage in ("cm", "sa"):
            text = render_target(ex, stage)
            units, problems = units_from_obj(
                json.loads(text), ex["task"], ex["labels"], ex["roles"], ex["text"]
            )
            if units != gold:
                clashes += 1
                assert not round_trips(ex, stage, text)
                continue
            assert not [p for p in problems if p.kind != "duplicate_value"], (ex["id"], problems)
            assert round_trips(ex, stage, text)
    assert n == count
    # None of these three sets has a value that swallows a separator beyond recovery.
    assert clashes == 0


def test_sentence_text_round_trip_wikigold() -> None:
    """CoNLL offsets select the entity text in the space-joined sentence."""
    path = shared_file("wikigold/wikigold.conll.txt")
    for ex in read("conll", path):
        for e in ex["entities"]:
            assert ex["text"][e["start"] : e["end"]] == e["text"]
            assert not re.search(r"\s$|^\s", e["text"])
