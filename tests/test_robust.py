"""Perturbations: span-preserving edits, the rule-based types, LLM answer validation, the 14 pairs."""

from __future__ import annotations

import copy
import json
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prouie.readers import read
from prouie.records import validate_example
from prouie.robust import COMBINATIONS, Edit, RuleOptions, SpanBroken, apply_edits, rule_perturb
from prouie.robust.kinds import APPLIES_TO, parse_types
from prouie.robust.llm import Rejected, apply_answer, messages, plan, response_format
from prouie.robust.spans import spans
from prouie.targets import render_target
from prouie.units import units_from_example
from shared_data import DATA

NER = {
    "id": "n1",
    "dataset": "demo",
    "task": "ner",
    "text": "Yesterday Barack Obama visited Toronto with Michelle Obama.",
    "labels": ["person", "location"],
    "entities": [
        {"type": "person", "text": "Barack Obama"},
        {"type": "location", "text": "Toronto"},
        {"type": "person", "text": "Michelle Obama"},
    ],
}
RE = {
    "id": "r1",
    "dataset": "demo",
    "task": "re",
    "text": "The Lumière brothers were born in Besançon, a quiet French town.",
    "labels": ["born in"],
    "relations": [
        {
            "type": "born in",
            "head": {"text": "Lumière brothers", "type": "person"},
            "tail": {"text": "Besançon", "type": "location"},
        }
    ],
}
EE = {
    "id": "e1",
    "dataset": "demo",
    "task": "ee",
    "text": "After taking aspirin daily the patient developed severe gastric bleeding.",
    "labels": ["adverse event"],
    "roles": ["Treatment", "Effect"],
    "events": [
        {
            "type": "adverse event",
            "trigger": {"text": "developed"},
            "arguments": [
                {"role": "Treatment", "text": "taking aspirin daily"},
                {"role": "Effect", "text": "severe gastric bleeding"},
                {"role": "Effect", "text": "gastric bleeding"},  # nested in the one before
            ],
        }
    ],
}


def record(raw):
    return validate_example(copy.deepcopy(raw), raw["id"])


def span_texts(rec):
    return [(s.get("type") or s.get("role"), s["text"]) for s in spans(rec)]


def assert_valid_child(child, parent):
    """Every span an exact substring at its offsets; types, roles and span count unchanged."""
    again = validate_example(copy.deepcopy(child), "child")
    for s in spans(again):
        assert again["text"][s["start"] : s["end"]] == s["text"]
    assert len(list(spans(child))) == len(list(spans(parent)))
    assert [s.get("type") for s in spans(child)] == [s.get("type") for s in spans(parent)]
    assert [a["role"] for ev in child["events"] for a in ev["arguments"]] == [
        a["role"] for ev in parent["events"] for a in ev["arguments"]
    ]
    assert [r["type"] for r in child["relations"]] == [r["type"] for r in parent["relations"]]


# ----------------------------------------------------------------------------- edits


def test_edits_move_spans_and_update_the_ones_they_fall_inside():
    rec = record(EE)
    at, n = rec["text"].index("severe"), len(rec["text"])
    out = apply_edits(rec, [Edit(0, 5, "Since"), Edit(at, at + 6, "very severe"), Edit(n, n, "!")])
    assert (
        out["text"]
        == "Since taking aspirin daily the patient developed very severe gastric bleeding.!"
    )
    args = [a["text"] for a in out["events"][0]["arguments"]]
    assert args == ["taking aspirin daily", "very severe gastric bleeding", "gastric bleeding"]
    assert_valid_child(out, rec)
    assert rec["text"] == EE["text"]  # the parent is untouched


def test_insertions_at_span_boundaries_stay_outside_the_span():
    rec = record(NER)
    start, end = rec["entities"][1]["start"], rec["entities"][1]["end"]
    out = apply_edits(rec, [Edit(start, start, "<"), Edit(end, end, ">")])
    assert out["entities"][1]["text"] == "Toronto"
    assert "<Toronto>" in out["text"]


