"""SFR (paper Eqs. 2-10, Appendix A.3): every term of every task against hand-computed values."""

from __future__ import annotations

import itertools
import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prouie import sfr
from prouie.sfr import (
    EEWeights,
    GroundTruthError,
    NERWeights,
    REWeights,
    SFRConfig,
    aligned_argument_f1,
    config_from_kwargs,
    cov,
    decode_ground_truth,
    delta,
    djac,
    encode_ground_truth,
    f1,
    measures,
    score_response,
    score_units,
    sub_score_keys,
)
from prouie.sfr.scorers import unparseable_reward
from prouie.units import Units

approx = pytest.approx


def ner(*pairs: tuple[str, str]) -> Units:
    p = frozenset(pairs)
    return Units("ner", types=frozenset(t for t, _ in p), pairs=p)


def re_(*triples: tuple[str, str, str]) -> Units:
    r = frozenset(triples)
    return Units("re", types=frozenset(t for t, _, _ in r), triples=r)


def ee(*groups: tuple[str, str, dict[str, str] | list[tuple[str, str]]]) -> Units:
    gs = frozenset((e, t, frozenset(a.items() if isinstance(a, dict) else a)) for e, t, a in groups)
    return Units("ee", types=frozenset(e for e, _, _ in gs), groups=gs)


# ----------------------------------------------------------------------------- defaults


def test_defaults_are_appendix_a3() -> None:
    # Appendix A.3, "SFR hyperparameters"; gamma_EE is not given there (documented choice: 1.0).
    assert NERWeights().model_dump() == {
        "w_t": 0.2,
        "w_p": 0.8,
        "gamma": 1.5,
        "lambda_t": 0.6,
        "lambda_p": 0.2,
    }
    assert REWeights().model_dump() == {
        "w_t": 0.05,
        "w_h": 0.10,
        "w_a": 0.10,
        "w_r": 0.75,
        "gamma": 1.3,
        "lambda_t": 0.15,
        "lambda_r": 0.25,
    }
    assert EEWeights().model_dump() == {
        "w_e": 0.05,
        "w_t": 0.15,
        "w_f": 0.8,
        "gamma": 1.0,
        "lambda_e": 1.0,
        "lambda_t": 0.5,
        "lambda_f": 0.3,
    }
    cfg = SFRConfig()
    assert (cfg.variant, cfg.clip, cfg.clip_range, cfg.perfect_empty) == (
        "sfr",
        True,
        (0.0, 1.0),
        False,
    )
    assert cfg.unparseable_score is None


# ----------------------------------------------------------------------------- set measures


def test_set_measures_eqs_3_to_6() -> None:
    g, p = frozenset("abc"), frozenset("bd")
    assert cov(g, p) == approx(1 / 3)  # |{b}| / 3
    assert f1(g, p) == approx(2 * 1 / 5)
    assert delta(g, p) == approx(3 / 3)  # {a, c, d} / 3
    assert djac(g, p) == approx(1 - 1 / 4)  # 1 - |{b}| / |{a, b, c, d}|


def test_set_measures_on_empty_sets_follow_the_max_one_guards() -> None:
    e, x = frozenset(), frozenset({"x"})
    assert cov(e, e) == 0.0 and cov(e, x) == 0.0  # 0 / max(1, 0)
    assert f1(e, e) == 1.0  # undefined in Eq. 4: an empty answer to an empty gold is right
    assert f1(e, x) == 0.0 and f1(x, e) == 0.0
    assert delta(e, e) == 0.0 and delta(e, frozenset("xy")) == 2.0  # |P| / max(1, 0)
    assert djac(e, e) == 1.0  # 1 - 0 / max(1, 0): the paper's formula
    assert cov(e, e, perfect_empty=True) == 1.0
    assert djac(e, e, perfect_empty=True) == 0.0
    assert cov(e, x, perfect_empty=True) == 0.0  # only "both empty" changes


# ----------------------------------------------------------------------------- NER (Eq. 7)


NER_GOLD = ner(("person", "Kevin"), ("person", "Therese"), ("location", "Paris"))


