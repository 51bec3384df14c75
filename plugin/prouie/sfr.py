"""Stepwise Fine-grained Reward (SFR, paper Section 2.5.2, Eqs. 2-10; weights of Appendix A.3).

SFR scores one model output against the gold units of its sentence, from coarse units (types) to
fine units (type-value pairs, triples, role-argument pairs), minus a mismatch penalty::

    R = w_c * cov + w_f * f1 ** gamma - lambda * pen                                      (Eq. 2)

    cov(G, P)   = |G & P| / max(1, |G|)                                                   (Eq. 3)
    f1(G, P)    = 2 |G & P| / (|G| + |P|)         (1.0 when both sets are empty)         (Eq. 4)
    Delta(G, P) = |G ^ P| / max(1, |G|)                                                   (Eq. 5)
    Djac(G, P)  = 1 - |G & P| / max(1, |G | P|)                                           (Eq. 6)

- NER (Eq. 7): ``w_t cov(T) + w_p f1(P)^g - l_t Delta(T) - l_p Delta(P)``
- RE (Eq. 8): ``w_t cov(T) + w_h f1(H) + w_a f1(A) + w_r f1(R)^g - l_t Djac(T) - l_r Djac(R)``
- EE (Eqs. 9-10): ``w_E cov(E) + w_T cov(T) + w_F F_full^g - pen_ee`` where ``F_full`` is the F1 of
  role-argument pairs after matching, within each event type, every gold trigger group to at most
  one predicted trigger group so that the summed role-argument overlap is maximal, and ``pen_ee`` is
  ``l_E delta_E`` if the event types differ, else ``l_T delta_T`` if the triggers differ, else
  ``l_F (1 - F_full)``.
- slot (no SFR in the paper): slot-level ExactAcc, the fraction of schema slots whose predicted
  value equals the gold value after trimming whitespace (the paper's production metric, A.5).

Variants (Table 7 ablation), chosen by name: ``sfr`` (coarse-to-fine, the paper's reward),
``coarse`` (coarse terms and coarse penalties only) and ``fine`` (fine terms and fine penalties
only); a single-level variant is rescaled so that its positive weights sum to 1.

The reward is clipped to [0, 1] by default; an output without a JSON object scores the minimum. All
edge cases are documented in ``docs/de.md``.

>>> from prouie.units import Units
>>> gold = Units("ner", types=frozenset({"person"}), pairs=frozenset({("person", "Kevin")}))
>>> score_units(gold, gold).score
1.0
"""

from __future__ import annotations

import difflib
import gc
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import lru_cache, partial
from typing import Any, NamedTuple

import orjson

from prouie.metrics import slot_matches
from prouie.parsing import Reference, parse_output, reference
from prouie.targets import render_target, round_trips
from prouie.units import Units, empty_units

__all__ = [
    "COMMON_KEYS",
    "TASK_KEYS",
    "VARIANTS",
    "EEWeights",
    "GroundTruth",
    "GroundTruthError",
    "NERWeights",
    "REWeights",
    "SFRConfig",
    "SFRResult",
    "aligned_argument_f1",
    "check_sub_scores",
    "config_from_kwargs",
    "cov",
    "decode_ground_truth",
    "delta",
    "djac",
    "encode_ground_truth",
    "f1",
    "resolve_variant",
    "score_response",
    "score_units",
    "select_terms",
    "sub_score_keys",
]

TASKS = ("ner", "re", "ee", "slot")
GROUND_TRUTH_FORMAT = "prouie.sfr/1"
# The rollouts of a prompt are scored together (one batch), so the per-prompt caches need to hold
# about one rollout batch of prompts, not the dataset: bounded sizes keep a reward worker's memory
# flat.
_GOLD_CACHE = 16384


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class NERWeights:
    """Eq. (7) weights; defaults are Appendix A.3."""

    w_t: float = 0.2  # entity-type coverage
    w_p: float = 0.8  # (type, entity) F1
    gamma: float = 1.5  # power on the pair F1
    lambda_t: float = 0.6  # Delta on entity types
    lambda_p: float = 0.2  # Delta on (type, entity) pairs


@dataclass(frozen=True)
class REWeights:
    """Eq. (8) weights; defaults are Appendix A.3."""

    w_t: float = 0.05  # relation-type coverage
    w_h: float = 0.10  # (type, head) F1
    w_a: float = 0.10  # (type, tail) F1
    w_r: float = 0.75  # (type, head, tail) F1
    gamma: float = 1.3  # power on the triple F1
    lambda_t: float = 0.15  # Jaccard distance on relation types
    lambda_r: float = 0.25  # Jaccard distance on triples


@dataclass(frozen=True)
class EEWeights:
    """Eqs. (9)-(10) weights; defaults are Appendix A.3 except ``gamma``.

    A.3 gives no gamma_EE. 1.0 (no stretching) is the only value that adds nothing the paper does
    not state; the paper's other exponents fall with task difficulty (NER 1.5 > RE 1.3), and EE has
    the lowest F1, where a larger exponent would flatten the reward of partly right outputs.
    """

    w_e: float = 0.05  # event-type coverage
    w_t: float = 0.15  # (event type, trigger) coverage
    w_f: float = 0.8  # aligned role-argument F1 (F_full), stretched by gamma
    gamma: float = 1.0  # not given in A.3 (see the class docstring)
    lambda_e: float = 1.0  # event-type mismatch (delta_E > 0)
    lambda_t: float = 0.5  # trigger mismatch (delta_E = 0, delta_T > 0)
    lambda_f: float = 0.3  # residual fine error (1 - F_full)


