"""Every SFR scorer against the paper's Eqs. 2-10 written out naively, on random unit sets.

The reference below recomputes every set measure from the unit sets with plain set algebra (no
helper of prouie.sfr), builds the EE alignment by trying every one-to-one matching of trigger
groups, and applies the variant, the clipping and ``perfect_empty`` as docs/de.md states them.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prouie.sfr import SFRConfig, score_units
from prouie.units import Units

approx = pytest.approx
TYPES = ("t1", "t2", "t3")
TEXTS = ("a", "b", "c", "d")
ROLES = ("r1", "r2")


# ----------------------------------------------------------------------------- the plain formulas


def cov(g: set, p: set, pe: bool) -> float:  # Eq. 3
    if not g:
        return 1.0 if pe and not p else 0.0
    return len(g & p) / max(1, len(g))


def f1(g: set, p: set) -> float:  # Eq. 4
    return 1.0 if not g and not p else 2 * len(g & p) / (len(g) + len(p))


def delta(g: set, p: set) -> float:  # Eq. 5
    return len(g ^ p) / max(1, len(g))


def djac(g: set, p: set, pe: bool) -> float:  # Eq. 6
    if not g | p:
        return 0.0 if pe else 1.0
    return 1 - len(g & p) / max(1, len(g | p))


def f_full(gold: Units, pred: Units) -> float:  # Eq. 10, by brute force over matchings
    n = sum(len(a) for *_, a in gold.groups) + sum(len(a) for *_, a in pred.groups)
    if n == 0:
        return 1.0
    tp = 0
    for event in {e for e, _, _ in gold.groups}:
        g = [a for e, _, a in gold.groups if e == event]
        p = [a for e, _, a in pred.groups if e == event]
        small, large = (g, p) if len(g) <= len(p) else (p, g)
        tp += max(
            sum(len(x & large[j]) for x, j in zip(small, perm, strict=True))
            for perm in itertools.permutations(range(len(large)), len(small))
        )
    return 2 * tp / n


def plain_sfr(gold: Units, pred: Units, cfg: SFRConfig) -> float:
    """Eq. 2 with Eqs. 7-9: (coarse, fine, penalty) per level, then the variant and the clip."""
    pe = cfg.perfect_empty
    if gold.task == "ner":
        w = cfg.ner
        g_t, p_t = {t for t, _ in gold.pairs}, {t for t, _ in pred.pairs}
        g_p, p_p = set(gold.pairs), set(pred.pairs)
        coarse = (w.w_t * cov(g_t, p_t, pe), w.lambda_t * delta(g_t, p_t), w.w_t)
        fine = (w.w_p * f1(g_p, p_p) ** w.gamma, w.lambda_p * delta(g_p, p_p), w.w_p)
    elif gold.task == "re":
        w = cfg.re
        g_r, p_r = set(gold.triples), set(pred.triples)
        g_t, p_t = {t for t, _, _ in g_r}, {t for t, _, _ in p_r}
        g_h, p_h = {(t, h) for t, h, _ in g_r}, {(t, h) for t, h, _ in p_r}
        g_a, p_a = {(t, a) for t, _, a in g_r}, {(t, a) for t, _, a in p_r}
        coarse = (w.w_t * cov(g_t, p_t, pe), w.lambda_t * djac(g_t, p_t, pe), w.w_t)
        fine_reward = w.w_h * f1(g_h, p_h) + w.w_a * f1(g_a, p_a) + w.w_r * f1(g_r, p_r) ** w.gamma
        fine = (fine_reward, w.lambda_r * djac(g_r, p_r, pe), w.w_h + w.w_a + w.w_r)
    else:
        w = cfg.ee
        g_e, p_e = {e for e, _, _ in gold.groups}, {e for e, _, _ in pred.groups}
        g_t, p_t = {(e, t) for e, t, _ in gold.groups}, {(e, t) for e, t, _ in pred.groups}
        f = f_full(gold, pred)
        d_e, d_t = delta(g_e, p_e), delta(g_t, p_t)
        # Eq. 9: only the coarsest wrong level is penalised.
        pen_e = w.lambda_e * d_e if d_e > 0 else w.lambda_t * d_t if d_t > 0 else 0.0
        pen_f = w.lambda_f * (1 - f) if d_e == 0 and d_t == 0 else 0.0
        if cfg.variant == "fine":
            pen_f = w.lambda_f * (1 - f)  # no coarse level left to defer to
        coarse = (w.w_e * cov(g_e, p_e, pe) + w.w_t * cov(g_t, p_t, pe), pen_e, w.w_e + w.w_t)
        fine = (w.w_f * f**w.gamma, pen_f, w.w_f)
    if cfg.variant == "sfr":
        raw = coarse[0] + fine[0] - coarse[1] - fine[1]
    else:
        reward, penalty, weight = coarse if cfg.variant == "coarse" else fine
        raw = (reward - penalty) / weight
    return min(max(raw, cfg.clip_range[0]), cfg.clip_range[1]) if cfg.clip else raw


# ----------------------------------------------------------------------------- random unit sets

text = st.sampled_from(TEXTS)
ner_units = st.frozensets(st.tuples(st.sampled_from(TYPES), text), max_size=5).map(
    lambda pairs: Units("ner", types=frozenset(t for t, _ in pairs), pairs=pairs)
)
re_units = st.frozensets(st.tuples(st.sampled_from(TYPES), text, text), max_size=5).map(
    lambda triples: Units("re", types=frozenset(t for t, _, _ in triples), triples=triples)
)


def _ee(groups: dict[tuple[str, str], frozenset]) -> Units:
    gs = frozenset((e, t, args) for (e, t), args in groups.items())
    return Units("ee", types=frozenset(e for e, _ in groups), groups=gs)


ee_units = st.dictionaries(
    st.tuples(st.sampled_from(TYPES[:2]), text),
    st.frozensets(st.tuples(st.sampled_from(ROLES), text), max_size=3),
    max_size=4,
).map(_ee)

configs = st.builds(
    SFRConfig,
    variant=st.sampled_from(["sfr", "coarse", "fine"]),
    clip=st.booleans(),
    perfect_empty=st.booleans(),
)


@settings(deadline=None)
@given(
    st.sampled_from(["ner", "re", "ee"]).flatmap(
        lambda t: st.tuples(*[{"ner": ner_units, "re": re_units, "ee": ee_units}[t]] * 2)
    ),
    configs,
)
def test_scorers_equal_the_plain_formulas(units: tuple[Units, Units], cfg: SFRConfig) -> None:
    gold, pred = units
    assert score_units(gold, pred, cfg).score == approx(plain_sfr(gold, pred, cfg), abs=1e-12)


@settings(deadline=None)
@given(ner_units, ner_units, configs)
def test_ner_terms_equal_the_plain_measures(gold: Units, pred: Units, cfg: SFRConfig) -> None:
    t = score_units(gold, pred, cfg).terms
    pe = cfg.perfect_empty
    assert t["cov_t"] == cov(set(gold.types), set(pred.types), pe)
    assert t["f1_p"] == f1(set(gold.pairs), set(pred.pairs))
    assert (t["delta_t"], t["delta_p"]) == (
        delta(set(gold.types), set(pred.types)),
        delta(set(gold.pairs), set(pred.pairs)),
    )


@settings(deadline=None)
@given(ee_units, ee_units)
def test_ee_aligned_f1_equals_the_brute_force(gold: Units, pred: Units) -> None:
    assert score_units(gold, pred).terms["f_full"] == approx(f_full(gold, pred), abs=1e-12)


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(TYPES), text), st.dictionaries(st.sampled_from(TYPES), text))
def test_slot_reward_is_the_exact_accuracy(gold: dict, pred: dict) -> None:
    g = Units("slot", slots=tuple((s, gold.get(s, "")) for s in TYPES))
    p = Units("slot", slots=tuple(pred.items()))
    right = sum(pred.get(s, "").strip() == gold.get(s, "").strip() for s in TYPES)
    assert score_units(g, p).score == approx(right / len(TYPES), abs=1e-12)
