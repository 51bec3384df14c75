"""Stepwise Fine-grained Reward (SFR, paper Section 2.5.2, Eqs. 2-10; weights of Appendix A.3).

SFR scores one model output against the gold units of its sentence, from coarse units (types) to
fine units (type-value pairs, triples, role-argument pairs), minus a mismatch penalty. Where each
part lives:

- :mod:`~prouie.sfr.config`: the settings (weights, variant, clipping) and their validation;
- :mod:`~prouie.sfr.measures`: ``cov``, ``f1``, ``delta``, ``djac`` (Eqs. 3-6) and the EE
  trigger-aligned argument F1;
- :mod:`~prouie.sfr.scorers`: the per-task rewards (Eqs. 7-10, slot ExactAcc) over those measures;
- :mod:`~prouie.sfr.ground_truth`: the ground-truth string the RL datasets carry;
- :mod:`~prouie.sfr.reward`: :func:`score_response`, what every framework adapter calls.

Edge cases (empty gold, empty prediction, unparseable output) are documented in ``docs/de.md``.

>>> gt = encode_ground_truth({"id": "1", "task": "ner", "labels": ["person"], "text": "Kevin",
...                           "entities": [{"type": "person", "text": "Kevin"}]})
>>> score_response('{"person": "Kevin"}', gt).score
1.0
"""

from prouie.sfr.config import (
    DEFAULT_CONFIG,
    VARIANTS,
    EEWeights,
    NERWeights,
    REWeights,
    SFRConfig,
    config_from_kwargs,
    resolve_variant,
)
from prouie.sfr.ground_truth import (
    GROUND_TRUTH_FORMAT,
    GroundTruth,
    GroundTruthError,
    decode_ground_truth,
    encode_ground_truth,
)
from prouie.sfr.measures import aligned_argument_f1, cov, delta, djac, f1
from prouie.sfr.reward import check_sub_scores, score_response, select_terms
from prouie.sfr.scorers import COMMON_KEYS, TASK_KEYS, SFRResult, score_units, sub_score_keys

__all__ = [
    "COMMON_KEYS",
    "DEFAULT_CONFIG",
    "GROUND_TRUTH_FORMAT",
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