# Variant name -> (what it keeps). Aliases map onto these three names.
VARIANTS: dict[str, str] = {
    "sfr": "coarse and fine terms with every penalty (Eqs. 7-10, the paper's reward)",
    "coarse": "coarse terms (type / trigger coverage) and the coarse penalties only",
    "fine": "fine terms (pair / head / tail / triple / argument F1) and the fine penalties only",
}
_ALIASES = {
    "sfr": "sfr",
    "full": "sfr",
    "coarse_to_fine": "sfr",
    "coarse": "coarse",
    "coarse_only": "coarse",
    "fine": "fine",
    "fine_only": "fine",
}


def _suggest(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3)
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def resolve_variant(name: str) -> str:
    """Canonical variant name (``sfr``, ``coarse``, ``fine``) for a name or alias.

    >>> resolve_variant("Coarse-only")
    'coarse'
    """
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _ALIASES:
        raise ValueError(
            f"unknown SFR variant {name!r}; expected one of {', '.join(VARIANTS)}"
            + _suggest(key, _ALIASES)
        )
    return _ALIASES[key]


@dataclass(frozen=True)
class SFRConfig:
    """All SFR settings; the defaults reproduce the paper (A.3 weights, clipping to [0, 1]).

    - ``variant``: ``sfr`` | ``coarse`` | ``fine`` (Table 7), aliases accepted.
    - ``clip``: clip the reward to ``clip_range`` (the paper's optional clipping, on by default).
    - ``unparseable_score``: reward of an output without a JSON object; ``None`` means the minimum:
      ``clip_range[0]`` when clipping, otherwise the task's empty-answer floor (see ``docs/de.md``).
    - ``perfect_empty``: when True a term whose gold and predicted sets are both empty takes its best
      value (cov 1, Delta 0, Djac 0), so that a right empty answer scores 1.0. The paper's formulas
      (False, default) give cov(empty, empty) = 0 and Djac(empty, empty) = 1.
    """

    ner: NERWeights = field(default_factory=NERWeights)
    re: REWeights = field(default_factory=REWeights)
    ee: EEWeights = field(default_factory=EEWeights)
    variant: str = "sfr"
    clip: bool = True
    clip_range: tuple[float, float] = (0.0, 1.0)
    unparseable_score: float | None = None
    perfect_empty: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", resolve_variant(self.variant))
        for name in ("clip", "perfect_empty"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"SFR {name} must be true or false, got {getattr(self, name)!r}")
        score = self.unparseable_score
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise ValueError(f"SFR unparseable_score must be a number or null, got {score!r}")
        lo, hi = (float(x) for x in self.clip_range)
        if not lo < hi:
            raise ValueError(f"SFR clip_range must have low < high, got {self.clip_range!r}")
        object.__setattr__(self, "clip_range", (lo, hi))
        for task in ("ner", "re", "ee"):
            weights = getattr(self, task)
            for f in fields(weights):
                value = getattr(weights, f.name)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"SFR {task}.{f.name} must be a number, got {value!r}")
                if f.name == "gamma" and not value > 0:
                    raise ValueError(f"SFR {task}.gamma must be > 0 (Eq. 2), got {value}")
                if value < 0:
                    raise ValueError(f"SFR {task}.{f.name} must be >= 0, got {value}")

    def __hash__(self) -> int:
        # The config is part of the per-prompt perfect-result cache key: hash its fields once.
        try:
            return self._hash  # type: ignore[attr-defined]
        except AttributeError:
            h = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_hash", h)
            return h

    def __getstate__(self) -> dict[str, Any]:
        # String hashes differ between processes: a pickled config must not carry its cached hash.
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state

    def weights(self, task: str) -> Any:
        """The weight dataclass of ``task`` (``ner``, ``re``, ``ee``)."""
        return getattr(self, task)

    def floor(self, task: str) -> float:
        """The reward of an unparseable output for ``task`` (see the class docstring)."""
        if self.unparseable_score is not None:
            return float(self.unparseable_score)
        if self.clip:
            return self.clip_range[0]
        return _empty_answer_floor(task, self)


_TOP_KEYS = {f.name for f in fields(SFRConfig)}
_WEIGHT_CLASSES = {"ner": NERWeights, "re": REWeights, "ee": EEWeights}


