"""EasyR1 contract of ``rewards/sfr_easyr1.py`` and of the exported data.

EasyR1 installs a top-level package named ``verl`` and so cannot live beside PyPI verl in this
environment; the tests reproduce its logic instead, from hiyouga/EasyR1 at commit
b44b311b669bf1fd1aa2fc36f2251482ba33cb16:

- ``verl/workers/reward/config.py`` (``RewardConfig.post_init``: ``path:function``, default ``main``)
- ``verl/workers/reward/function.py`` (``AutoRewardManager.__init__`` loading the file with
  ``spec_from_file_location("custom_reward_fn", ...)``, ``REWARD_NAME`` / ``REWARD_TYPE``,
  ``partial(fn, **reward_function_kwargs)``; ``compute_reward_batch``)
- ``verl/trainer/metrics.py`` (``reduce_metrics``: ``np.mean`` per key)
- ``verl/utils/dataset.py`` (``load_dataset("json", data_files=...)``, ``_build_messages`` with the
  format prompt, ``ground_truth = example.pop(answer_key)``)
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from prouie.records import iter_jsonl
from prouie.rl_export import export
from prouie.sfr import COMMON_KEYS, encode_ground_truth, sub_score_keys
from prouie.targets import render_target, to_alpaca

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "de_records.jsonl"

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")


def load_like_easyr1(reward_function: str, reward_function_kwargs: dict[str, Any]) -> Any:
    """AutoRewardManager.__init__ + RewardConfig.post_init, paths resolved from the repo root."""
    if ":" not in reward_function:
        path, name = reward_function, "main"
    else:
        path, name = reward_function.rsplit(":", maxsplit=1)
    path = os.path.abspath(ROOT / path)
    assert os.path.exists(path), path
    spec = importlib.util.spec_from_file_location("custom_reward_fn", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_reward_fn"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("custom_reward_fn", None)
    assert hasattr(module, name)
    reward_fn = getattr(module, name)
    reward_name = getattr(module, "REWARD_NAME", "unknown")
    reward_type = getattr(module, "REWARD_TYPE", "batch")
    return partial(reward_fn, **reward_function_kwargs), reward_type, reward_name


def compute_reward_batch(
    reward_fn: Any, tokenizer: Any, responses: Any, response_mask: Any, ground_truths: list[str]
) -> tuple[Any, dict[str, list[float]]]:
    """BatchFunctionRewardManagerMixin.compute_reward_batch (skip_special_tokens=True)."""
    reward_inputs = []
    response_length = torch.sum(response_mask, dim=-1)
    for i in range(len(ground_truths)):
        cur_response_length = int(response_length[i].item())
        valid_response_ids = responses[i][:cur_response_length]
        response_str = tokenizer.decode(valid_response_ids, skip_special_tokens=True)
        reward_inputs.append(
            {
                "response": response_str,
                "response_length": cur_response_length,
                "ground_truth": ground_truths[i],
            }
        )
    scores = reward_fn(reward_inputs)
    reward_tensor = torch.zeros_like(responses, dtype=torch.float32)
    reward_metrics: dict[str, list[float]] = defaultdict(list)
    for i, score in enumerate(scores):
        cur_response_length = int(response_length[i].item())
        reward_tensor[i, cur_response_length - 1] = score["overall"]
        for key, value in score.items():
            reward_metrics[key].append(value)
    return reward_tensor, reward_metrics


def reduce_metrics(metrics: dict[str, list[Any]]) -> dict[str, Any]:
    return {key: np.mean(value) for key, value in metrics.items()}


def recipe(task: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "recipes" / f"de_{task}.yaml").read_text("utf-8"))


def tokenize(tokenizer: Any, texts: list[str]) -> tuple[Any, Any]:
    """Right-padded response ids and mask, each response ending with <|im_end|> as rollouts do."""
    ids = [
        tokenizer.encode(t, add_special_tokens=False)
        + [tokenizer.convert_tokens_to_ids("<|im_end|>")]
        for t in texts
    ]
    width = max(len(x) for x in ids) + 3
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    responses = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        responses[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    return responses, mask


@pytest.mark.parametrize("task", ["ner", "re", "ee"])
def test_reward_file_loads_and_scores_a_batch_like_easyr1(task: str, tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    cfg = recipe(task)["worker"]["reward"]
    reward_fn, reward_type, reward_name = load_like_easyr1(
        cfg["reward_function"], cfg.get("reward_function_kwargs", {})
    )
    assert reward_type == "batch" and reward_name == "prouie_sfr"

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    exs = [ex for ex in iter_jsonl(FIXTURE) if ex["task"] == task]
    gts = [encode_ground_truth(ex) for ex in exs]
    perfect = [render_target(ex, "sa") for ex in exs]
    texts = [perfect[0], "not json at all", "{}", perfect[1][: len(perfect[1]) // 2]]
    responses, mask = tokenize(tokenizer, texts)
    reward_tensor, metrics = compute_reward_batch(reward_fn, tokenizer, responses, mask, gts)

    lengths = mask.sum(-1)
    # The reward sits on the last response token (<|im_end|> is special and decoded away).
    assert reward_tensor[0, lengths[0] - 1].item() == pytest.approx(1.0)
    assert reward_tensor[1, lengths[1] - 1].item() == 0.0
    assert reward_tensor.sum(-1).tolist() == pytest.approx(metrics["overall"])
    # Every sample returned the same keys: "overall" plus the task's sub-scores.
    want = ["overall"] + [k for k in sub_score_keys(task) if k != "score"]
    assert list(metrics) == want
    assert all(len(v) == len(gts) for v in metrics.values())
    logged = reduce_metrics(metrics)
    assert logged["parsed"] == pytest.approx(3 / 4)
    assert all(np.isfinite(v) for v in logged.values())


def test_mixed_task_batch_falls_back_to_common_keys() -> None:
    reward_fn, _, _ = load_like_easyr1("rewards/sfr_easyr1.py:compute_score", {})
    exs = list(iter_jsonl(FIXTURE))
    inputs = [
        {
            "response": render_target(ex, "sa"),
            "response_length": 1,
            "ground_truth": encode_ground_truth(ex),
        }
        for ex in exs
    ]
    scores = reward_fn(inputs)
    assert {tuple(s) for s in scores} == {("overall",) + COMMON_KEYS[1:]}
    # Empty gold (ner-4) keeps the paper's both-empty value; every other perfect answer scores 1.
    assert [s["overall"] for s in scores] == [0.8 if ex["id"] == "ner-4" else 1.0 for ex in exs]


def test_reward_kwargs_are_sfr_options() -> None:
    reward_fn, _, _ = load_like_easyr1(
        "rewards/sfr_easyr1.py:compute_score", {"variant": "coarse", "ner": {"w_t": 0.5}}
    )
    gt = json.dumps({"task": "ner", "labels": ["a"], "text": "x", "gold": {"pairs": [["a", "x"]]}})
    [score] = reward_fn([{"response": '{"a": "y"}', "response_length": 3, "ground_truth": gt}])
    assert score["overall"] == 1.0 and score["fine"] == 0.0  # the type is right: coarse-only is 1
    bad_fn, _, _ = load_like_easyr1("rewards/sfr_easyr1.py:compute_score", {"varient": "fine"})
    with pytest.raises(ValueError, match="did you mean 'variant'"):
        bad_fn([{"response": "{}", "response_length": 1, "ground_truth": gt}])


def test_exported_jsonl_loads_like_easyr1(tmp_path: Path, tiny_model: Path) -> None:
    datasets = pytest.importorskip("datasets")
    from jinja2 import Template
    from transformers import AutoTokenizer

    cfg = recipe("re")["data"]
    out = tmp_path / "re_train.jsonl"
    export("easyr1", [FIXTURE], out, task="re")

    # RLHFDataset.__init__: a local file, type from the extension ("jsonl" -> "json"), split "train".
    file_type = os.path.splitext(str(out))[-1][1:].replace("jsonl", "json")
    dataset = datasets.load_dataset(file_type, data_files=str(out), split="train")
    with open(ROOT / cfg["format_prompt"], encoding="utf-8") as f:
        format_prompt = f.read()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    exs = [ex for ex in iter_jsonl(FIXTURE) if ex["task"] == "re"]
    assert len(dataset) == len(exs)
    for example, ex in zip(dataset, exs, strict=True):
        example = dict(example)
        # _build_messages (text only: no image / video column)
        assert cfg["image_key"] not in example and cfg["video_key"] not in example
        prompt_str = Template(format_prompt.strip()).render(content=example[cfg["prompt_key"]])
        messages = [{"role": "user", "content": prompt_str}]
        alpaca = to_alpaca(ex, "sa")
        assert prompt_str == alpaca["instruction"] + "\n" + alpaca["input"]
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        assert prompt.endswith("<|im_start|>assistant\n")
        ground_truth = example.pop(cfg["answer_key"])
        reward_fn, _, _ = load_like_easyr1("rewards/sfr_easyr1.py:compute_score", {})
        [score] = reward_fn(
            [{"response": alpaca["output"], "response_length": 1, "ground_truth": ground_truth}]
        )
        assert score["overall"] == 1.0
