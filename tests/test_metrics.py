"""Metrics: hand-computed RE/EE/slot cases, edge cases, and agreement with seqeval on NER."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prouie.metrics import (
    Counts,
    Evaluator,
    loose,
    prf,
    sentence_counts,
    slot_matches,
    unit_sets,
)
from prouie.parsing import Parsed, parse_output
from prouie.units import Units, units_from_example
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities
from shared_data import shared_file

TOL = 1e-9


def score(records: list[dict], outputs: list[str], *, loose_match: bool = False) -> dict:
    ev = Evaluator(loose_match=loose_match)
    for rec, out in zip(records, outputs, strict=True):
        parsed = parse_output(out, rec["task"], rec["labels"], rec.get("roles"), rec["text"])
        ev.add(rec.get("dataset", "d"), units_from_example(rec), parsed)
    return ev.result()


def scores_of(result: dict, task: str, dataset: str = "d") -> dict:
    return result["tasks"][task]["datasets"][dataset]["scores"]


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL


def rel(t: str, h: str, a: str) -> dict:
    return {"type": t, "head": {"text": h}, "tail": {"text": a}}


# ----------------------------------------------------------------------------- hand-computed


def test_prf_definitions() -> None:
    assert prf(0, 0, 0) == (0.0, 0.0, 0.0)
    assert prf(0, 3, 0) == (0.0, 0.0, 0.0)
    assert prf(2, 2, 4) == (1.0, 0.5, 2 * 2 / 6)
    p, r, f = prf(3, 7, 5)
    assert close(f, 2 * p * r / (p + r))


def test_re_hand_computed() -> None:
    labels = ["work for", "live in"]
    recs = [
        {
            "task": "re",
            "labels": labels,
            "text": "Ann of ACME lives in Paris; Bob too",
            "relations": [rel("work for", "Ann", "ACME"), rel("live in", "Ann", "Paris")],
        },
        {"task": "re", "labels": labels, "text": "Bob of ACME", "relations": []},
        {
            "task": "re",
            "labels": labels,
            "text": "Ann of ACME lives in Paris",
            "relations": [rel("work for", "Ann", "ACME"), rel("live in", "Ann", "Paris")],
        },
    ]
    outs = [
        # one right, one with the wrong head; the duplicate pair counts once (set semantics)
        '{"work for": "Ann, ACME | Bob, ACME | Bob, ACME", "live in": ""}',
        '{"work for": "Bob, ACME"}',  # gold is empty: a false positive
        "I found no relations.",  # unparseable: two false negatives
    ]
    s = scores_of(score(recs, outs), "re")["relation"]
    assert (s["tp"], s["pred"], s["gold"]) == (1, 3, 4)
    assert close(s["precision"], 1 / 3)
    assert close(s["recall"], 1 / 4)
    assert close(s["f1"], 2 * (1 / 3) * (1 / 4) / (1 / 3 + 1 / 4))


def test_re_head_and_tail_order_matters() -> None:
    rec = {
        "task": "re",
        "labels": ["work for"],
        "text": "Ann ACME",
        "relations": [rel("work for", "Ann", "ACME")],
    }
    s = scores_of(score([rec], ['{"work for": "ACME, Ann"}']), "re")["relation"]
    assert (s["tp"], s["pred"], s["gold"]) == (0, 1, 1)


EE_LABELS = ["adverse event", "potential therapeutic event"]
EE_ROLES = ["Subject", "Effect", "Treatment"]


def ev_(t: str, trig: str, args: list[tuple[str, str]]) -> dict:
    return {
        "type": t,
        "trigger": {"text": trig},
        "arguments": [{"role": r, "text": a} for r, a in args],
    }


def test_ee_hand_computed() -> None:
    text1 = "the patient was given IL-2, took it and developed a rash and fever"
    recs = [
        {
            "task": "ee",
            "labels": EE_LABELS,
            "roles": EE_ROLES,
            "text": text1,
            "events": [
                ev_("adverse event", "developed", [("Subject", "patient"), ("Effect", "a rash")]),
                ev_("adverse event", "given", [("Treatment", "IL-2")]),
            ],
        },
        {
            "task": "ee",
            "labels": EE_LABELS,
            "roles": EE_ROLES,
            "text": "she improved",
            "events": [ev_("potential therapeutic event", "improved", [("Subject", "she")])],
        },
        {"task": "ee", "labels": EE_LABELS, "roles": EE_ROLES, "text": "x and y", "events": []},
    ]
    outs = [
        # trigger "took" is wrong, but its argument (adverse event, Treatment, IL-2) is right:
        # argument F1 matches (event type, role, argument), whatever the trigger.
        '{"adverse event": "developed: Subject: patient; Effect: fever | took: Treatment: IL-2"}',
        "{}",
        '{"adverse event": "x: Subject: y"}',
    ]
    s = scores_of(score(recs, outs), "ee")
    assert (s["trigger"]["tp"], s["trigger"]["pred"], s["trigger"]["gold"]) == (1, 3, 3)
    assert (s["argument"]["tp"], s["argument"]["pred"], s["argument"]["gold"]) == (2, 4, 4)
    assert close(s["trigger"]["f1"], 1 / 3)
    assert close(s["argument"]["precision"], 0.5)
    assert close(s["argument"]["recall"], 0.5)
    assert close(s["argument"]["f1"], 0.5)


def test_ee_arguments_of_one_type_are_a_set_across_triggers() -> None:
    rec = {
        "task": "ee",
        "labels": EE_LABELS,
        "roles": EE_ROLES,
        "text": "a b c",
        "events": [
            ev_("adverse event", "a", [("Subject", "c")]),
            ev_("adverse event", "b", [("Subject", "c")]),
        ],
    }
    gold = units_from_example(rec)
    assert gold.arguments == {("adverse event", "Subject", "c")}
    c = sentence_counts(
        gold, parse_output('{"adverse event": "a: Subject: c"}', "ee", EE_LABELS, EE_ROLES).units
    )
    assert (c["trigger"].tp, c["trigger"].pred, c["trigger"].gold) == (1, 1, 2)
    assert (c["argument"].tp, c["argument"].pred, c["argument"].gold) == (1, 1, 1)


def test_ner_duplicates_and_empty_cases() -> None:
    labels = ["person", "location"]
    recs = [
        # the same string annotated twice in one sentence is one unit
        {
            "task": "ner",
            "labels": labels,
            "text": "Ann met Ann",
            "entities": [
                {"type": "person", "text": "Ann", "start": 0, "end": 3},
                {"type": "person", "text": "Ann", "start": 8, "end": 11},
            ],
        },
        {"task": "ner", "labels": labels, "text": "nothing here", "entities": []},
        {
            "task": "ner",
            "labels": labels,
            "text": "Paris",
            "entities": [{"type": "location", "text": "Paris"}],
        },
    ]
    outs = ['{"person": "Ann | Ann"}', '{"person": "", "location": ""}', '{"location": ""}']
    s = scores_of(score(recs, outs), "ner")["entity"]
    assert (s["tp"], s["pred"], s["gold"]) == (1, 1, 2)
    assert close(s["precision"], 1.0) and close(s["recall"], 0.5) and close(s["f1"], 2 / 3)


def test_everything_empty_scores_zero_with_zero_counts() -> None:
    rec = {"task": "ner", "labels": ["person"], "text": "x", "entities": []}
    s = scores_of(score([rec], ['{"person": ""}']), "ner")["entity"]
    assert s == {"tp": 0, "pred": 0, "gold": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_type_must_match() -> None:
    g = Units("ner", pairs=frozenset({("person", "Paris")}))
    p = Units("ner", pairs=frozenset({("location", "Paris")}))
    assert sentence_counts(g, p)["entity"] == Counts(0, 1, 1)


def test_strict_vs_loose_matching() -> None:
    rec = {
        "task": "ner",
        "labels": ["location"],
        "text": "New  York and new york",
        "entities": [{"type": "location", "text": "New  York", "start": 0, "end": 9}],
    }
    out = ['{"location": "new york"}']
    assert scores_of(score([rec], out), "ner")["entity"]["tp"] == 0
    assert scores_of(score([rec], out, loose_match=True), "ner")["entity"]["tp"] == 1
    assert loose("  New \t YORK\n") == "new york"
    # loose matching merges units that only differ by case: sets shrink accordingly
    u = Units("ner", pairs=frozenset({("location", "Paris"), ("location", "PARIS")}))
    assert len(unit_sets(u, loose_match=True)["entity"]) == 1


def test_slot_exact_acc() -> None:
    labels = ["body", "action", "location"]
    recs = [
        {
            "task": "slot",
            "labels": labels,
            "text": "buy a phone in Paris",
            "entities": [
                {"type": "body", "text": "phone"},
                {"type": "action", "text": "buy"},
                {"type": "location", "text": "Paris"},
            ],
        },
        {
            "task": "slot",
            "labels": labels,
            "text": "cheap flights",
            "entities": [{"type": "body", "text": "flights"}],
        },
        {
            "task": "slot",
            "labels": labels,
            "text": "weather",
            "entities": [{"type": "body", "text": "weather"}],
        },
    ]
    outs = [
        # surrounding whitespace is trimmed; case is not (strict)
        '{"body": " phone ", "action": "Buy", "location": "Paris"}',
        '{"body": "flights"}',  # missing slots are empty: both right
        "not json",  # unreadable: every slot wrong, empty ones included
    ]
    res = score(recs, outs)
    d = res["tasks"]["slot"]["datasets"]["d"]
    assert d["scores"]["exact_acc"] == {"correct": 5, "total": 9, "accuracy": 5 / 9}
    assert d["per_slot"]["body"] == {"correct": 2, "total": 3, "accuracy": 2 / 3}
    assert d["per_slot"]["action"]["correct"] == 1
    assert d["per_slot"]["location"]["correct"] == 2
    loose_res = score(recs, outs, loose_match=True)
    assert loose_res["tasks"]["slot"]["datasets"]["d"]["per_slot"]["action"]["correct"] == 2


def test_slot_matches_direct() -> None:
    g = Units("slot", slots=(("a", "x"), ("b", "")))
    assert slot_matches(g, Units("slot", slots=(("a", "x"), ("b", "")))) == [
        ("a", True),
        ("b", True),
    ]
    assert slot_matches(g, Units("slot"), ok=False) == [("a", False), ("b", False)]


def test_average_row_is_the_mean_of_dataset_scores_and_micro_sums_counts() -> None:
    labels = ["person"]
    recs = [
        {
            "task": "ner",
            "dataset": "A",
            "labels": labels,
            "text": "Ann Bob",
            "entities": [{"type": "person", "text": "Ann"}, {"type": "person", "text": "Bob"}],
        },
        {
            "task": "ner",
            "dataset": "B",
            "labels": labels,
            "text": "Cy",
            "entities": [{"type": "person", "text": "Cy"}],
        },
    ]
    res = score(recs, ['{"person": "Ann"}', '{"person": "Cy"}'])
    t = res["tasks"]["ner"]
    assert close(t["datasets"]["A"]["scores"]["entity"]["f1"], 2 / 3)
    assert close(t["datasets"]["B"]["scores"]["entity"]["f1"], 1.0)
    assert close(t["average"]["entity"]["f1"], (2 / 3 + 1) / 2)
    assert close(t["average"]["entity"]["recall"], (0.5 + 1) / 2)
    assert (
        t["micro"]["entity"]["tp"],
        t["micro"]["entity"]["pred"],
        t["micro"]["entity"]["gold"],
    ) == (2, 2, 3)
    assert close(t["micro"]["entity"]["f1"], 4 / 5)


def test_tasks_mixed_in_one_evaluation_are_scored_apart() -> None:
    recs = [
        {
            "task": "ner",
            "labels": ["person"],
            "text": "Ann",
            "entities": [{"type": "person", "text": "Ann"}],
        },
        {
            "task": "re",
            "labels": ["work for"],
            "text": "Ann ACME",
            "relations": [rel("work for", "Ann", "ACME")],
        },
    ]
    res = score(recs, ['{"person": "Ann"}', '{"work for": "Ann, ACME"}'])
    assert list(res["tasks"]) == ["ner", "re"]
    assert scores_of(res, "ner")["entity"]["f1"] == 1.0
    assert scores_of(res, "re")["relation"]["f1"] == 1.0


def test_problem_taxonomy_counts_outputs() -> None:
    rec = {
        "task": "ner",
        "labels": ["person"],
        "text": "Ann",
        "entities": [{"type": "person", "text": "Ann"}],
    }
    res = score(
        [rec] * 4,
        ['{"person": "Ann"}', '{"person": "Bob | Bob"}', "nope", '```json\n{"person": "Ann"}\n```'],
    )
    d = res["tasks"]["ner"]["datasets"]["d"]
    assert d["n"] == 4 and d["unparseable"] == 1 and d["outputs_with_problems"] == 3
    assert d["outputs_with"] == {
        "duplicate_value": 1,
        "not_substring": 1,
        "unparseable": 1,
        "extra_text": 1,
    }
    assert d["problems"]["not_substring"] == 1


# ----------------------------------------------------------------------------- seqeval agreement
#
# seqeval scores chunks by position; our NER metric scores the set of (type, string) per sentence.
# The two coincide on a sentence when no two distinct chunks among its gold and predicted ones have
# the same string (then position <-> string is one-to-one and no set collapses a duplicate). The
# comparison perturbs gold chunks at the chunk level (drop, retype, move a boundary, add a spurious
# one), writes the predictions both as BIO tags for seqeval and as our JSON output for the parser,
# keeps the sentences where the definitions coincide, and compares micro P/R/F1.


def _perturb(
    rng: random.Random, tokens: list[str], gold: list[tuple[str, int, int]], types: list[str]
) -> list[tuple[str, int, int]]:
    taken = {i for _, s, e in gold for i in range(s, e + 1)}
    pred = []
    for t, s, e in gold:
        r = rng.random()
        if r < 0.15:
            continue
        if r < 0.25:
            t = rng.choice([x for x in types if x != t])
        elif r < 0.33 and e > s:
            e -= 1
        elif r < 0.40 and e + 1 < len(tokens) and e + 1 not in taken:
            e += 1
            taken.add(e)
        pred.append((t, s, e))
    if rng.random() < 0.3:
        free = [i for i in range(len(tokens)) if i not in taken]
        if free:
            i = rng.choice(free)
            pred.append((rng.choice(types), i, i))
    return sorted(pred, key=lambda x: x[1])


def _iob2(n: int, chunks: list[tuple[str, int, int]]) -> list[str]:
    tags = ["O"] * n
    for t, s, e in chunks:
        tags[s] = f"B-{t}"
        for i in range(s + 1, e + 1):
            tags[i] = f"I-{t}"
    return tags


def _compare_with_seqeval(
    sentences: list[tuple[list[str], list[str]]], seed: int
) -> tuple[int, float]:
    rng = random.Random(seed)
    types = sorted({tag[2:] for _, tags in sentences for tag in tags if tag != "O"})
    y_true, y_pred, recs, outs = [], [], [], []
    for tokens, tags in sentences:
        gold = get_entities(tags)  # IOB1/IOB2 chunks, (type, start, end inclusive)
        pred = _perturb(rng, tokens, gold, types)
        positions = {(s, e) for _, s, e in gold + pred}
        strings = {" ".join(tokens[s : e + 1]) for s, e in positions}
        if len(strings) != len(positions) or any(" | " in x for x in strings):
            continue  # the two definitions differ on this sentence (see above)
        text = " ".join(tokens)
        rec = {
            "task": "ner",
            "labels": types,
            "text": text,
            "entities": [{"type": t, "text": " ".join(tokens[s : e + 1])} for t, s, e in gold],
        }
        obj: dict[str, list[str]] = {}
        for t, s, e in pred:
            obj.setdefault(t, []).append(" ".join(tokens[s : e + 1]))
        recs.append(rec)
        outs.append(json.dumps({t: " | ".join(v) for t, v in obj.items()}, ensure_ascii=False))
        y_true.append(tags)
        y_pred.append(_iob2(len(tokens), pred))
    s = scores_of(score(recs, outs), "ner")["entity"]
    assert close(s["precision"], precision_score(y_true, y_pred))
    assert close(s["recall"], recall_score(y_true, y_pred))
    assert close(s["f1"], f1_score(y_true, y_pred))
    return len(recs), s["f1"]


def _conll(path) -> list[tuple[list[str], list[str]]]:
    sentences, tokens, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if tokens:
                sentences.append((tokens, tags))
            tokens, tags = [], []
            continue
        tokens.append(parts[0])
        tags.append(parts[-1])
    if tokens:
        sentences.append((tokens, tags))
    return sentences


def test_ner_f1_agrees_with_seqeval_on_wikigold() -> None:
    sentences = _conll(shared_file("wikigold/wikigold.conll.txt"))
    assert len(sentences) > 1500
    kept, f1 = _compare_with_seqeval(sentences, seed=13)
    # most sentences qualify, and the perturbation leaves a score far from trivial
    assert kept > 0.8 * len(sentences)
    assert 0.5 < f1 < 0.95


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ner_f1_agrees_with_seqeval_on_synthetic_tags(seed: int) -> None:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    sentences = []
    for _ in range(400):
        tokens = rng.sample(vocab, rng.randint(3, 25))
        tags = []
        for _ in tokens:
            r = rng.random()
            t = rng.choice(["PER", "ORG", "LOC"])
            tags.append("O" if r < 0.6 else (f"B-{t}" if r < 0.8 else f"I-{t}"))
        sentences.append((tokens, tags))
    kept, f1 = _compare_with_seqeval(sentences, seed=seed)
    assert kept == len(sentences)  # distinct tokens: every sentence qualifies
    assert 0.3 < f1 < 0.95


# Evaluator.add sums sentence_counts, which goes through unit_sets and the Units properties: the
# sums must follow the unit definitions on any units, repeated event types and shared pairs too.
_s = st.sampled_from(["a", "b", "c"])
_ee_groups = st.frozensets(
    st.tuples(_s, _s, st.frozensets(st.tuples(_s, _s), max_size=3)), max_size=4
)


@given(
    _ee_groups,
    _ee_groups,
    st.frozensets(st.tuples(_s, _s, _s), max_size=4),
    st.frozensets(st.tuples(_s, _s, _s), max_size=4),
)
def test_evaluator_counts_follow_the_unit_definitions(gg, pg, gr, pr) -> None:
    def counts(gold: set, pred: set) -> Counts:
        return Counts(len(gold & pred), len(pred), len(gold))

    def args(groups: frozenset) -> set:
        return {(e, r, a) for e, _, pairs in groups for r, a in pairs}

    ev = Evaluator()
    ev.add("d", Units("ee", groups=gg), Parsed(Units("ee", groups=pg), [], True))
    ev.add("d", Units("re", triples=gr), Parsed(Units("re", triples=pr), [], True))
    got = ev.scores
    assert got["ee"]["d"].counts["argument"] == counts(args(gg), args(pg))
    triggers = counts({(e, t) for e, t, _ in gg}, {(e, t) for e, t, _ in pg})
    assert got["ee"]["d"].counts["trigger"] == triggers
    assert got["re"]["d"].counts["relation"] == counts(set(gr), set(pr))