def test_ner_every_term() -> None:
    pred = ner(("person", "Kevin"), ("person", "Therese"))
    r = score_units(NER_GOLD, pred)
    t = r.terms
    assert t["cov_t"] == approx(1 / 2)  # {person} of {person, location}
    assert t["f1_p"] == approx(2 * 2 / (3 + 2))
    assert t["delta_t"] == approx(1 / 2)  # {location}
    assert t["delta_p"] == approx(1 / 3)  # {Paris}
    assert t["coarse"] == approx(0.2 * 0.5)
    assert t["fine"] == approx(0.8 * 0.8**1.5)
    assert t["penalty"] == approx(0.6 * 0.5 + 0.2 / 3)
    expected = 0.2 * 0.5 + 0.8 * 0.8**1.5 - 0.6 * 0.5 - 0.2 / 3  # = 0.30577
    assert r.score == approx(expected) and t["raw"] == approx(expected)
    assert r.score == approx(0.3057667, abs=1e-6)


def test_ner_wrong_type_and_spurious_entity_clip_to_zero() -> None:
    pred = ner(("person", "Kevin"), ("organization", "ACME"))
    r = score_units(NER_GOLD, pred)
    # cov 1/2, f1 2/5, Delta_T {location, organization}/2 = 1, Delta_P {Therese, Paris, ACME}/3 = 1
    raw = 0.2 * 0.5 + 0.8 * 0.4**1.5 - 0.6 * 1.0 - 0.2 * 1.0
    assert r.terms["raw"] == approx(raw) and raw < 0
    assert r.score == 0.0


def test_ner_perfect_is_one() -> None:
    assert score_units(NER_GOLD, NER_GOLD).score == 1.0


# ----------------------------------------------------------------------------- RE (Eq. 8)


RE_GOLD = re_(("used for", "surface", "algorithm"), ("part of", "wheel", "car"))


def test_re_every_term() -> None:
    pred = re_(("used for", "surface", "algorithm"), ("used for", "car", "wheel"))
    r = score_units(RE_GOLD, pred)
    t = r.terms
    assert t["cov_t"] == approx(1 / 2)
    # H_g = {(used for, surface), (part of, wheel)}, H_p = {(used for, surface), (used for, car)}
    assert t["f1_h"] == approx(2 * 1 / 4)
    # A_g = {(used for, algorithm), (part of, car)}, A_p = {(used for, algorithm), (used for, wheel)}
    assert t["f1_a"] == approx(2 * 1 / 4)
    assert t["f1_r"] == approx(2 * 1 / 4)
    assert t["djac_t"] == approx(1 - 1 / 2)  # types: 1 shared of {used for, part of}
    assert t["djac_r"] == approx(1 - 1 / 3)  # triples: 1 shared of 3 distinct
    expected = 0.05 * 0.5 + 0.10 * 0.5 + 0.10 * 0.5 + 0.75 * 0.5**1.3 - 0.15 * 0.5 - 0.25 * (2 / 3)
    assert r.score == approx(expected)
    assert r.score == approx(0.1879279, abs=1e-6)
    assert t["penalty"] == approx(0.15 * 0.5 + 0.25 * (2 / 3))


def test_re_head_and_tail_f1_reward_a_half_right_triple() -> None:
    gold = re_(("used for", "hand-crafted rules", "basic syntactic knowledge"))
    # The paper's Figure 9: CM/SA get the tail span wrong, DE fixes it.
    pred = re_(("used for", "hand-crafted rules", "syntactic knowledge"))
    t = score_units(gold, pred).terms
    assert (t["f1_h"], t["f1_a"], t["f1_r"]) == (1.0, 0.0, 0.0)
    assert t["djac_r"] == 1.0 and t["djac_t"] == 0.0
    assert t["raw"] == approx(0.05 + 0.10 - 0.25)


# ----------------------------------------------------------------------------- EE (Eqs. 9-10)


EE_GOLD = ee(
    ("attack", "fired", {"attacker": "soldiers", "target": "crowd"}),
    ("attack", "shot", {"victim": "man"}),
    ("transport", "moved", {"artifact": "troops"}),
)


