"""The unit extractor's problem checks, task by task (units_from_obj on decoded objects)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prouie.units import Problem, Units, split_re_pair, units_from_obj

TEXT = "Kevin works for ACME in Paris, France; Ann met Bob there"
RE = ["work for", "live in"]
EE = ["meet", "attack"]
ROLES = ["Subject", "Object", "Place"]


def re_units(obj: dict, text: str | None = TEXT) -> tuple[Units, list[Problem]]:
    return units_from_obj(obj, "re", RE, None, text)


def ee_units(obj: dict, text: str | None = TEXT) -> tuple[Units, list[Problem]]:
    return units_from_obj(obj, "ee", EE, ROLES, text)


# ----------------------------------------------------------------------------- RE


def test_re_pair_without_separator_is_malformed() -> None:
    units, problems = re_units({"work for": "Kevin | Kevin ACME"})
    assert units.triples == frozenset()
    assert problems == [
        Problem("malformed_pair", "work for", "Kevin"),
        Problem("malformed_pair", "work for", "Kevin ACME"),
    ]


@pytest.mark.parametrize("value", [", ACME", "Kevin, "])
def test_re_pair_with_an_empty_side_is_malformed(value: str) -> None:
    units, problems = re_units({"work for": value})
    assert units.triples == frozenset()
    assert problems == [Problem("malformed_pair", "work for", value)]


def test_re_head_and_tail_are_each_checked_against_the_input() -> None:
    units, problems = re_units({"work for": "Kevin, IBM | Zed, ACME"})
    assert units.triples == {("work for", "Kevin", "IBM"), ("work for", "Zed", "ACME")}
    assert units.types == {"work for"}
    assert problems == [
        Problem("not_substring", "work for", "IBM"),
        Problem("not_substring", "work for", "Zed"),
    ]


def test_re_without_input_checks_no_substring() -> None:
    assert re_units({"work for": "Kevin, IBM"}, None)[1] == []


def test_re_pair_split_prefers_sides_found_in_the_input() -> None:
    units, problems = re_units({"live in": "Kevin, Paris, France"})
    assert units.triples == {("live in", "Kevin", "Paris, France")}
    assert problems == []


def test_re_empty_and_repeated_parts_are_reported() -> None:
    units, problems = re_units({"work for": "Kevin, ACME |  | Kevin, ACME"})
    assert units.triples == {("work for", "Kevin", "ACME")}
    assert problems == [
        Problem("empty_value", "work for"),
        Problem("duplicate_value", "work for", "Kevin, ACME"),
    ]


def test_re_unknown_keys_and_non_strings() -> None:
    units, problems = re_units(
        {"born in": "Kevin, Paris", "work for": 3, "live in": ["Ann, Paris"]}
    )
    assert units.triples == {("live in", "Ann", "Paris")}
    assert problems == [
        Problem("unknown_key", "born in"),
        Problem("non_string_value", "work for", "int"),
        Problem("non_string_value", "live in", "list"),
    ]


def test_split_re_pair_never_tries_sides_longer_than_the_input() -> None:
    pair = ", ".join(["x"] * 2000)
    assert split_re_pair(pair, "x") == ("x", ", ".join(["x"] * 1999))


# ----------------------------------------------------------------------------- EE


def test_ee_group_pieces_without_a_role_are_malformed() -> None:
    units, problems = ee_units({"meet": "met: Kevin"})
    assert units.groups == frozenset()
    assert problems == [Problem("malformed_group", "meet", "met: Kevin")]


def test_ee_group_with_an_empty_trigger_is_malformed() -> None:
    units, problems = ee_units({"meet": ": Subject: Ann"})
    assert units.groups == frozenset()
    assert problems == [Problem("malformed_group", "meet", ": Subject: Ann")]


def test_ee_unknown_first_role_is_kept_and_reported() -> None:
    units, problems = ee_units({"meet": "met: Actor: Ann"})
    assert units.groups == {("meet", "met", frozenset({("Actor", "Ann")}))}
    assert problems == [Problem("malformed_group", "meet", "unknown role 'Actor'")]


def test_ee_trigger_and_every_argument_are_checked_against_the_input() -> None:
    units, problems = ee_units({"meet": "greeted: Subject: Ann; Object: Carl"})
    assert units.arguments == {("meet", "Subject", "Ann"), ("meet", "Object", "Carl")}
    assert problems == [
        Problem("not_substring", "meet", "greeted"),
        Problem("not_substring", "meet", "Carl"),
    ]


def test_ee_substring_problems_come_before_the_unknown_role() -> None:
    problems = ee_units({"meet": "greeted: Actor: Ann"})[1]
    assert [p.kind for p in problems] == ["not_substring", "malformed_group"]


def test_ee_groups_of_one_trigger_merge_and_bare_triggers_count() -> None:
    units, problems = ee_units(
        {"meet": "met: Subject: Ann | met: Object: Bob", "attack": "works"}, None
    )
    assert units.groups == {
        ("meet", "met", frozenset({("Subject", "Ann"), ("Object", "Bob")})),
        ("attack", "works", frozenset()),
    }
    assert units.types == {"meet", "attack"}
    assert problems == []


def test_ee_argument_holding_the_argument_separator_is_glued_back() -> None:
    units, _ = ee_units({"meet": "met: Place: Paris, France; Ann; Subject: Bob"}, None)
    assert units.groups == {
        ("meet", "met", frozenset({("Place", "Paris, France; Ann"), ("Subject", "Bob")}))
    }


# ----------------------------------------------------------------------------- NER and slot


def test_slot_values_are_trimmed_and_missing_slots_empty() -> None:
    units, problems = units_from_obj({"body": " phone ", "x": "y"}, "slot", ["body", "action"])
    assert units.slots == (("body", "phone"), ("action", ""))
    assert problems == [Problem("unknown_key", "x")]


def test_unknown_task_raises() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        units_from_obj({}, "pos", ["x"])


_parts = st.sampled_from(["Kevin", "ACME", "Paris", "Zed", ""])


@given(st.lists(_parts, max_size=5))
def test_ner_units_are_the_distinct_non_empty_parts(parts: list[str]) -> None:
    units, problems = units_from_obj({"person": " | ".join(parts)}, "ner", ["person"], None, TEXT)
    assert units.pairs == {("person", p) for p in parts if p}
    expected = len(parts) - len(set(parts) - {""}) if parts != [""] else 0
    assert sum(p.kind in ("empty_value", "duplicate_value") for p in problems) == expected
    assert sum(p.kind == "not_substring" for p in problems) == ("Zed" in parts)