def _plain(value: Any) -> Any:
    """Mappings (OmegaConf's too) to dicts and sequences to lists, so kwargs serialise and compare."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


def config_from_kwargs(**kwargs: Any) -> SFRConfig:
    """An :class:`SFRConfig` from flat keyword arguments, as a framework's reward kwargs pass them.

    Weight overrides go in a mapping per task (``ner={"gamma": 2.0}``) or as ``ner_gamma=2.0`` /
    ``ner.gamma=2.0``; unknown names raise with a suggestion, because a typo would otherwise train
    silently with the default.

    >>> config_from_kwargs(variant="fine", ee={"gamma": 1.2}).ee.gamma
    1.2
    >>> config_from_kwargs(re_gamma=1.0).re.gamma
    1.0
    """
    plain = _plain(kwargs)
    return _config_cached(json.dumps(plain, sort_keys=True, default=str))


@lru_cache(maxsize=64)
def _config_cached(key: str) -> SFRConfig:
    # Frameworks pass the same kwargs on every call; building the config once per distinct set of
    # kwargs keeps the per-response cost at the scoring itself.
    kwargs: dict[str, Any] = json.loads(key)
    per_task: dict[str, dict[str, Any]] = {t: {} for t in _WEIGHT_CLASSES}
    top: dict[str, Any] = {}
    for name, value in kwargs.items():
        task, sep, rest = name.replace(".", "_").partition("_")
        if name in _WEIGHT_CLASSES:
            if not isinstance(value, dict):
                raise ValueError(f"SFR {name} must be a mapping of weights, got {value!r}")
            for k, v in value.items():
                _set_weight(per_task, name, k, v)
        elif sep and task in _WEIGHT_CLASSES and name not in _TOP_KEYS:
            _set_weight(per_task, task, rest, value)
        elif name in _TOP_KEYS - set(_WEIGHT_CLASSES):
            top[name] = tuple(value) if isinstance(value, list) else value
        else:
            options = sorted(_TOP_KEYS) + [
                f"{t}_{f.name}" for t, c in _WEIGHT_CLASSES.items() for f in fields(c)
            ]
            raise ValueError(f"unknown SFR option {name!r}" + _suggest(name, options))
    weights = {t: _WEIGHT_CLASSES[t](**v) for t, v in per_task.items()}
    return SFRConfig(**weights, **top)


def _set_weight(per_task: dict[str, dict[str, Any]], task: str, name: str, value: Any) -> None:
    known = [f.name for f in fields(_WEIGHT_CLASSES[task])]
    if name not in known:
        raise ValueError(f"unknown SFR weight {task}.{name}" + _suggest(name, known))
    per_task[task][name] = value


# ----------------------------------------------------------------------------- set measures


def cov(gold: frozenset, pred: frozenset, perfect_empty: bool = False) -> float:
    """Coverage (Eq. 3): ``|G & P| / max(1, |G|)``.

    >>> cov(frozenset({"a", "b"}), frozenset({"a", "c"}))
    0.5
    """
    if not gold:
        return 1.0 if perfect_empty and not pred else 0.0
    return len(gold & pred) / len(gold)


def f1(gold: frozenset, pred: frozenset) -> float:
    """Micro-F1 of one sentence (Eq. 4): ``2 |G & P| / (|G| + |P|)``; 1.0 when both are empty.

    >>> f1(frozenset({"a", "b"}), frozenset({"a"}))
    0.6666666666666666
    """
    n = len(gold) + len(pred)
    return 2 * len(gold & pred) / n if n else 1.0


def delta(gold: frozenset, pred: frozenset) -> float:
    """Normalised symmetric difference (Eq. 5): ``|G ^ P| / max(1, |G|)``.

    >>> delta(frozenset({"a"}), frozenset({"b", "c"}))
    3.0
    """
    return len(gold ^ pred) / (len(gold) or 1)


def djac(gold: frozenset, pred: frozenset, perfect_empty: bool = False) -> float:
    """Jaccard distance (Eq. 6): ``1 - |G & P| / max(1, |G | P|)``.

    >>> djac(frozenset({"a", "b"}), frozenset({"b", "c"}))
    0.6666666666666667
    """
    union = len(gold | pred)
    if not union:
        return 0.0 if perfect_empty else 1.0
    return 1.0 - len(gold & pred) / union


def _max_overlap(gold: list[frozenset], pred: list[frozenset]) -> int:
    """Largest total role-argument overlap over one-to-one matchings of trigger groups."""
    if len(gold) > len(pred):
        gold, pred = pred, gold
    if len(gold) == 1:  # the common cases first: one trigger of the type on a side
        g = gold[0]
        if len(pred) == 1:
            return len(g & pred[0])
        return max(len(g & p) for p in pred)
    weights = [[len(g & p) for p in pred] for g in gold]
    if len(pred) == 2:  # two on each side: straight or crossed
        (a, b), (c, d) = weights
        return max(a + d, b + c)
    if len(gold) > _EXACT_MATCHING_LIMIT:
        return _greedy_overlap(weights)
    # Exact maximum-weight matching by dynamic programming over the subsets of the smaller side;
    # a sentence rarely has more than a few triggers of one event type.
    best = {0: 0}
    for j in range(len(pred)):
        column = [(1 << i, w[j]) for i, w in enumerate(weights) if w[j]]
        if not column:
            continue
        new = dict(best)
        for mask, value in best.items():
            for bit, w in column:
                if not mask & bit:
                    m = mask | bit
                    if new.get(m, -1) < value + w:
                        new[m] = value + w
        best = new
    return max(best.values())


# Above this many groups of one event type on the smaller side, matching falls back to greedy
# (largest overlap first), which can only under-count the overlap.
_EXACT_MATCHING_LIMIT = 12


def _greedy_overlap(weights: list[list[int]]) -> int:
    cells = sorted(
        ((w, i, j) for i, row in enumerate(weights) for j, w in enumerate(row) if w), reverse=True
    )
    used_i: set[int] = set()
    used_j: set[int] = set()
    total = 0
    for w, i, j in cells:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            total += w
    return total


def aligned_argument_f1(gold: Units, pred: Units) -> float:
    """F_full (Section 2.5.2, EE): F1 of role-argument pairs within matched trigger groups.

    Within each event type every gold trigger group is matched to at most one predicted group (and
    vice versa) so that the summed overlap of role-argument pairs is maximal; matched overlaps are
    true positives, every other pair a false positive or negative. With no role-argument pair on
    either side the score is 1.0.

    >>> g = Units("ee", groups=frozenset({("attack", "hit", frozenset({("victim", "him")}))}))
    >>> p = Units("ee", groups=frozenset({("attack", "struck", frozenset({("victim", "him")}))}))
    >>> aligned_argument_f1(g, p)
    1.0
    """
    by_type_g, n_gold = _by_event_type(gold)
    by_type_p, n_pred = _by_event_type(pred)
    return _aligned_f1(by_type_g, n_gold, by_type_p, n_pred)


def _by_event_type(units: Units) -> tuple[dict[str, list[frozenset]], int]:
    """Role-argument sets of the trigger groups by event type, and the number of pairs."""
    by_type: dict[str, list[frozenset]] = {}
    n = 0
    for event, _, args in units.groups:
        by_type.setdefault(event, []).append(args)
        n += len(args)
    return by_type, n


def _aligned_f1(
    by_type_g: dict[str, list[frozenset]],
    n_gold: int,
    by_type_p: dict[str, list[frozenset]],
    n_pred: int,
) -> float:
    if not n_gold + n_pred:
        return 1.0
    tp = 0
    for event, g in by_type_g.items():
        p = by_type_p.get(event)
        if p:
            tp += _max_overlap(g, p)
    return 2 * tp / (n_gold + n_pred)


# ----------------------------------------------------------------------------- scoring

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


# Each task's scorer measures the task's terms, weights them into the coarse level, the fine level
# and the penalty of the configured variant, and builds the result in one go: this runs once per
# rollout. Intersections are counted once and the other set sizes derived from them
# (|G ^ P| = |G| + |P| - 2|G & P|, |G | P| = |G| + |P| - |G & P|).

_new_result = partial(tuple.__new__, SFRResult)  # positional, without NamedTuple's Python __new__


def _result(
    task: str,
    cfg: SFRConfig,
    parsed: bool,
    clean: bool,
    coarse: float,
    fine: float,
    penalty: float,
    measured: dict[str, float],
) -> SFRResult:
    raw = coarse + fine - penalty if parsed else cfg.floor(task)
    score = raw
    if cfg.clip:
        lo, hi = cfg.clip_range
        score = lo if raw < lo else hi if raw > hi else raw
    terms = {
        "score": score,
        "raw": raw,
        "coarse": coarse,
        "fine": fine,
        "penalty": penalty,
        "parsed": 1.0 if parsed else 0.0,
        "clean": 1.0 if clean and parsed else 0.0,
    }
    terms.update(measured)
    return _new_result((score, terms, task))


def _single_level(
    variant: str,
    c_reward: float,
    c_pen: float,
    c_weight: float,
    f_reward: float,
    f_pen: float,
    f_weight: float,
) -> tuple[float, float, float]:
    """(coarse, fine, penalty) of a single-level variant: its level alone, rescaled so that its
    positive weights sum to 1 (its penalties by the same factor)."""
    if variant == "coarse":
        scale = 1.0 / c_weight if c_weight > 0 else 1.0
        return c_reward * scale, 0.0, c_pen * scale
    scale = 1.0 / f_weight if f_weight > 0 else 1.0
    return 0.0, f_reward * scale, f_pen * scale


def _ner_score(g: Units, p: Units, cfg: SFRConfig, parsed: bool, clean: bool) -> SFRResult:
    w = cfg.ner
    gt, pt, gp, pp = g.types, p.types, g.pairs, p.pairs
    ng, npred = len(gt), len(pt)
    it = len(gt & pt) if npred else 0
    ngp, npp = len(gp), len(pp)
    ip = len(gp & pp) if npp else 0
    cov_t = it / ng if ng else (1.0 if cfg.perfect_empty and not npred else 0.0)
    f1_p = 2 * ip / (ngp + npp) if ngp + npp else 1.0
    delta_t = (ng + npred - 2 * it) / (ng or 1)
    delta_p = (ngp + npp - 2 * ip) / (ngp or 1)
    coarse, fine = w.w_t * cov_t, w.w_p * f1_p**w.gamma
    c_pen, f_pen = w.lambda_t * delta_t, w.lambda_p * delta_p
    if cfg.variant == "sfr":
        penalty = c_pen + f_pen
    else:
        coarse, fine, penalty = _single_level(cfg.variant, coarse, c_pen, w.w_t, fine, f_pen, w.w_p)
    measured = {"cov_t": cov_t, "f1_p": f1_p, "delta_t": delta_t, "delta_p": delta_p}
    return _result("ner", cfg, parsed, clean, coarse, fine, penalty, measured)


@lru_cache(maxsize=_GOLD_CACHE)
def _re_gold_views(g: Units) -> tuple[frozenset, frozenset]:
    # Gold units come from the ground-truth cache, so the same object is scored for every rollout
    # of its prompt: derive its head and tail sets once.
    return g.heads, g.tails


def _re_score(g: Units, p: Units, cfg: SFRConfig, parsed: bool, clean: bool) -> SFRResult:
    w = cfg.re
    pe = cfg.perfect_empty
    gt, pt, gr, pr = g.types, p.types, g.triples, p.triples
    gh, ga = _re_gold_views(g)
    ng, npred = len(gt), len(pt)
    ngr, npr = len(gr), len(pr)
    if npr:
        ph = {(t, h) for t, h, _ in pr}
        pa = {(t, a) for t, _, a in pr}
        it, ir = len(gt & pt), len(gr & pr)
        nh, na = len(ph), len(pa)
        ih, ia = len(gh & ph), len(ga & pa)
    else:
        it = ir = nh = na = ih = ia = 0
    ngh, nga = len(gh), len(ga)
    cov_t = it / ng if ng else (1.0 if pe and not npred else 0.0)
    f1_h = 2 * ih / (ngh + nh) if ngh + nh else 1.0
    f1_a = 2 * ia / (nga + na) if nga + na else 1.0
    f1_r = 2 * ir / (ngr + npr) if ngr + npr else 1.0
    union_t, union_r = ng + npred - it, ngr + npr - ir
    djac_t = 1.0 - it / union_t if union_t else (0.0 if pe else 1.0)
    djac_r = 1.0 - ir / union_r if union_r else (0.0 if pe else 1.0)
    coarse = w.w_t * cov_t
    fine = w.w_h * f1_h + w.w_a * f1_a + w.w_r * f1_r**w.gamma
    c_pen, f_pen = w.lambda_t * djac_t, w.lambda_r * djac_r
    if cfg.variant == "sfr":
        penalty = c_pen + f_pen
    else:
        f_weight = w.w_h + w.w_a + w.w_r
        coarse, fine, penalty = _single_level(
            cfg.variant, coarse, c_pen, w.w_t, fine, f_pen, f_weight
        )
    measured = {
        "cov_t": cov_t,
        "f1_h": f1_h,
        "f1_a": f1_a,
        "f1_r": f1_r,
        "djac_t": djac_t,
        "djac_r": djac_r,
    }
    return _result("re", cfg, parsed, clean, coarse, fine, penalty, measured)


@lru_cache(maxsize=_GOLD_CACHE)
def _ee_gold_views(g: Units) -> tuple[frozenset, frozenset, dict[str, list[frozenset]], int]:
    # Derived once per cached gold object (read-only afterwards), as for RE.
    return (g.events, g.triggers, *_by_event_type(g))


def _ee_score(g: Units, p: Units, cfg: SFRConfig, parsed: bool, clean: bool) -> SFRResult:
    w = cfg.ee
    pe = cfg.perfect_empty
    ge, gt, by_type_g, n_gold = _ee_gold_views(g)
    by_type_p, n_pred = _by_event_type(p)
    pt = {(e, t) for e, t, _ in p.groups}
    n_ge, n_pe = len(ge), len(by_type_p)
    i_e = sum(1 for e in by_type_p if e in ge)
    n_gt, n_pt = len(gt), len(pt)
    i_t = len(gt & pt) if n_pt else 0
    f_full = _aligned_f1(by_type_g, n_gold, by_type_p, n_pred)
    delta_e = (n_ge + n_pe - 2 * i_e) / (n_ge or 1)
    delta_t = (n_gt + n_pt - 2 * i_t) / (n_gt or 1)
    cov_e = i_e / n_ge if n_ge else (1.0 if pe and not n_pe else 0.0)
    cov_t = i_t / n_gt if n_gt else (1.0 if pe and not n_pt else 0.0)
    coarse = w.w_e * cov_e + w.w_t * cov_t
    fine = w.w_f * f_full**w.gamma
    # Eq. (9): the penalty looks at the coarsest level that is wrong, and only at that one.
    if delta_e > 0:
        c_pen, f_pen = w.lambda_e * delta_e, 0.0
    elif delta_t > 0:
        c_pen, f_pen = w.lambda_t * delta_t, 0.0
    else:
        c_pen, f_pen = 0.0, w.lambda_f * (1.0 - f_full)
    if cfg.variant == "sfr":
        penalty = c_pen + f_pen
    else:
        # fine-only: EE has no coarse branch left to defer to, so Eq. (9)'s residual term applies
        # whatever the event and trigger mismatch.
        if cfg.variant == "fine":
            f_pen = w.lambda_f * (1.0 - f_full)
        coarse, fine, penalty = _single_level(
            cfg.variant, coarse, c_pen, w.w_e + w.w_t, fine, f_pen, w.w_f
        )
    measured = {
        "cov_e": cov_e,
        "cov_t": cov_t,
        "f_full": f_full,
        "delta_e": delta_e,
        "delta_t": delta_t,
    }
    return _result("ee", cfg, parsed, clean, coarse, fine, penalty, measured)


def _slot_score(g: Units, p: Units, cfg: SFRConfig, parsed: bool, clean: bool) -> SFRResult:
    matches = slot_matches(g, p, ok=parsed)
    n = len(matches)
    right = sum(ok for _, ok in matches)
    acc = right / n if n else 1.0
    # The coarse/fine/penalty split does not apply: the reward is the accuracy itself.
    return _result(
        "slot",
        cfg,
        parsed,
        clean,
        0.0,
        acc,
        0.0,
        {"exact_acc": acc, "all_exact": float(right == n)},
    )


_SCORERS = {"ner": _ner_score, "re": _re_score, "ee": _ee_score, "slot": _slot_score}


def _empty_answer_floor(task: str, cfg: SFRConfig) -> float:
    """Reward of an empty answer to a sentence with gold units, before clipping.

    It is the exact minimum for RE (every RE term is bounded); for NER and EE, where Delta grows with
    over-generation, it is the minimum over outputs that generate no more units than the gold.
    """
    if task == "slot":
        return 0.0
    w = cfg.weights(task)
    if task == "ner":
        coarse, fine = (w.lambda_t, w.w_t), (w.lambda_p, w.w_p)
    elif task == "re":
        coarse, fine = (w.lambda_t, w.w_t), (w.lambda_r, w.w_h + w.w_a + w.w_r)
    else:
        coarse, fine = (w.lambda_e, w.w_e + w.w_t), (w.lambda_f, w.w_f)
    if cfg.variant == "sfr":
        return -(coarse[0] + fine[0]) if task != "ee" else -w.lambda_e
    pen, weight = coarse if cfg.variant == "coarse" else fine
    return -pen / weight if weight > 0 else -pen


def score_units(
    gold: Units,
    pred: Units,
    config: SFRConfig | None = None,
    *,
    parsed: bool = True,
    clean: bool = True,
) -> SFRResult:
    """SFR of predicted units against gold units (both of one task).

    ``parsed=False`` marks an output without a JSON object: its reward is ``config.floor(task)``
    and its measurements are those of an empty answer. ``clean`` only feeds the ``clean`` term.

    >>> from prouie.units import Units
    >>> g = Units("re", types=frozenset({"used for"}),
    ...           triples=frozenset({("used for", "surface", "algorithm")}))
    >>> score_units(g, Units("re")).terms["djac_r"]
    1.0
    """
    task = gold.task
    if pred.task != task:
        raise ValueError(f"gold units are {task!r} but predicted units are {pred.task!r}")
    scorer = _SCORERS.get(task)
    if scorer is None:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if not parsed and task != "slot":
        pred = empty_units(task)
    return scorer(gold, pred, config or DEFAULT_CONFIG, parsed, clean)


DEFAULT_CONFIG = SFRConfig()


# ----------------------------------------------------------------------------- ground truth


class GroundTruthError(ValueError):
    """A ground truth that is not a valid SFR ground truth (a data error, never a model error)."""


class GroundTruth(NamedTuple):
    """What the reward needs about one prompt: task, schema, input text and gold units."""

    task: str
    labels: tuple[str, ...]
    roles: tuple[str, ...]
    text: str
    units: Units
    id: str = ""
    # The gold target's objects, so that a rollout equal to it skips unit extraction (None when
    # the ground truth carries no target, or its target does not parse back to the gold units).
    ref: Reference | None = None
    # The result of an output equal to the gold target, per SFRConfig, filled as rollouts come
    # (most rollouts of a trained model are the target itself); None: not cached.
    perfect: dict[SFRConfig, SFRResult] | None = None


def encode_ground_truth(ex: Any) -> str:
    """The ground-truth string of a canonical record, as EasyR1 / verl / TRL datasets carry it.

    A JSON object: ``format``, ``id``, ``task``, ``labels``, ``roles`` (EE), ``text`` (the input, which
    the parser needs to split RE pairs) and ``gold``: the SA target text when it parses back to the
    record's units (one parse per prompt then yields the gold units, and rollouts equal to it skip
    unit extraction), else the gold units as lists (``pairs`` / ``triples`` / ``groups`` /
    ``slots``), sorted so that equal records give equal strings, with the SA target beside them as
    ``target`` (a hint, trusted only when it parses to the same units).

    >>> ex = {"id": "1", "task": "ner", "labels": ["person"], "text": "Kevin",
    ...       "entities": [{"type": "person", "text": "Kevin", "start": 0, "end": 5}]}
    >>> json.loads(encode_ground_truth(ex))["gold"]
    '{"person": "Kevin"}'
    >>> clash = {**ex, "text": "A | B", "entities": [{"type": "person", "text": "A | B"}]}
    >>> gt = json.loads(encode_ground_truth(clash))
    >>> gt["gold"], gt["target"]
    ({'pairs': [['person', 'A | B']]}, '{"person": "A | B"}')
    """
    from prouie.units import units_from_example

    units = units_from_example(ex)
    task = ex["task"]
    target = render_target(ex, "sa")
    if round_trips(ex, "sa", target):
        # The SA target parses back to exactly these units: carrying it alone is cheaper to read
        # (one parse per prompt gives the gold units and the shortcut for rollouts equal to it).
        gold: Any = target
    elif task == "ner":
        gold = {"pairs": sorted(map(list, units.pairs))}
    elif task == "re":
        gold = {"triples": sorted(map(list, units.triples))}
    elif task == "ee":
        gold = {"groups": sorted([e, t, sorted(map(list, args))] for e, t, args in units.groups)}
    else:
        gold = {"slots": [list(s) for s in units.slots]}
    obj = {
        "format": GROUND_TRUTH_FORMAT,
        "id": str(ex.get("id", "")),
        "task": task,
        "labels": list(ex["labels"]),
        "roles": list(ex.get("roles") or []) if task == "ee" else [],
        "text": ex["text"],
        "gold": gold,
    }
    if gold is not target:
        obj["target"] = target  # a hint for a record whose gold had to be written as units
    return json.dumps(obj, ensure_ascii=False)


def decode_ground_truth(ground_truth: str | Mapping[str, Any]) -> GroundTruth:
    """Read a ground truth written by :func:`encode_ground_truth` (JSON string or mapping).

    ``gold`` may also be a target text (``'{"person": "Kevin"}'``, the SA or CM target), read by the
    same unit extractor as model outputs. Raises :class:`GroundTruthError` naming the field.
    Strings are cached: in GRPO every prompt's ground truth is scored once per rollout.
    """
    if isinstance(ground_truth, str):
        return _decode_cached(ground_truth)
    if isinstance(ground_truth, Mapping):
        return _decode_obj(_plain(ground_truth))
    raise GroundTruthError(
        f"SFR ground truth must be a JSON string or a mapping, got {type(ground_truth).__name__}"
    )


@lru_cache(maxsize=_GOLD_CACHE)
def _decode_cached(ground_truth: str) -> GroundTruth:
    try:
        obj = orjson.loads(ground_truth)
    except orjson.JSONDecodeError:
        pass  # stricter than json (NaN, huge integers, lone surrogates): let json decide
    else:
        return _decode_obj(obj)
    try:
        obj = json.loads(ground_truth)
    except json.JSONDecodeError as exc:
        raise GroundTruthError(
            f"SFR ground truth is not JSON ({exc.msg} at column {exc.colno}): {ground_truth[:80]!r}"
        ) from None
    return _decode_obj(obj)


def _field(obj: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in obj:
        raise GroundTruthError(f"SFR ground truth{where}: field '{name}' is missing")
    value = obj[name]
    if not isinstance(value, kind):
        raise GroundTruthError(
            f"SFR ground truth{where}: field '{name}' must be {kind.__name__}, "
            f"got {type(value).__name__}"
        )
    return value


def _strings(value: Any, n: int, name: str, where: str) -> list[tuple]:
    if not isinstance(value, list | tuple):
        raise GroundTruthError(f"SFR ground truth{where}: field 'gold.{name}' must be a list")
    out = []
    for i, item in enumerate(value):
        if (
            not isinstance(item, list | tuple)
            or len(item) != n
            or not all(isinstance(s, str) for s in item)
        ):
            raise GroundTruthError(
                f"SFR ground truth{where}: field 'gold.{name}[{i}]' must be a list of {n} strings, "
                f"got {item!r}"
            )
        out.append(tuple(item))
    return out


def _decode_obj(obj: Any) -> GroundTruth:
    if not isinstance(obj, Mapping):
        raise GroundTruthError(f"SFR ground truth must be a JSON object, got {type(obj).__name__}")
    where = f" (id {obj['id']!r})" if obj.get("id") else ""
    fmt = obj.get("format", GROUND_TRUTH_FORMAT)
    if fmt != GROUND_TRUTH_FORMAT:
        raise GroundTruthError(
            f"SFR ground truth{where}: field 'format' is {fmt!r}; this version reads "
            f"{GROUND_TRUTH_FORMAT!r} (re-run `prouie export-rl`)"
        )
    task = _field(obj, "task", str, where)
    if task not in TASKS:
        raise GroundTruthError(
            f"SFR ground truth{where}: field 'task' must be one of {', '.join(TASKS)}, got {task!r}"
        )
    labels = tuple(_field(obj, "labels", list | tuple, where))
    roles = tuple(obj.get("roles") or ())
    text = _field(obj, "text", str, where)
    gold = _field(obj, "gold", dict | str, where)
    target = obj.get("target")
    if isinstance(gold, str):
        ref = reference([gold], task, labels, roles or None, text)
        # A clean target gives the units directly; anything else goes the checking way.
        units = ref.units if ref else _units_of_target(gold, task, labels, roles, text, where)
    else:
        units = _units_of_gold(gold, task, labels, where)
        ref = (
            reference([target], task, labels, roles or None, text)
            if isinstance(target, str)
            else None
        )
    if ref is not None and ref.units != units:
        ref = None  # a target that disagrees with the gold units is only a hint, never trusted
    return GroundTruth(task, labels, roles, text, units, str(obj.get("id", "")), ref, {})


def _units_of_target(
    target: str, task: str, labels: tuple, roles: tuple, text: str, where: str
) -> Units:
    from prouie.units import units_from_obj

    try:
        obj = json.loads(target)
    except json.JSONDecodeError as exc:
        raise GroundTruthError(
            f"SFR ground truth{where}: field 'gold' is not a JSON target ({exc.msg})"
        ) from None
    if not isinstance(obj, dict):
        raise GroundTruthError(f"SFR ground truth{where}: field 'gold' must hold a JSON object")
    units, problems = units_from_obj(obj, task, labels, roles or None, text)
    bad = [
        p
        for p in problems
        if p.kind in ("unknown_key", "non_string_value", "malformed_pair", "malformed_group")
    ]
    if bad:
        raise GroundTruthError(
            f"SFR ground truth{where}: field 'gold': {bad[0].kind} ({bad[0].key}: {bad[0].detail})"
        )
    return units


def _units_of_gold(gold: Mapping[str, Any], task: str, labels: tuple, where: str) -> Units:
    known = set(labels)
    if task == "ner":
        pairs = frozenset(_strings(gold.get("pairs", []), 2, "pairs", where))
        _check_labels((t for t, _ in pairs), known, where)
        return Units(task, types=frozenset(t for t, _ in pairs), pairs=pairs)
    if task == "re":
        triples = frozenset(_strings(gold.get("triples", []), 3, "triples", where))
        _check_labels((t for t, _, _ in triples), known, where)
        return Units(task, types=frozenset(t for t, _, _ in triples), triples=triples)
    if task == "ee":
        raw = gold.get("groups", [])
        if not isinstance(raw, list | tuple):
            raise GroundTruthError(f"SFR ground truth{where}: field 'gold.groups' must be a list")
        merged: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for i, item in enumerate(raw):
            if (
                not isinstance(item, list | tuple)
                or len(item) != 3
                or not isinstance(item[0], str)
                or not isinstance(item[1], str)
            ):
                raise GroundTruthError(
                    f"SFR ground truth{where}: field 'gold.groups[{i}]' must be "
                    f"[event type, trigger, [[role, argument], ...]], got {item!r}"
                )
            args = _strings(item[2], 2, f"groups[{i}][2]", where)
            merged.setdefault((item[0], item[1]), set()).update(args)
        _check_labels((e for e, _ in merged), known, where)
        groups = frozenset((e, t, frozenset(a)) for (e, t), a in merged.items())
        return Units(task, types=frozenset(e for e, _ in merged), groups=groups)
    slots = _strings(gold.get("slots", []), 2, "slots", where)
    values = dict(slots)
    _check_labels(values, known, where)
    return Units(task, slots=tuple((s, values.get(s, "")) for s in labels))


def _check_labels(types: Any, known: set[str], where: str) -> None:
    for t in types:
        if t not in known:
            raise GroundTruthError(
                f"SFR ground truth{where}: gold type {t!r} is not in field 'labels'"
            )


# ----------------------------------------------------------------------------- entry point


def score_response(
    response: Any, ground_truth: str | Mapping[str, Any], config: SFRConfig | None = None
) -> SFRResult:
    """SFR of one model response against a ground truth from :func:`encode_ground_truth`.

    The response goes through :func:`prouie.parsing.parse_output` (never raises); an output with no
    JSON object scores the minimum. A malformed ground truth raises :class:`GroundTruthError`.

    >>> gt = ('{"task": "ner", "labels": ["person"], "text": "Kevin and Therese", '
    ...       '"gold": {"pairs": [["person", "Kevin"], ["person", "Therese"]]}}')
    >>> score_response('{"person": "Kevin | Therese"}', gt).score
    1.0
    >>> score_response("no idea", gt).terms["parsed"]
    0.0
    """
    return _score(response, ground_truth, config or DEFAULT_CONFIG)


def _score(response: Any, ground_truth: str | Mapping[str, Any], cfg: SFRConfig) -> SFRResult:
    gt = (
        _decode_cached(ground_truth)
        if type(ground_truth) is str
        else decode_ground_truth(ground_truth)
    )
    ref = gt.ref
    parsed = parse_output(response, gt.task, gt.labels, gt.roles, gt.text, ref)
    if ref is not None and parsed.units is ref.units:
        # The output is the gold target itself: its result is computed once per prompt.
        cache = gt.perfect
        best = cache.get(cfg) if cache is not None else None
        if best is None:
            best = score_units(gt.units, gt.units, cfg)
            if cache is not None:
                cache[cfg] = best
        return _new_result((best.score, dict(best.terms), best.task))
    return score_units(gt.units, parsed.units, cfg, parsed=parsed.ok, clean=not parsed.problems)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is scored.

    Scoring allocates many short-lived, acyclic objects (freed by reference counting alone), and
    every collection they trigger also walks the framework's own large live heap (a training batch
    holds hundreds of thousands of objects): in a reward worker that costs more than the scoring.
    The previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


SUB_SCORE_MODES = ("task", "common")


def check_sub_scores(mode: str) -> str:
    """Validate a ``sub_scores`` option: ``task`` (every term of the sample's task) or ``common``
    (only :data:`COMMON_KEYS`, the same for every task, for batches that mix tasks)."""
    if mode not in SUB_SCORE_MODES:
        raise ValueError(
            f"unknown sub_scores {mode!r}; expected one of {', '.join(SUB_SCORE_MODES)}"
            + _suggest(str(mode), SUB_SCORE_MODES)
        )
    return mode


def select_terms(result: SFRResult, mode: str = "task") -> dict[str, float]:
    """The sub-scores a framework logs for one sample (``mode`` as in :func:`check_sub_scores`).

    >>> r = SFRResult(1.0, {"score": 1.0, "raw": 1.0, "coarse": 0.2, "fine": 0.8, "penalty": 0.0,
    ...                     "parsed": 1.0, "clean": 1.0, "exact_acc": 1.0}, "slot")
    >>> list(select_terms(r, "common"))
    ['score', 'raw', 'coarse', 'fine', 'penalty', 'parsed', 'clean']
    """
    if mode == "common":
        return {k: result.terms[k] for k in COMMON_KEYS}
    return dict(result.terms)