def test_ee_every_term_with_event_mismatch_branch() -> None:
    pred = ee(
        ("attack", "fired", {"attacker": "soldiers", "victim": "man"}),
        ("attack", "hit", {"target": "crowd"}),
    )
    r = score_units(EE_GOLD, pred)
    t = r.terms
    assert t["cov_e"] == approx(1 / 2)  # {attack} of {attack, transport}
    assert t["cov_t"] == approx(1 / 3)  # (attack, fired) of three gold triggers
    # attack groups: overlaps fired-fired 1, fired-hit 1, shot-fired 1, shot-hit 0; the best
    # one-to-one matching (fired-hit, shot-fired) overlaps 2; 4 gold and 3 predicted pairs.
    assert t["f_full"] == approx(2 * 2 / (4 + 3))
    assert t["delta_e"] == approx(1 / 2)
    assert t["delta_t"] == approx(3 / 3)  # {shot, moved, hit} / 3
    assert t["penalty"] == approx(1.0 * 0.5)  # delta_E > 0: only lambda_E delta_E
    expected = 0.05 * 0.5 + 0.15 / 3 + 0.8 * (4 / 7) - 0.5
    assert r.score == approx(expected)
    assert r.score == approx(0.0321429, abs=1e-6)


def test_ee_trigger_mismatch_branch() -> None:
    gold = ee(("attack", "fired", {"attacker": "soldiers"}), ("attack", "shot", {"victim": "man"}))
    pred = ee(("attack", "fired", {"attacker": "soldiers", "victim": "man"}))
    t = score_units(gold, pred).terms
    assert t["delta_e"] == 0.0 and t["delta_t"] == approx(1 / 2)
    assert t["f_full"] == approx(2 * 1 / (2 + 2))  # one group matched, overlap 1
    assert t["penalty"] == approx(0.5 * 0.5)  # lambda_T delta_T, no fine penalty
    assert t["raw"] == approx(0.05 * 1 + 0.15 * 0.5 + 0.8 * 0.5 - 0.25)


def test_ee_residual_fine_branch() -> None:
    gold = ee(("attack", "fired", {"attacker": "soldiers", "target": "crowd"}))
    pred = ee(("attack", "fired", {"attacker": "soldiers", "target": "the crowd"}))
    t = score_units(gold, pred).terms
    assert t["delta_e"] == 0.0 and t["delta_t"] == 0.0
    assert t["f_full"] == approx(2 * 1 / 4)
    assert t["penalty"] == approx(0.3 * (1 - 0.5))
    assert t["raw"] == approx(0.05 + 0.15 + 0.8 * 0.5 - 0.15)


def test_ee_gamma_stretches_only_the_reward_term() -> None:
    gold = ee(("attack", "fired", {"attacker": "soldiers", "target": "crowd"}))
    pred = ee(("attack", "fired", {"attacker": "soldiers"}))
    cfg = SFRConfig(ee=EEWeights(gamma=2.0))
    t = score_units(gold, pred, cfg).terms
    f = 2 * 1 / 3
    assert t["fine"] == approx(0.8 * f**2)
    assert t["penalty"] == approx(0.3 * (1 - f))  # Eq. 9 uses F_full, not the stretched value


def test_aligned_f1_matches_groups_one_to_one_by_maximum_overlap() -> None:
    # Taking one largest overlap first (g1-p1, 2) leaves g2 with p2 (0): overlap 2. The maximum
    # one-to-one matching pairs g1-p2 (1) and g2-p1 (2): overlap 3.
    gold = ee(("e", "g1", {"a": "1", "b": "2", "c": "3"}), ("e", "g2", {"a": "1", "b": "2"}))
    pred = ee(("e", "p1", {"a": "1", "b": "2"}), ("e", "p2", {"c": "3"}))
    assert aligned_argument_f1(gold, pred) == approx(2 * 3 / (5 + 3))
    # A predicted group cannot serve two gold groups.
    one = ee(("e", "p", {"a": "1", "b": "2", "c": "3"}))
    assert aligned_argument_f1(gold, one) == approx(2 * 3 / (5 + 3))
    # Groups only match within the same event type.
    other = ee(("f", "g1", {"a": "1", "b": "2", "c": "3"}))
    assert aligned_argument_f1(gold, other) == 0.0


