"""The reward as the frameworks call it: one response against one ground-truth string.

:func:`score_response` is the single entry of the EasyR1, verl and TRL adapters in
:mod:`prouie.integrations`; :func:`select_terms` picks the sub-scores they log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prouie.parsing import parse_output
from prouie.settings import suggest
from prouie.sfr.config import SFRConfig
from prouie.sfr.ground_truth import decode_ground_truth
from prouie.sfr.scorers import COMMON_KEYS, SFRResult, score_units


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
    gt = decode_ground_truth(ground_truth)
    parsed = parse_output(response, gt.task, gt.labels, gt.roles, gt.text)
    return score_units(gt.units, parsed.units, config, parsed=parsed.ok, clean=not parsed.problems)


SUB_SCORE_MODES = ("task", "common")


def check_sub_scores(mode: str) -> str:
    """Validate a ``sub_scores`` option: ``task`` (every term of the sample's task) or ``common``
    (only :data:`COMMON_KEYS`, the same for every task, for batches that mix tasks)."""
    if mode not in SUB_SCORE_MODES:
        raise ValueError(
            f"unknown sub_scores {mode!r}; expected one of {', '.join(SUB_SCORE_MODES)}"
            + suggest(str(mode), SUB_SCORE_MODES)
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