def test_an_edit_that_cuts_a_span_is_refused():
    rec = record(NER)
    with pytest.raises(SpanBroken):
        at = rec["text"].index("Obama vi")  # crosses the end of "Barack Obama"
        apply_edits(rec, [Edit(at, at + 8, "X")])
    with pytest.raises(SpanBroken):
        apply_edits(rec, [Edit(0, 5, "a"), Edit(3, 8, "b")])


# ----------------------------------------------------------------------------- kinds


def test_the_fourteen_combinations_and_the_one_left_out():
    assert len(COMBINATIONS) == 14
    assert ("ee", "lowercase") not in COMBINATIONS
    assert {t for t, _ in COMBINATIONS} == {"ner", "re", "ee"}
    assert parse_types("rule") == ["typo_injection", "lowercase"]
    with pytest.raises(ValueError, match="did you mean 'lowercase'"):
        parse_types("lowercse")


# ----------------------------------------------------------------------------- rules


@pytest.mark.parametrize("raw", [NER, RE, EE], ids=lambda r: r["task"])
def test_typos_stay_outside_spans_unless_asked(raw):
    rec = record(raw)
    out = rule_perturb(rec, "typo_injection", 3, RuleOptions(typo_rate=1.0))
    assert out is not None and out["text"] != rec["text"]
    assert span_texts(out) == span_texts(rec)
    assert_valid_child(out, rec)
    assert out["meta"]["parent_id"] == rec["id"] and out["meta"]["perturbation"] == "typo_injection"
    inside = rule_perturb(rec, "typo_injection", 3, RuleOptions(typo_rate=1.0, typo_in_spans=True))
    assert span_texts(inside) != span_texts(rec)
    assert_valid_child(inside, rec)


def test_typos_are_deterministic_for_a_seed_and_vary_with_it():
    rec = record(EE)
    runs = {seed: rule_perturb(rec, "typo_injection", seed)["text"] for seed in range(6)}
    assert runs[0] == rule_perturb(record(EE), "typo_injection", 0)["text"]
    assert len(set(runs.values())) > 1


def test_lowercase_lowers_the_gold_strings_too():
    rec = record(RE)
    out = rule_perturb(rec, "lowercase", 0)
    assert out["text"] == rec["text"].lower()
    assert out["relations"][0]["head"]["text"] == "lumière brothers"
    assert json.loads(render_target(out, "cm")) == {"born in": "lumière brothers, besançon"}


def test_a_record_with_nothing_to_change_gives_none():
    rec = record({**NER, "text": "a b c", "entities": []})
    assert rule_perturb(rec, "typo_injection", 0) is None
    assert rule_perturb(rec, "lowercase", 0) is None


_WORDS = st.text(alphabet="abcdefghijXYZéß", min_size=1, max_size=9)


@st.composite
def generated_records(draw):
    """NER records built from random words, some of them annotated."""
    words = draw(st.lists(_WORDS, min_size=1, max_size=14))
    seps = draw(st.lists(st.sampled_from([" ", ", ", " - ", "  "]), min_size=len(words)))
    text, entities = "", []
    for word, sep, marked in zip(
        words, seps, draw(st.lists(st.booleans(), min_size=len(words))), strict=False
    ):
        if marked:
            entities.append(
                {"type": "thing", "text": word, "start": len(text), "end": len(text) + len(word)}
            )
        text += word + sep
    return {
        "id": "h",
        "dataset": "h",
        "task": "ner",
        "text": text,
        "labels": ["thing"],
        "entities": entities,
    }


@given(
    generated_records(),
    st.integers(0, 50),
    st.booleans(),
    st.sampled_from(["typo_injection", "lowercase"]),
)
def test_rule_perturbations_keep_every_span_valid(raw, seed, in_spans, kind):
    rec = record(raw)
    out = rule_perturb(
        rec, kind, seed, RuleOptions(typo_rate=0.5, typo_min_length=3, typo_in_spans=in_spans)
    )
    if out is None:
        return
    assert_valid_child(out, rec)
    if kind == "typo_injection" and not in_spans:
        assert span_texts(out) == span_texts(rec)