def test_aligned_f1_without_any_argument_is_one() -> None:
    assert aligned_argument_f1(ee(("e", "t", {})), ee()) == 1.0


def test_greedy_fallback_beyond_the_exact_matching_limit() -> None:
    n = measures.EXACT_MATCHING_LIMIT + 1
    gold = [frozenset({("r", str(i))}) for i in range(n)]
    pred = [frozenset({("r", str(i))}) for i in range(n)]
    assert measures.max_overlap(gold, pred) == n
    # Largest overlap first takes (0, 0) = 3 and is left with (1, 1) = 0; the optimum is 2 + 2.
    assert measures.greedy_overlap([[3, 2], [2, 0]]) == 3
    g = [frozenset({("r", "1"), ("r", "2"), ("r", "3")}), frozenset({("r", "4"), ("r", "5")})]
    p = [
        frozenset({("r", "1"), ("r", "2"), ("r", "3"), ("r", "4")}),
        frozenset({("r", "5"), ("r", "1")}),
    ]
    assert measures.max_overlap(g, p) == 4


_arg_sets = st.lists(
    st.frozensets(st.tuples(st.sampled_from("rs"), st.sampled_from("abcd")), max_size=4),
    min_size=1,
    max_size=4,
)


@settings(deadline=None)
@given(_arg_sets, _arg_sets)
def test_max_overlap_is_the_best_one_to_one_matching(gold: list, pred: list) -> None:
    # Brute force over every one-to-one matching of the smaller side into the larger.
    small, large = (gold, pred) if len(gold) <= len(pred) else (pred, gold)
    best = max(
        sum(len(g & large[j]) for g, j in zip(small, perm, strict=True))
        for perm in itertools.permutations(range(len(large)), len(small))
    )
    assert measures.max_overlap(gold, pred) == best


# ----------------------------------------------------------------------------- slot


def test_slot_exact_acc() -> None:
    gold = Units("slot", slots=(("body", "phone"), ("action", ""), ("location", "Paris")))
    pred = Units("slot", slots=(("body", " phone "), ("action", "buy"), ("location", "")))
    t = score_units(gold, pred).terms
    assert t["exact_acc"] == approx(1 / 3) and t["score"] == approx(1 / 3)
    assert t["all_exact"] == 0.0
    assert score_units(gold, gold).terms["all_exact"] == 1.0


# ----------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize(
    ("task", "paper_value"),
    [
        ("ner", 0.8),  # cov(empty, empty) = 0, f1 = 1, Delta = 0
        ("re", 0.55),  # 0.1 + 0.1 + 0.75 - 0.15 * Djac 1 - 0.25 * Djac 1
        ("ee", 0.8),  # cov 0 + cov 0 + 0.8 * F_full 1 - 0
    ],
)
def test_both_empty(task: str, paper_value: float) -> None:
    empty = Units(task)
    assert score_units(empty, empty).score == approx(paper_value)
    cfg = SFRConfig(perfect_empty=True)
    assert score_units(empty, empty, cfg).score == approx(1.0)


def test_empty_prediction_for_non_empty_gold() -> None:
    cfg = SFRConfig(clip=False)
    assert score_units(NER_GOLD, Units("ner"), cfg).score == approx(-0.8)
    assert score_units(RE_GOLD, Units("re"), cfg).score == approx(-0.4)
    assert score_units(EE_GOLD, Units("ee"), cfg).score == approx(0.8 * 0.0 - 1.0)
    assert score_units(NER_GOLD, Units("ner")).score == 0.0


def test_empty_gold_and_over_generation() -> None:
    pred = ner(("person", "Kevin"), ("person", "Ann"))
    t = score_units(Units("ner"), pred, SFRConfig(clip=False)).terms
    assert (t["cov_t"], t["f1_p"], t["delta_t"], t["delta_p"]) == (0.0, 0.0, 1.0, 2.0)
    assert t["raw"] == approx(-0.6 - 0.4)


