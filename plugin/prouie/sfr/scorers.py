"""The per-task SFR scorers (paper Eqs. 2 and 7-10) over the measures of Eqs. 3-6.

    R = w_c * cov + w_f * f1 ** gamma - lambda * pen                                      (Eq. 2)

- NER (Eq. 7): ``w_t cov(T) + w_p f1(P)^g - l_t Delta(T) - l_p Delta(P)``
- RE (Eq. 8): ``w_t cov(T) + w_h f1(H) + w_a f1(A) + w_r f1(R)^g - l_t Djac(T) - l_r Djac(R)``
- EE (Eqs. 9-10): ``w_E cov(E) + w_T cov(T) + w_F F_full^g - pen_ee`` where ``F_full`` is
  :func:`~prouie.sfr.measures.aligned_argument_f1` and ``pen_ee`` is ``l_E delta_E`` if the event
  types differ, else ``l_T delta_T`` if the triggers differ, else ``l_F (1 - F_full)``.
- slot (no SFR in the paper): slot-level ExactAcc, the fraction of schema slots whose predicted
  value equals the gold value after trimming whitespace (the paper's production metric, A.5).

Each scorer measures its task's terms and weights them into a coarse level, a fine level and their
penalties; :func:`score_units` applies the variant (Table 7) and the clipping. A single-level variant
(``coarse`` or ``fine``) keeps its level alone, rescaled so that its positive weights sum to 1.

>>> gold = Units("ner", types=frozenset({"person"}), pairs=frozenset({("person", "Kevin")}))
>>> score_units(gold, gold).score
1.0
"""

from __future__ import annotations

from typing import NamedTuple

from prouie.metrics import slot_matches
from prouie.sfr.config import DEFAULT_CONFIG, SFRConfig
from prouie.sfr.measures import aligned_argument_f1, cov, delta, djac, f1
from prouie.units import Units, empty_units

TASKS = ("ner", "re", "ee", "slot")

# Keys every sample carries, whatever its task, then the task's own measurements.
COMMON_KEYS = ("score", "raw", "coarse", "fine", "penalty", "parsed", "clean")
TASK_KEYS: dict[str, tuple[str, ...]] = {
    "ner": ("cov_t", "f1_p", "delta_t", "delta_p"),
    "re": ("cov_t", "f1_h", "f1_a", "f1_r", "djac_t", "djac_r"),
    "ee": ("cov_e", "cov_t", "f_full", "delta_e", "delta_t"),
    "slot": ("exact_acc", "all_exact"),
}


def sub_score_keys(task: str) -> tuple[str, ...]:
    """The keys of :attr:`SFRResult.terms` for ``task``, the same for every sample of that task.

    >>> sub_score_keys("ner")
    ('score', 'raw', 'coarse', 'fine', 'penalty', 'parsed', 'clean', 'cov_t', 'f1_p', 'delta_t', 'delta_p')
    """
    if task not in TASK_KEYS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return COMMON_KEYS + TASK_KEYS[task]


class SFRResult(NamedTuple):
    """One reward: ``score`` (final, clipped) and ``terms`` (every sub-score, keys per task).

    ``terms`` holds ``score``; ``raw`` (before clipping); ``coarse``, ``fine``, ``penalty`` (the
    weighted parts of the variant in use, ``raw = coarse + fine - penalty``); ``parsed`` (1.0 when
    a JSON object was read); ``clean`` (1.0 when the parser reported no problem at all); then the
    task's unweighted measurements (:data:`TASK_KEYS`). ``task`` is the gold's task.
    """

    score: float
    terms: dict[str, float]
    task: str = ""


class _Levels(NamedTuple):
    """What a task scorer hands to :func:`score_units`: the weighted levels and the raw measurements."""

    coarse: float
    fine: float
    coarse_penalty: float
    fine_penalty: float
    coarse_weight: float  # sum of the positive coarse weights (rescales a coarse-only variant)
    fine_weight: float
    measured: dict[str, float]


def _ner(g: Units, p: Units, cfg: SFRConfig) -> _Levels:
    w, pe = cfg.ner, cfg.perfect_empty
    cov_t, f1_p = cov(g.types, p.types, pe), f1(g.pairs, p.pairs)
    delta_t, delta_p = delta(g.types, p.types), delta(g.pairs, p.pairs)
    return _Levels(
        coarse=w.w_t * cov_t,
        fine=w.w_p * f1_p**w.gamma,
        coarse_penalty=w.lambda_t * delta_t,
        fine_penalty=w.lambda_p * delta_p,
        coarse_weight=w.w_t,
        fine_weight=w.w_p,
        measured={"cov_t": cov_t, "f1_p": f1_p, "delta_t": delta_t, "delta_p": delta_p},
    )


def _re(g: Units, p: Units, cfg: SFRConfig) -> _Levels:
    w, pe = cfg.re, cfg.perfect_empty
    cov_t = cov(g.types, p.types, pe)
    f1_h, f1_a, f1_r = f1(g.heads, p.heads), f1(g.tails, p.tails), f1(g.triples, p.triples)
    djac_t, djac_r = djac(g.types, p.types, pe), djac(g.triples, p.triples, pe)
    measured = {"cov_t": cov_t, "f1_h": f1_h, "f1_a": f1_a, "f1_r": f1_r}
    return _Levels(
        coarse=w.w_t * cov_t,
        fine=w.w_h * f1_h + w.w_a * f1_a + w.w_r * f1_r**w.gamma,
        coarse_penalty=w.lambda_t * djac_t,
        fine_penalty=w.lambda_r * djac_r,
        coarse_weight=w.w_t,
        fine_weight=w.w_h + w.w_a + w.w_r,
        measured={**measured, "djac_t": djac_t, "djac_r": djac_r},
    )