SHARED = [
    ("conll", "wikigold/wikigold.conll.txt"),
    ("fewrel", "fewrel/val_wiki.json"),
    ("phee", "phee/test.json"),
]


@pytest.mark.parametrize(("fmt", "rel"), SHARED, ids=[s[0] for s in SHARED])
def test_rule_perturbations_are_valid_and_deterministic_on_the_real_data(fmt, rel):
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"{path} is absent: the real data sets live in ../shared/data")
    counts = Counter()
    for i, rec in enumerate(read(fmt, path)):
        for kind in ("typo_injection", "lowercase"):
            if rec["task"] not in APPLIES_TO[kind]:
                continue
            for in_spans in (False, True):
                out = rule_perturb(rec, kind, 7, RuleOptions(typo_in_spans=in_spans))
                if out is None:
                    counts[kind, "none"] += 1
                    continue
                assert_valid_child(out, rec)
                # The gold units follow the text: every unit string is found in the new text.
                units = units_from_example(out)
                assert units.task == rec["task"]
                counts[kind, "ok"] += 1
                if i % 97 == 0:  # determinism on a sample (a fresh call gives the same record)
                    assert rule_perturb(rec, kind, 7, RuleOptions(typo_in_spans=in_spans)) == out
    assert counts["typo_injection", "ok"] > 0


# ----------------------------------------------------------------------------- LLM answers


def answer(*candidates):
    return json.dumps({"candidates": list(candidates)})


def test_prompts_come_from_the_templates_and_do_not_depend_on_the_seed():
    rec = record(NER)
    p = plan(rec, "replace_entity")
    (msg,) = messages(p)
    assert p.variables["mention"] in msg["content"] and '"candidates"' in msg["content"]
    assert plan(record(NER), "replace_entity") == p
    schema = response_format("replace_entity")["json_schema"]["schema"]
    assert schema["required"] == ["candidates"]


def test_replace_entity_accepts_a_same_type_mention_and_rejects_a_type_change():
    rec = record(NER)
    p = plan(rec, "replace_entity")
    old, kind = p.variables["mention"], p.variables["type"]
    out = apply_answer(rec, p, answer({"mention": "Zed Quill", "type": kind}), random.Random(0))
    assert_valid_child(out, rec)
    assert "Zed Quill" in out["text"] and old not in out["text"]
    assert ("Zed Quill", kind) in {(e["text"], e["type"]) for e in out["entities"]}
    with pytest.raises(Rejected, match="type changed"):
        apply_answer(rec, p, answer({"mention": "Zed", "type": "organization"}), random.Random(0))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Sure! Here you go: Zed", "not JSON"),
        ('{"answer": "Zed"}', "wrong shape"),
        ('{"candidates": [{"mention": "Zed"}]}', "wrong shape"),
        ('{"candidates": [{"mention": "Zed\\nQuill", "type": "TYPE"}]}', "bad mention"),
        ('{"candidates": [{"mention": "OLD", "type": "TYPE"}]}', "unchanged"),
        (
            '{"candidates": [{"mention": "Zed | Quill", "type": "TYPE"}]}',
            "breaks the target format",
        ),
    ],
)
def test_malformed_answers_are_rejected_with_a_reason(text, reason):
    rec = record(NER)
    p = plan(rec, "replace_entity")
    text = text.replace("TYPE", p.variables["type"]).replace("OLD", p.variables["mention"])
    with pytest.raises(Rejected) as info:
        apply_answer(rec, p, text, random.Random(0))
    assert info.value.reason == reason