def test_unparseable_scores_the_minimum() -> None:
    gt = encode_ground_truth(
        {
            "id": "x",
            "task": "ner",
            "labels": ["person"],
            "text": "Kevin",
            "entities": [{"type": "person", "text": "Kevin", "start": 0, "end": 5}],
        }
    )
    r = score_response("I cannot answer that.", gt)
    assert r.score == 0.0 and r.terms["parsed"] == 0.0 and r.terms["clean"] == 0.0
    assert set(r.terms) == set(sub_score_keys("ner"))
    assert r.terms["cov_t"] == 0.0  # measured as an empty answer
    r = score_response("I cannot answer that.", gt, SFRConfig(clip=False))
    assert r.score == approx(-0.8)  # empty-answer floor of NER: -(lambda_t + lambda_p)
    r = score_response("", gt, SFRConfig(unparseable_score=-2.0, clip=False))
    assert r.score == -2.0
    # With clipping an empty answer also scores 0, but stays "parsed".
    assert score_response("{}", gt).terms["parsed"] == 1.0


def test_unparseable_floors_per_task_and_variant() -> None:
    off = SFRConfig(clip=False)
    assert unparseable_reward("ner", off) == approx(-0.8)  # -(lambda_t + lambda_p)
    assert unparseable_reward("re", off) == approx(-0.4)
    assert unparseable_reward("ee", off) == approx(-1.0)  # -lambda_e
    assert unparseable_reward("slot", off) == 0.0
    coarse, fine = SFRConfig(clip=False, variant="coarse"), SFRConfig(clip=False, variant="fine")
    assert unparseable_reward("ner", coarse) == approx(-0.6 / 0.2)  # lambda_t / w_t
    assert unparseable_reward("ee", fine) == approx(-0.3 / 0.8)  # lambda_f / w_f
    assert unparseable_reward("re", fine) == approx(-0.25 / 0.95)  # lambda_r / (w_h + w_a + w_r)
    assert unparseable_reward("ner", SFRConfig()) == 0.0
    assert unparseable_reward("ner", SFRConfig(unparseable_score=-2.0)) == -2.0
    # The floor is the score of an empty answer (exactly the minimum for RE).
    assert score_units(RE_GOLD, Units("re"), off).score == approx(unparseable_reward("re", off))


def test_unknown_keys_earn_nothing_and_cost_nothing() -> None:
    gt = json.dumps(
        {
            "task": "ner",
            "labels": ["person"],
            "text": "Kevin",
            "gold": {"pairs": [["person", "Kevin"]]},
        }
    )
    unknown = score_response('{"persn": "Kevin"}', gt, SFRConfig(clip=False))
    empty = score_response("{}", gt, SFRConfig(clip=False))
    assert unknown.score == empty.score
    assert unknown.terms["clean"] == 0.0 and empty.terms["clean"] == 1.0


def test_truncated_output_keeps_what_was_read() -> None:
    gt = json.dumps(
        {
            "task": "ner",
            "labels": ["person"],
            "text": "Kevin and Ann",
            "gold": {"pairs": [["person", "Kevin"], ["person", "Ann"]]},
        }
    )
    r = score_response('{"person": "Kevin | Ann', gt)
    assert r.terms["parsed"] == 1.0 and r.terms["clean"] == 0.0 and r.score == 1.0


def test_clip_range_and_no_clip() -> None:
    pred = ner(("person", "Kevin"), ("person", "Therese"))
    raw = score_units(NER_GOLD, pred, SFRConfig(clip=False)).score
    assert score_units(NER_GOLD, pred, SFRConfig(clip_range=(0.0, 0.25))).score == 0.25
    assert score_units(NER_GOLD, pred, SFRConfig(clip_range=(0.5, 1.0))).score == 0.5
    assert raw == approx(0.3057667, abs=1e-6)
    with pytest.raises(ValueError, match="low < high"):
        SFRConfig(clip_range=(1.0, 0.0))


