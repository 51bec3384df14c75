"""EasyR1 glue: the batch reward function that ``rewards/sfr_easyr1.py`` exposes.

EasyR1's ``AutoRewardManager`` (``verl/workers/reward/function.py``) loads the reward file by path,
reads the module attributes ``REWARD_NAME`` / ``REWARD_TYPE`` and, for ``REWARD_TYPE = "batch"``,
calls ``compute_score(reward_inputs, **worker.reward.reward_function_kwargs)`` once per batch with
dicts ``{"response", "response_length", "ground_truth"}``. It puts ``score["overall"]`` on the
last response token and averages every returned key into ``reward/<key>`` metrics, so each dict must
carry the same keys.

EasyR1 passes nothing but the ground truth, so the dataset's answer column holds the JSON string of
:func:`prouie.sfr.encode_ground_truth` (``prouie export-rl --target easyr1``). This module imports
nothing from EasyR1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prouie.sfr import (
    check_sub_scores,
    config_from_kwargs,
    score_response,
    select_terms,
)

REWARD_NAME = "prouie_sfr"
REWARD_TYPE = "batch"


def compute_score(
    reward_inputs: Sequence[Mapping[str, Any]], sub_scores: str = "task", **sfr_options: Any
) -> list[dict[str, float]]:
    """SFR of a batch of EasyR1 reward inputs: one dict per input, ``overall`` plus sub-scores.

    ``sfr_options`` are the SFR settings of :func:`prouie.sfr.config_from_kwargs` (``variant``,
    ``clip``, ``ner: {gamma: ...}``, ...), given as ``worker.reward.reward_function_kwargs``. Every
    dict carries the same keys: those of the batch's task, or only the task-independent ones when
    the batch mixes tasks or ``sub_scores="common"``.

    >>> gt = ('{"task": "ner", "labels": ["person"], "text": "Kevin", '
    ...       '"gold": {"pairs": [["person", "Kevin"]]}}')
    >>> out = compute_score([{"response": '{"person": "Kevin"}', "response_length": 7,
    ...                       "ground_truth": gt}])
    >>> out[0]["overall"], out[0]["f1_p"]
    (1.0, 1.0)
    """
    check_sub_scores(sub_scores)
    config = config_from_kwargs(**sfr_options)
    results = [
        score_response(item["response"], item["ground_truth"], config) for item in reward_inputs
    ]
    mode = sub_scores if len({r.task for r in results}) <= 1 else "common"
    scores = []
    for result in results:
        terms = select_terms(result, mode)
        overall = terms.pop("score")
        scores.append({"overall": overall, **terms})
    return scores