def _ee(g: Units, p: Units, cfg: SFRConfig) -> _Levels:
    w, pe = cfg.ee, cfg.perfect_empty
    cov_e, cov_t = cov(g.events, p.events, pe), cov(g.triggers, p.triggers, pe)
    delta_e, delta_t = delta(g.events, p.events), delta(g.triggers, p.triggers)
    f_full = aligned_argument_f1(g, p)
    # Eq. (9): the penalty looks at the coarsest level that is wrong, and only at that one. The
    # fine-only variant has no coarse branch left to defer to, so its residual term always applies.
    residual = w.lambda_f * (1.0 - f_full)
    if delta_e > 0:
        c_pen, f_pen = w.lambda_e * delta_e, 0.0
    elif delta_t > 0:
        c_pen, f_pen = w.lambda_t * delta_t, 0.0
    else:
        c_pen, f_pen = 0.0, residual
    return _Levels(
        coarse=w.w_e * cov_e + w.w_t * cov_t,
        fine=w.w_f * f_full**w.gamma,
        coarse_penalty=c_pen,
        fine_penalty=residual if cfg.variant == "fine" else f_pen,
        coarse_weight=w.w_e + w.w_t,
        fine_weight=w.w_f,
        measured={
            "cov_e": cov_e,
            "cov_t": cov_t,
            "f_full": f_full,
            "delta_e": delta_e,
            "delta_t": delta_t,
        },
    )


_SCORERS = {"ner": _ner, "re": _re, "ee": _ee}

# A sentence with one gold unit at every level: what the empty-answer floor is measured against
# (an empty answer scores the same against any non-empty gold: cov 0, F1 0, Delta 1, Djac 1).
_ONE_UNIT_GOLD = {
    "ner": Units("ner", types=frozenset({"t"}), pairs=frozenset({("t", "x")})),
    "re": Units("re", types=frozenset({"t"}), triples=frozenset({("t", "h", "a")})),
    "ee": Units(
        "ee", types=frozenset({"e"}), groups=frozenset({("e", "x", frozenset({("r", "y")}))})
    ),
}


def _variant(variant: str, levels: _Levels) -> tuple[float, float, float]:
    """(coarse, fine, penalty) of ``variant``: both levels, or one level rescaled to weight 1."""
    if variant == "sfr":
        return levels.coarse, levels.fine, levels.coarse_penalty + levels.fine_penalty
    if variant == "coarse":
        scale = 1.0 / levels.coarse_weight if levels.coarse_weight > 0 else 1.0
        return levels.coarse * scale, 0.0, levels.coarse_penalty * scale
    scale = 1.0 / levels.fine_weight if levels.fine_weight > 0 else 1.0
    return 0.0, levels.fine * scale, levels.fine_penalty * scale


def _slot_accuracy(g: Units, p: Units, parsed: bool) -> dict[str, float]:
    matches = slot_matches(g, p, ok=parsed)
    right = sum(ok for _, ok in matches)
    return {
        "exact_acc": right / len(matches) if matches else 1.0,
        "all_exact": float(right == len(matches)),
    }


def unparseable_reward(task: str, cfg: SFRConfig) -> float:
    """The reward of an output without a JSON object: ``cfg.unparseable_score`` when set, else
    the lowest reward, ``clip_range[0]``, when clipping, else the task's empty-answer floor: what
    the variant in use gives an empty answer to a sentence with gold units. That is exactly the
    RE minimum; NER and EE answers go lower only by over-generating (``docs/de.md``).

    >>> unparseable_reward("re", SFRConfig(clip=False))
    -0.4
    """
    if cfg.unparseable_score is not None:
        return float(cfg.unparseable_score)
    if cfg.clip:
        return cfg.clip_range[0]
    if task == "slot":
        return 0.0
    coarse, fine, penalty = _variant(
        cfg.variant, _SCORERS[task](_ONE_UNIT_GOLD[task], empty_units(task), cfg)
    )
    return coarse + fine - penalty


def score_units(
    gold: Units,
    pred: Units,
    config: SFRConfig | None = None,
    *,
    parsed: bool = True,
    clean: bool = True,
) -> SFRResult:
    """SFR of predicted units against gold units (both of one task).

    ``parsed=False`` marks an output without a JSON object: its reward is :func:`unparseable_reward`
    and its measurements are those of an empty answer. ``clean`` only feeds the ``clean`` term.

    >>> g = Units("re", types=frozenset({"used for"}),
    ...           triples=frozenset({("used for", "surface", "algorithm")}))
    >>> score_units(g, Units("re")).terms["djac_r"]
    1.0
    """
    task = gold.task
    if pred.task != task:
        raise ValueError(f"gold units are {task!r} but predicted units are {pred.task!r}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    cfg = config or DEFAULT_CONFIG
    if task == "slot":
        # The coarse/fine/penalty split does not apply: the reward is the accuracy itself.
        measured = _slot_accuracy(gold, pred, parsed)
        coarse, fine, penalty = 0.0, measured["exact_acc"], 0.0
    else:
        levels = _SCORERS[task](gold, pred if parsed else empty_units(task), cfg)
        measured = levels.measured
        coarse, fine, penalty = _variant(cfg.variant, levels)
    raw = coarse + fine - penalty if parsed else unparseable_reward(task, cfg)
    score = min(max(raw, cfg.clip_range[0]), cfg.clip_range[1]) if cfg.clip else raw
    terms = {
        "score": score,
        "raw": raw,
        "coarse": coarse,
        "fine": fine,
        "penalty": penalty,
        "parsed": float(parsed),
        "clean": float(clean and parsed),
        **measured,
    }
    return SFRResult(score, terms, task)