def test_mismatched_tasks_raise() -> None:
    with pytest.raises(ValueError, match="'ner' but predicted units are 're'"):
        score_units(NER_GOLD, Units("re"))


# ----------------------------------------------------------------------------- variants


def test_coarse_only_variant() -> None:
    pred = ner(("person", "Kevin"), ("person", "Therese"))
    r = score_units(NER_GOLD, pred, SFRConfig(variant="coarse", clip=False))
    # (w_t cov - l_t Delta_T) / w_t
    assert r.score == approx((0.2 * 0.5 - 0.6 * 0.5) / 0.2)
    assert r.terms["fine"] == 0.0
    r = score_units(RE_GOLD, RE_GOLD, SFRConfig(variant="coarse"))
    assert r.score == 1.0
    ee_pred = ee(("attack", "fired", {"attacker": "soldiers"}), ("attack", "shot", {}))
    gold = ee(("attack", "fired", {"attacker": "soldiers"}), ("attack", "shot", {"victim": "man"}))
    r = score_units(gold, ee_pred, SFRConfig(variant="coarse"))
    assert r.score == 1.0  # every event and trigger right: the coarse reward sees no error


def test_fine_only_variant() -> None:
    pred = ner(("person", "Kevin"), ("person", "Therese"))
    r = score_units(NER_GOLD, pred, SFRConfig(variant="fine-only"))
    assert r.score == approx((0.8 * 0.8**1.5 - 0.2 / 3) / 0.8)
    assert r.terms["coarse"] == 0.0
    pred_re = re_(("used for", "surface", "algorithm"), ("used for", "car", "wheel"))
    r = score_units(RE_GOLD, pred_re, SFRConfig(variant="fine", clip=False))
    assert r.score == approx(
        (0.1 * 0.5 + 0.1 * 0.5 + 0.75 * 0.5**1.3 - 0.25 * (2 / 3)) / (0.1 + 0.1 + 0.75)
    )
    # EE fine-only: the residual penalty applies even though an event type is missing.
    pred_ee = ee(("attack", "fired", {"attacker": "soldiers", "target": "crowd"}))
    r = score_units(EE_GOLD, pred_ee, SFRConfig(variant="fine", clip=False))
    f = 2 * 2 / (4 + 2)
    assert r.score == approx((0.8 * f - 0.3 * (1 - f)) / 0.8)


def test_variant_names_and_aliases() -> None:
    assert SFRConfig(variant="Coarse-to-fine").variant == "sfr"
    assert SFRConfig(variant="coarse_only").variant == "coarse"
    with pytest.raises(ValueError, match="did you mean 'coarse'"):
        SFRConfig(variant="coarce")


# ----------------------------------------------------------------------------- config


def test_config_from_kwargs_forms() -> None:
    assert config_from_kwargs() == SFRConfig()
    cfg = config_from_kwargs(variant="fine", ner={"gamma": 2.0}, re_w_r=0.5, **{"ee.lambda_f": 0.1})
    assert (cfg.variant, cfg.ner.gamma, cfg.re.w_r, cfg.ee.lambda_f) == ("fine", 2.0, 0.5, 0.1)
    assert config_from_kwargs(clip=False, clip_range=[0, 2]).clip_range == (0.0, 2.0)
    with pytest.raises(
        ValueError, match=r"unknown SFR option 'ner.gama'; did you mean 'ner.gamma'\?"
    ):
        config_from_kwargs(ner={"gama": 2})
    with pytest.raises(ValueError, match=r"unknown SFR option 're.lambda_x'.*'re.lambda_t'"):
        config_from_kwargs(re_lambda_x=2)
    with pytest.raises(ValueError, match="unknown SFR option 'variants'.*'variant'"):
        config_from_kwargs(variants="fine")
    with pytest.raises(ValueError, match="'ner.gamma': Input should be greater than 0"):
        config_from_kwargs(ner_gamma=0)
    with pytest.raises(ValueError, match="'re.lambda_r': Input should be greater than or equal"):
        config_from_kwargs(re_lambda_r=-1)
    with pytest.raises(ValueError, match="'clip_range': clip_range must have low < high"):
        config_from_kwargs(clip_range=[1, 0])


