"""verl glue: ``compute_score`` for ``reward.custom_reward_function`` (verl 0.9.1).

verl loads it either from a file (``reward.custom_reward_function.path=rewards/sfr_verl.py``) or
from this module (``path=pkg://prouie.integrations.verl_reward``), with
``reward.custom_reward_function.name=compute_score``. Its reward-loop ``NaiveRewardManager`` calls
``compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)`` once per
response, with ``reward.custom_reward_function.reward_kwargs`` merged in as keyword arguments
(``+reward.custom_reward_function.reward_kwargs.variant=fine`` on the command line). A dict result
must hold ``score``; its other keys become ``reward_extra_info`` columns, which verl builds from the
keys of the first sample of a batch, so every sample returns the same keys.

The ground truth is the parquet row's ``reward_model.ground_truth``: the JSON string of
:func:`prouie.sfr.encode_ground_truth` (``prouie export-rl --target verl``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prouie.sfr import check_sub_scores, config_from_kwargs, score_response, select_terms

# Keyword arguments verl's reward managers add on their own (reward-model routing); they are not
# SFR settings, so they are dropped instead of being rejected as unknown options.
FRAMEWORK_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: str | Mapping[str, Any],
    extra_info: Mapping[str, Any] | None = None,
    sub_scores: str = "task",
    **kwargs: Any,
) -> dict[str, float]:
    """SFR of one response for verl: ``{"score": ..., <sub-scores>}``.

    ``kwargs`` are SFR settings (:func:`prouie.sfr.config_from_kwargs`). The keys are those of the
    sample's task; a dataset that mixes tasks in one run needs ``sub_scores="common"`` (the
    task-independent keys only), because verl takes the key list from the first sample of a batch.

    >>> gt = ('{"task": "re", "labels": ["used for"], "text": "our algorithm uses a surface", '
    ...       '"gold": {"triples": [["used for", "surface", "algorithm"]]}}')
    >>> compute_score("prouie/re", '{"used for": "surface, algorithm"}', gt)["score"]
    1.0
    """
    check_sub_scores(sub_scores)
    options = {k: v for k, v in kwargs.items() if k not in FRAMEWORK_KWARGS}
    config = config_from_kwargs(**options)
    return select_terms(score_response(solution_str, ground_truth, config), sub_scores)