def test_a_code_fence_around_the_json_is_accepted():
    rec = record(EE)
    p = plan(rec, "replace_trigger")
    text = "```json\n" + answer({"trigger": "suffered", "event_type": "adverse event"}) + "\n```"
    out = apply_answer(rec, p, text, random.Random(0))
    assert out["events"][0]["trigger"]["text"] == "suffered"
    assert_valid_child(out, rec)


def test_replace_triple_replaces_both_arguments():
    rec = record(RE)
    p = plan(rec, "replace_triple")
    out = apply_answer(
        rec,
        p,
        answer({"head": "Marie Curie", "tail": "Warsaw", "relation": "born in"}),
        random.Random(0),
    )
    r = out["relations"][0]
    assert (r["head"]["text"], r["tail"]["text"]) == ("Marie Curie", "Warsaw")
    assert_valid_child(out, rec)
    with pytest.raises(Rejected, match="unchanged"):
        apply_answer(
            rec,
            p,
            answer({"head": "Marie Curie", "tail": "Besançon", "relation": "born in"}),
            random.Random(0),
        )


def test_change_context_masks_only_unannotated_words_and_picks_by_seed():
    rec = record(NER)
    p = plan(rec, "change_context")
    assert 1 <= p.variables["masks"] <= 4
    assert p.variables["masked"].count("[MASK") == p.variables["masks"]
    gold = {e["text"] for e in rec["entities"]}
    assert all(g in p.variables["masked"] for g in gold)
    words = [["alpha", "beta", "gamma"] for _ in p.targets]
    picks = {apply_answer(rec, p, answer(*words), random.Random(s))["text"] for s in range(8)}
    assert len(picks) > 1
    for text in picks:
        assert all(g in text for g in gold)
    with pytest.raises(Rejected, match="wrong shape"):
        apply_answer(rec, p, answer(*words[:-1]), random.Random(0))
    with pytest.raises(Rejected, match="bad mention"):
        apply_answer(rec, p, answer(*([["Toronto"]] * len(p.targets))), random.Random(0))


def test_extend_sentence_keeps_the_original_verbatim_and_adds_no_gold_mention():
    rec = record(EE)
    p = plan(rec, "extend_sentence")
    good = "The study ran for two years. " + rec["text"] + " It was reported later."
    out = apply_answer(rec, p, answer(good), random.Random(0))
    assert out["text"] == good
    assert span_texts(out) == span_texts(rec)
    assert_valid_child(out, rec)
    with pytest.raises(Rejected, match="original sentence not kept"):
        apply_answer(
            rec, p, answer(rec["text"].replace("patient", "man") + " Then more."), random.Random(0)
        )
    with pytest.raises(Rejected, match="repeats a gold mention"):
        apply_answer(rec, p, answer(rec["text"] + " The developed world."), random.Random(0))
    # One valid candidate among bad ones is enough.
    assert apply_answer(rec, p, answer("nope", good), random.Random(0))["text"] == good


def test_no_request_is_planned_for_a_target_that_would_cut_another_span():
    raw = copy.deepcopy(EE)
    raw["events"][0]["trigger"] = {"text": "patient developed"}
    raw["events"][0]["arguments"].append({"role": "Treatment", "text": "the patient"})
    rec = record(raw)
    assert plan(rec, "replace_trigger") is None  # "patient" is the end of an argument
    assert plan(record(EE), "replace_trigger") is not None


@given(generated_records(), st.data())
def test_any_edits_either_keep_every_span_valid_or_are_refused(raw, data):
    rec = record(raw)
    n = len(rec["text"])
    edits = []
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, n))
        end = data.draw(st.integers(start, min(n, start + 6)))
        edits.append(Edit(start, end, data.draw(st.text(alphabet="qrs é", max_size=5))))
    try:
        out = apply_edits(rec, edits)
    except SpanBroken:
        return
    assert_valid_child(out, rec)
    # A span no edit touched keeps its text; the text outside the edits is unchanged.
    for old, new in zip(spans(rec), spans(out), strict=True):
        if all(e.end <= old["start"] or e.start >= old["end"] for e in edits):
            assert new["text"] == old["text"]