def test_config_from_omegaconf_mappings() -> None:
    omegaconf = pytest.importorskip("omegaconf")
    kw = omegaconf.OmegaConf.create({"variant": "coarse", "ner": {"w_t": 0.3}})
    cfg = config_from_kwargs(**kw)
    assert cfg.variant == "coarse" and cfg.ner.w_t == 0.3


def test_config_pickles_and_hashes() -> None:
    cfg = SFRConfig(variant="fine", ee=EEWeights(gamma=1.2))
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert hash(cfg) == hash(SFRConfig(variant="fine", ee=EEWeights(gamma=1.2)))


# ----------------------------------------------------------------------------- keys


@pytest.mark.parametrize("task", ["ner", "re", "ee", "slot"])
def test_same_keys_for_every_sample_of_a_task(task: str) -> None:
    labels = ["a", "b"]
    gold = {
        "ner": {"pairs": [["a", "x"]]},
        "re": {"triples": [["a", "x", "y"]]},
        "ee": {"groups": [["a", "x", [["r", "y"]]]]},
        "slot": {"slots": [["a", "x"], ["b", ""]]},
    }[task]
    gt = json.dumps({"task": task, "labels": labels, "roles": ["r"], "text": "x y", "gold": gold})
    outputs = ["", "garbage", "{}", '{"a": "x"}', '{"a": "x, y"}', '{"a": "x: r: y"}', '{"zz": 1}']
    for variant in ("sfr", "coarse", "fine"):
        cfg = SFRConfig(variant=variant)
        for out in outputs:
            r = score_response(out, gt, cfg)
            assert tuple(r.terms) == sub_score_keys(task), out
            assert all(isinstance(v, float) for v in r.terms.values())
            assert r.terms["score"] == r.score


# ----------------------------------------------------------------------------- ground truth


def _ee_record() -> dict:
    return {
        "id": "e1",
        "task": "ee",
        "labels": ["adverse event", "potential therapeutic event"],
        "roles": ["Subject", "Treatment"],
        "text": "the patient developed a rash after IL-2",
        "events": [
            {
                "type": "adverse event",
                "trigger": {"text": "developed", "start": 12, "end": 21},
                "arguments": [
                    {"role": "Subject", "text": "patient", "start": 4, "end": 11},
                    {"role": "Treatment", "text": "IL-2", "start": 35, "end": 39},
                ],
            }
        ],
    }


def test_ground_truth_round_trip() -> None:
    ex = _ee_record()
    gt = decode_ground_truth(encode_ground_truth(ex))
    assert (gt.task, gt.labels, gt.roles, gt.text, gt.id) == (
        "ee",
        ("adverse event", "potential therapeutic event"),
        ("Subject", "Treatment"),
        ex["text"],
        "e1",
    )
    from prouie.units import units_from_example

    assert gt.units == units_from_example(ex)
    target = '{"adverse event": "developed: Subject: patient; Treatment: IL-2"}'
    assert score_response(target, encode_ground_truth(ex)).score == 1.0


def test_ground_truth_with_a_target_text() -> None:
    gt = {
        "task": "re",
        "labels": ["used for"],
        "text": "our algorithm uses a surface",
        "gold": '{"used for": "surface, algorithm"}',
    }
    assert decode_ground_truth(gt).units == re_(("used for", "surface", "algorithm"))
    bad = dict(gt, gold='{"used fr": "surface, algorithm"}')
    with pytest.raises(GroundTruthError, match="unknown_key"):
        decode_ground_truth(bad)


