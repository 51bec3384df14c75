"""The tolerant output parser: every kind of damage is read or classified, nothing raises."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from prouie.metrics import Evaluator
from prouie.parsing import MAX_DEPTH, MAX_OBJECTS, REPAIR_MAX_CHARS, Parsed, parse_output
from prouie.units import PROBLEM_KINDS, Problem, Units, units_from_example, units_from_obj

NER = ["person", "location", "organization"]
TEXT = "Kevin and Therese met ACME people in Paris"
RE_LABELS = ["work for", "live in"]
EE_LABELS = ["adverse event", "potential therapeutic event"]
EE_ROLES = ["Subject", "Effect", "Treatment"]

# Kinds this parser adds to those of units_from_obj.
KNOWN_KINDS = set(PROBLEM_KINDS) | {"invalid_json", "extra_text"}


def kinds(p: Parsed) -> list[str]:
    return [q.kind for q in p.problems]


def ner(text: str, input_text: str | None = TEXT) -> Parsed:
    return parse_output(text, "ner", NER, None, input_text)


def test_clean_output_has_units_and_no_problems() -> None:
    p = ner('{"person": "Kevin | Therese", "location": "Paris", "organization": ""}')
    assert p.ok and p.problems == []
    assert p.units.pairs == {("person", "Kevin"), ("person", "Therese"), ("location", "Paris")}
    assert p.units.types == {"person", "location"}


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"person": "Kevin"}\n```',
        '```\n{"person": "Kevin"}\n```',
        'Here you go:\n```json\n{"person": "Kevin"}\n```\nDone.',
        'The answer is {"person": "Kevin"}.',
        '{"person": "Kevin"}\n\nI extracted one person.',
    ],
)
def test_wrapped_object_is_read_and_flagged_as_extra_text(text: str) -> None:
    p = ner(text)
    assert p.ok
    assert p.units.pairs == {("person", "Kevin")}
    assert kinds(p) == ["extra_text"]


@pytest.mark.parametrize(
    "text",
    [
        '<think>\nthe user wants {persons}\n</think>\n\n{"person": "Kevin"}',
        '<think>\n\n</think>\n\n{"person": "Kevin"}',
        'I think it is Kevin.</think>{"person": "Kevin"}',  # "<think>" was in the prompt
    ],
)
def test_think_blocks_are_dropped_silently(text: str) -> None:
    p = ner(text)
    assert p.ok and p.problems == [] and p.units.pairs == {("person", "Kevin")}


def test_unclosed_think_is_truncated_and_unparseable() -> None:
    p = ner("<think>\nLet me see, Kevin is a")
    assert not p.ok
    assert kinds(p) == ["truncated", "unparseable"]
    assert p.units == Units("ner")


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ('{"person": "Kevin | Ther', {("person", "Kevin"), ("person", "Ther")}),
        ('{"person": "Kevin", "loc', {("person", "Kevin")}),
        ('{"person": "Kevin", "location":', {("person", "Kevin")}),
        ('{"person": "Kevin",', {("person", "Kevin")}),
        ('{"person": "Kevin"', {("person", "Kevin")}),
        ('{"person": "Kevin\\', {("person", "Kevin")}),
        (
            '```json\n{"person": "Kevin", "location": "Par',
            {("person", "Kevin"), ("location", "Par")},
        ),
    ],
)
def test_truncated_output_keeps_what_was_written(text: str, pairs: set) -> None:
    p = ner(text)
    assert p.ok
    assert p.units.pairs == pairs
    assert "truncated" in kinds(p)
    assert kinds(p).count("truncated") == 1


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ('{"pers', []),  # cut inside the first key: nothing was complete
        ('{"person"', []),
        ('{"weapon": ', ["weapon"]),  # a whole key and its colon: kept, and reported unknown
        ('{"a\\x": ', ["a\\x"]),  # an invalid escape in it: left to the repair, never an error
    ],
)
def test_output_cut_at_its_first_key(text: str, keys: list[str]) -> None:
    p = ner(text)
    assert p.ok and kinds(p)[0] == "truncated"
    assert [q.key for q in p.problems if q.kind == "unknown_key"] == keys
    assert not any(q.detail.startswith("internal error") for q in p.problems)


def test_duplicate_key_is_reported_and_last_value_wins() -> None:
    p = ner('{"person": "Kevin", "location": "Paris", "person": "Therese"}')
    assert p.ok
    assert p.problems == [Problem("duplicate_key", "person")]
    assert p.units.pairs == {("person", "Therese"), ("location", "Paris")}


def test_duplicate_key_survives_the_slow_path() -> None:
    p = ner('```json\n{"person": "Kevin", "person": "Therese"}\n```')
    assert set(kinds(p)) == {"extra_text", "duplicate_key"}
    p = ner('{"person": "Kevin", "person": "Therese", "loc')
    assert set(kinds(p)) == {"truncated", "duplicate_key"}


def test_value_level_problems_come_from_the_unit_extractor() -> None:
    p = ner('{"person": "Kevin | Kevin | Bob", "company": "ACME", "location": 3}')
    assert p.ok
    assert sorted(kinds(p)) == [
        "duplicate_value",
        "non_string_value",
        "not_substring",
        "unknown_key",
    ]
    assert p.units.pairs == {("person", "Kevin"), ("person", "Bob")}


def test_not_substring_needs_the_input_text() -> None:
    assert kinds(ner('{"person": "Bob"}', input_text=None)) == []
    assert kinds(ner('{"person": "Bob"}')) == ["not_substring"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'person': 'Kevin'}", {("person", "Kevin")}),
        ('{"person": "Kevin",}', {("person", "Kevin")}),
        ('{"person": "Kevin" "location": "Paris"}', {("person", "Kevin"), ("location", "Paris")}),
    ],
)
def test_invalid_json_is_repaired_and_flagged(text: str, expected: set) -> None:
    p = ner(text)
    assert p.ok
    assert p.units.pairs == expected
    assert kinds(p) == ["invalid_json"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "unparseable"),
        ("   \n", "unparseable"),
        ("No entities found.", "unparseable"),
        ("[1, 2]", "not_object"),
        ('"{\\"person\\": \\"Kevin\\"}"', "not_object"),
        ("null", "not_object"),
        ("42", "not_object"),
    ],
)
def test_outputs_without_an_object_are_not_ok(text: str, kind: str) -> None:
    p = ner(text)
    assert not p.ok
    assert kinds(p)[-1] == kind
    assert p.units == Units("ner")


@pytest.mark.parametrize("value", [None, 3, b'{"person": "Kevin"}', ["x"]])
def test_non_strings_never_raise(value: object) -> None:
    p = parse_output(value, "ner", NER)
    assert not p.ok and kinds(p) in (["unparseable"], ["not_object"])


def test_deep_nesting_never_raises() -> None:
    for text in ("[" * 100_000, '{"a": ' * 50_000, "{" * 100_000 + "}" * 100_000):
        p = ner(text)
        assert not p.ok or p.problems


def test_a_sketch_before_the_answer_gives_way_to_the_valid_object() -> None:
    p = ner('Format: {type: value}. Answer: {"person": "Kevin"}')
    assert p.ok and p.units.pairs == {("person", "Kevin")} and kinds(p) == ["extra_text"]


def test_slot_task_unparseable_has_every_slot_empty() -> None:
    p = parse_output("oops", "slot", ["body", "action"])
    assert not p.ok
    assert p.units.slots == (("body", ""), ("action", ""))


def test_re_and_ee_outputs() -> None:
    p = parse_output(
        '{"work for": "Kevin, ACME | Therese", "live in": "Kevin, Paris"}',
        "re",
        RE_LABELS,
        None,
        TEXT,
    )
    assert p.units.triples == {("work for", "Kevin", "ACME"), ("live in", "Kevin", "Paris")}
    assert kinds(p) == ["malformed_pair"]
    p = parse_output(
        '{"adverse event": "met: Subject: Kevin; Effect: people"}', "ee", EE_LABELS, EE_ROLES, TEXT
    )
    assert p.ok and p.problems == []
    assert p.units.groups == {
        ("adverse event", "met", frozenset({("Subject", "Kevin"), ("Effect", "people")}))
    }


def test_a_fenced_object_with_a_duplicate_key_reports_both() -> None:
    p = parse_output('```json\n{"person": "Ann", "person": "Kevin"}\n```', "ner", NER, None, TEXT)
    assert p.units.pairs == {("person", "Kevin")}
    assert [q.kind for q in p.problems] == ["extra_text", "duplicate_key"]
    assert parse_output("[1]", "ner", NER).problems == [Problem("not_object", None, "list")]


# ----------------------------------------------------------------------------- property tests

_value = st.text(max_size=12)


@st.composite
def records(draw: st.DrawFn) -> dict:
    """A small NER record whose entity strings are substrings of its text."""
    words = draw(
        st.lists(
            st.sampled_from(["Kevin", "Paris", "ACME", "met", "in", "the", "Ann Lee"]),
            min_size=1,
            max_size=8,
        )
    )
    text = " ".join(words)
    ents = []
    for w in draw(st.lists(st.sampled_from(sorted(set(words))), max_size=4, unique=True)):
        ents.append({"type": draw(st.sampled_from(NER)), "text": w})
    return {"task": "ner", "labels": NER, "text": text, "entities": ents}


def _target(rec: dict, drop_empty: bool) -> dict:
    obj: dict[str, list[str]] = {label: [] for label in NER}
    for e in rec["entities"]:
        obj[e["type"]].append(e["text"])
    return {k: " | ".join(v) for k, v in obj.items() if v or not drop_empty}


MUTATIONS = (
    "truncate",
    "insert",
    "delete",
    "fence",
    "think",
    "chatter",
    "dup_key",
    "quotes",
    "replace",
    "none",
)


@st.composite
def mutated_outputs(draw: st.DrawFn) -> tuple[dict, str]:
    rec = draw(records())
    text = json.dumps(_target(rec, draw(st.booleans())), ensure_ascii=draw(st.booleans()))
    for m in draw(st.lists(st.sampled_from(MUTATIONS), max_size=3)):
        if m == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        elif m == "insert":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.text(alphabet='{}[]":,\\ \n|;abc', max_size=4)) + text[i:]
        elif m == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + 1 :]
        elif m == "fence":
            text = f"```json\n{text}\n```" if draw(st.booleans()) else f"```json\n{text}"
        elif m == "think":
            text = (
                f"<think>\n{draw(_value)}\n</think>\n\n{text}"
                if draw(st.booleans())
                else f"<think>{text}"
            )
        elif m == "chatter":
            text = draw(_value) + text + draw(_value)
        elif m == "dup_key":
            text = text.rstrip("}") + ', "person": "Kevin"}'
        elif m == "quotes":
            text = text.replace('"', "'")
        elif m == "replace" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + draw(st.characters()) + text[i + 1 :]
    return rec, text


def _check_classified(p: Parsed, text: object) -> None:
    assert isinstance(p, Parsed)
    assert isinstance(p.units, Units) and p.units.task == "ner"
    for q in p.problems:
        assert isinstance(q, Problem)
        assert q.kind in KNOWN_KINDS, q
        assert not q.detail.startswith("internal error"), q
    if not p.ok:
        # Not ok is always explained, and scores nothing.
        assert {"unparseable", "not_object"} & set(kinds(p))
        assert p.units == Units("ner")
    if not p.problems:
        # A clean verdict is only ever given to a JSON object, after a closed thinking block at most.
        assert isinstance(text, str)
        answer = re.sub(r"<think>.*?</think>", "", text, flags=re.S).rpartition("</think>")[2]
        assert isinstance(json.loads(answer), dict)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=50).map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_never_raises_and_is_classified(text: str) -> None:
    _check_classified(ner(text), text)


@given(mutated_outputs())
def test_mutated_outputs_never_raise_and_are_classified(case: tuple[dict, str]) -> None:
    rec, text = case
    p = parse_output(text, "ner", NER, None, rec["text"])
    _check_classified(p, text)


@given(records(), st.booleans())
def test_rendered_targets_parse_back_to_the_gold_units(rec: dict, drop_empty: bool) -> None:
    text = json.dumps(_target(rec, drop_empty), ensure_ascii=False)
    p = parse_output(text, "ner", NER, None, rec["text"])
    assert p.ok and p.problems == []
    assert p.units == units_from_example(rec)


# ----------------------------------------------------------------------------- orjson vs json

# JSON values of every kind, including those orjson refuses and json accepts (NaN, integers beyond
# 64 bits, lone surrogates), so both decoders' edges are crossed.
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**64, max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=8)
    | st.sampled_from(["Kevin", "Paris", "ACME", "Kevin | Paris", ""])
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def json_objects(draw: st.DrawFn) -> tuple[str, str]:
    keys = st.sampled_from([*NER, "weapon", ""]) | st.text(max_size=6)
    obj = draw(
        st.dictionaries(keys, _json_values | st.sampled_from(["Kevin", "Paris"]), max_size=4)
    )
    text = json.dumps(
        obj, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1]))
    )
    if obj and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(obj)))
        text = (
            text.rstrip().rstrip("}") + f", {json.dumps(key)}: {json.dumps(draw(_json_values))}}}"
        )
    return draw(st.sampled_from(["", " ", "\n", "```json\n", "<think></think>"])), text


@given(json_objects())
def test_every_json_object_is_read_as_json_reads_it(case: tuple[str, str]) -> None:
    prefix, text = case
    assume(not (prefix.startswith("```") and "```" in text))  # a fence inside a fence is ambiguous
    try:
        obj = json.loads(text)
    except ValueError:
        assume(False)  # the appended key can land inside a nested object's comma-less opening
    p = parse_output(prefix + text, "ner", NER, None, TEXT)
    units, problems = units_from_obj(obj, "ner", NER, None, TEXT)
    assert p.ok and p.units == units
    wrapping = ("extra_text", "duplicate_key", "truncated")  # an unclosed ```json fence
    assert [q for q in p.problems if q.kind not in wrapping] == problems


# ----------------------------------------------------------------------------- four reproducers


def test_loose_re_split_ignores_case_when_no_exact_split_exists() -> None:
    text = "The office in Upper Marlboro , Md. , USA"
    p = parse_output(
        '{"Located in": "upper marlboro , md., USA"}', "re", ["Located in"], None, text
    )
    assert p.units.triples == {("Located in", "upper marlboro , md.", "USA")}
    gold = Units("re", triples=frozenset({("Located in", "Upper Marlboro , Md.", "USA")}))
    ev = Evaluator(loose_match=True)
    ev.add("d", gold, p)
    assert ev.result()["tasks"]["re"]["micro"]["relation"]["f1"] == 1.0


def test_a_cut_off_object_after_chatter_reports_truncated_and_extra_text() -> None:
    cut = ner('Sure:\n{"person": "Kevin | The')
    closed = ner('Sure:\n{"person": "Kevin | The"}')
    assert kinds(cut) == ["truncated", "extra_text"]
    assert kinds(closed) == ["extra_text"]
    assert cut.units == closed.units


@pytest.mark.parametrize(
    "text",
    [
        'Format: {"type": "entity"}\n{"person": "Kevin"}',
        'Format: {type: entity}\n{"person": "Kevin',
    ],
)
def test_an_object_without_a_schema_key_does_not_hide_the_answer(text: str) -> None:
    assert ner(text).units.pairs == {("person", "Kevin")}


@pytest.mark.parametrize(
    "text", ['{"person": "Kevin |', '{"person": "Kevin ', '{"person": "Kevin | ']
)
def test_a_value_cut_after_a_separator_or_space_loses_it(text: str) -> None:
    p = ner(text)
    assert p.units.pairs == {("person", "Kevin")}
    assert kinds(p) == ["truncated"]


# ----------------------------------------------------------------------------- the caps


def test_nesting_past_the_depth_cap_is_not_read() -> None:
    p = ner("{" * (MAX_DEPTH + 1))
    assert not p.ok and kinds(p) == ["unparseable"]
    shallow = ner("{" * MAX_DEPTH)
    assert shallow.ok and kinds(shallow) == ["truncated"]


def test_only_the_first_objects_are_considered() -> None:
    late = '{"x": "y"} ' * MAX_OBJECTS + '{"person": "Kevin"}'
    early = '{"x": "y"} ' * (MAX_OBJECTS - 1) + '{"person": "Kevin"}'
    assert ner(late).units.pairs == frozenset()
    assert ner(early).units.pairs == {("person", "Kevin")}


def test_repair_is_not_attempted_past_its_cap() -> None:
    short = "{'person': 'Kevin'}"
    long = "{'person': 'Kevin', " + "'x': 'y', " * REPAIR_MAX_CHARS + "}"
    assert kinds(ner(short)) == ["invalid_json"]
    assert kinds(ner(long)) == ["unparseable"]


def test_json_repair_alone_misreads_an_empty_object_with_a_trailing_comma() -> None:
    # Why _repair removes trailing commas first: json_repair reads "{, }" as a list.
    import json_repair

    assert json_repair.repair_json("{, }", return_objects=True) == []
    assert kinds(ner("{, }")) == ["invalid_json"]
    p = ner("{'person': 'Kevin', 'location': 'Paris',}")
    assert p.units.pairs == {("person", "Kevin"), ("location", "Paris")}
    assert kinds(p) == ["invalid_json"]