@pytest.mark.parametrize(
    ("gt", "message"),
    [
        ("not json", "not JSON"),
        ("[1]", "must be a JSON object"),
        ('{"labels": [], "text": "", "gold": {}}', "field 'task' is missing"),
        ('{"task": "xx", "labels": [], "text": "", "gold": {}}', "field 'task' must be one of"),
        ('{"task": "ner", "labels": ["a"], "text": "", "gold": {"pairs": [["a"]]}}', "gold.pairs"),
        ('{"task": "ner", "labels": ["a"], "text": "", "gold": {"pairs": [["b", "x"]]}}', "'b'"),
        ('{"task": "ee", "labels": ["a"], "text": "", "gold": {"groups": [["a"]]}}', "groups"),
        ('{"format": "v0", "task": "ner", "labels": [], "text": "", "gold": {}}', "format"),
        ('{"id": "7", "task": "re", "labels": [], "text": 3, "gold": {}}', "(id '7').*'text'"),
    ],
)
def test_bad_ground_truth_raises_naming_the_field(gt: str, message: str) -> None:
    with pytest.raises(GroundTruthError, match=message):
        score_response("{}", gt)


def test_ground_truth_of_wrong_type() -> None:
    with pytest.raises(GroundTruthError, match="JSON string or a mapping"):
        decode_ground_truth(3)  # type: ignore[arg-type]


def test_cached_results_are_not_shared() -> None:
    gt = json.dumps({"task": "ner", "labels": ["a"], "text": "x", "gold": {"pairs": [["a", "x"]]}})
    first = score_response('{"a": "x"}', gt)
    first.terms["score"] = -5.0
    assert score_response('{"a": "x"}', gt).terms["score"] == 1.0


# ----------------------------------------------------------------------------- properties


@settings(deadline=None)
@given(st.text(max_size=60), st.sampled_from(["ner", "re", "ee", "slot"]))
def test_any_output_scores_in_range_and_never_raises(text: str, task: str) -> None:
    gold = {
        "ner": {"pairs": [["a", "x"]]},
        "re": {"triples": [["a", "x", "y"]]},
        "ee": {"groups": [["a", "x", [["r", "y"]]]]},
        "slot": {"slots": [["a", "x"]]},
    }[task]
    gt = json.dumps({"task": task, "labels": ["a"], "roles": ["r"], "text": "x y", "gold": gold})
    r = score_response(text, gt)
    assert 0.0 <= r.score <= 1.0
    assert tuple(r.terms) == sub_score_keys(task)


unit_text = st.sampled_from(["a", "b", "c", "d"])


@settings(deadline=None)
@given(
    st.frozensets(st.tuples(st.sampled_from(["x", "y"]), unit_text), max_size=4),
    st.frozensets(st.tuples(st.sampled_from(["x", "y"]), unit_text), max_size=4),
)
def test_ner_perfect_prediction_is_best(gold_pairs: frozenset, pred_pairs: frozenset) -> None:
    gold, pred = ner(*gold_pairs), ner(*pred_pairs)
    cfg = SFRConfig(clip=False, perfect_empty=True)
    assert score_units(gold, pred, cfg).score <= score_units(gold, gold, cfg).score + 1e-12
    assert score_units(gold, gold, cfg).score == approx(1.0)


def test_config_types_are_checked() -> None:
    # Strings and booleans are never read as numbers, nor numbers as booleans.
    with pytest.raises(ValueError, match="clip\n.*valid boolean"):
        SFRConfig(clip="True")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'perfect_empty': Input should be a valid boolean"):
        config_from_kwargs(perfect_empty=1)
    with pytest.raises(ValueError, match="'unparseable_score': Input should be a valid number"):
        config_from_kwargs(unparseable_score="low")
    with pytest.raises(ValueError, match="w_t\n.*valid number"):
        SFRConfig(ner=NERWeights(w_t="0.2"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'ner.w_p': Input should be a valid number"):
        config_from_kwargs(ner={"w_p": True})
    with pytest.raises(ValueError, match="'ner' must be a mapping, got 0.5"):
        config_from_kwargs(ner=0.5)


def test_select_terms_modes() -> None:
    r = score_units(NER_GOLD, NER_GOLD)
    assert list(sfr.select_terms(r, "task")) == list(sub_score_keys("ner"))
    assert list(sfr.select_terms(r, "common")) == list(sfr.COMMON_KEYS)
    assert r.task == "ner"
    with pytest.raises(ValueError, match="unknown sub_scores 'tasks'.*'task'"):
        sfr.check_sub_scores("tasks")
