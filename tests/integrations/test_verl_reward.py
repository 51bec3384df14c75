"""verl 0.9.1 loads the SFR reward through its own reward loop and scores a DataProto.

Uses the installed ``verl`` package: the flattened trainer config
(``verl/trainer/config/_generated_ppo_trainer.yaml``) with the reward overrides of
``recipes/de_verl.sh``, ``RewardLoopWorker`` (which calls ``load_reward_manager`` ->
``get_custom_reward_fn`` -> ``load_extern_object`` and builds the registered ``naive``
``NaiveRewardManager``), and the batch assembly of ``RewardLoopManager.compute_rm_score``
(``verl/experimental/reward_loop/reward_loop.py``), which needs Ray workers and is reproduced here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from prouie.records import iter_jsonl
from prouie.sfr import encode_ground_truth, sub_score_keys
from prouie.targets import render_target

try:
    import numpy as np
    import torch
    import verl
    from omegaconf import OmegaConf
    from verl import DataProto
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
except ImportError as exc:  # pragma: no cover - depends on the installation
    pytest.skip(
        f"verl is not importable ({exc}); install it with `pip install --no-deps verl==0.9.1` and "
        "its reward-loop imports (ray, tensordict, codetiming, ...)",
        allow_module_level=True,
    )

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "de_records.jsonl"
GENERATED = Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"


def script_overrides(path: Path) -> list[str]:
    """The key=value overrides of the training command in a launch script (continuations joined)."""
    text = path.read_text("utf-8").replace("\\\n", " ")
    command = next(line for line in text.splitlines() if "verl.trainer.main_ppo" in line)
    words = shlex.split(command, comments=False)
    return [w for w in words if re.match(r"^[+~]?[A-Za-z_][\w.]*=", w)]


def verl_config(tokenizer_dir: Path, reward_path: str | None = None) -> Any:
    """verl's trainer config with the recipe's reward overrides, the way Hydra would apply them:
    a plain override must name an existing key, a ``+`` override a new one."""
    cfg = OmegaConf.load(GENERATED)
    OmegaConf.set_struct(cfg, True)
    for override in script_overrides(ROOT / "recipes" / "de_verl.sh"):
        key, _, text = override.partition("=")
        value = yaml.safe_load(text)  # Hydra's override grammar types True / 1e-6 / [a] likewise
        if not key.lstrip("+").startswith("reward."):
            continue
        if key.startswith("+"):
            key = key[1:]
            assert OmegaConf.select(cfg, key) is None, f"+{key} exists already"
            with __import__("omegaconf").open_dict(cfg):
                OmegaConf.update(cfg, key, value, force_add=True)
        else:
            OmegaConf.update(cfg, key, value)  # raises in struct mode if the key does not exist
    if reward_path is not None:
        cfg.reward.custom_reward_function.path = reward_path
    elif not cfg.reward.custom_reward_function.path.startswith("pkg://"):
        cfg.reward.custom_reward_function.path = str(ROOT / cfg.reward.custom_reward_function.path)
    cfg.actor_rollout_ref.model.path = str(tokenizer_dir)
    return cfg


def data_proto(tokenizer: Any, rows: list[tuple[str, str, str]]) -> DataProto:
    """(data_source, response text, ground truth) rows as a left-padded prompt + right-padded
    response batch, the layout the rollout produces."""
    prompt = tokenizer.encode("<|im_start|>user\nextract<|im_end|>\n<|im_start|>assistant\n")
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    responses = [tokenizer.encode(text, add_special_tokens=False) + [end] for _, text, _ in rows]
    width = max(len(r) for r in responses) + 2
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    n = len(rows)
    prompts = torch.tensor([prompt] * n)
    resp = torch.full((n, width), pad, dtype=torch.long)
    attn = torch.zeros((n, len(prompt) + width), dtype=torch.long)
    attn[:, : len(prompt)] = 1
    for i, r in enumerate(responses):
        resp[i, : len(r)] = torch.tensor(r)
        attn[i, len(prompt) : len(prompt) + len(r)] = 1
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": resp,
            "attention_mask": attn,
            "input_ids": torch.cat([prompts, resp], dim=1),
        },
        non_tensors={
            "data_source": np.array([s for s, _, _ in rows], dtype=object),
            "reward_model": np.array(
                [{"style": "rule", "ground_truth": gt} for _, _, gt in rows], dtype=object
            ),
            "extra_info": np.array([{"index": i} for i in range(n)], dtype=object),
        },
    )


def compute_rm_score(worker: RewardLoopWorker, data: DataProto) -> tuple[Any, dict[str, Any]]:
    """RewardLoopManager.compute_rm_score with one in-process worker instead of Ray actors."""
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    scores = [item["reward_score"] for item in outputs]
    rm_scores = worker.reward_manager.assemble_rm_scores(data, scores)
    infos = [output.get("reward_extra_info", {}) for output in outputs]
    keys = list(infos[0].keys())
    extra = {key: np.array([info[key] for info in infos]) for key in keys}
    return rm_scores, extra


def rows_for(task: str) -> list[tuple[str, str, str]]:
    exs = [ex for ex in iter_jsonl(FIXTURE) if ex["task"] == task]
    gts = [encode_ground_truth(ex) for ex in exs]
    src = f"prouie/{task}/x"
    return [
        (src, render_target(exs[0], "sa"), gts[0]),
        (src, "Sorry, I can't help.", gts[1]),
        (src, "{}", gts[2]),
        (src, render_target(exs[3], "sa"), gts[3]),
    ]


@pytest.mark.framework
@pytest.mark.parametrize("task", ["ner", "re", "ee"])
def test_reward_loop_scores_the_file_reward(task: str, tiny_model: Path) -> None:
    cfg = verl_config(tiny_model)
    assert cfg.reward.custom_reward_function.name == "compute_score"
    assert cfg.reward.reward_manager.name == "naive"
    worker = RewardLoopWorker(cfg)
    assert type(worker.reward_manager).__name__ == "NaiveRewardManager"
    data = data_proto(worker.input_tokenizer, rows_for(task))
    rm_scores, extra = compute_rm_score(worker, data)

    prompt_len = data.batch["prompts"].shape[1]
    last = data.batch["attention_mask"][:, prompt_len:].sum(-1) - 1
    scores = rm_scores[torch.arange(len(data)), last].tolist()
    # ner-4 has no entity: a right empty answer scores the paper's both-empty value 0.8.
    want = [1.0, 0.0, 0.0, 0.8 if task == "ner" else 1.0]
    assert scores == pytest.approx(want)
    assert rm_scores.sum(-1).tolist() == pytest.approx(scores)
    assert list(extra) == list(sub_score_keys(task))
    assert extra["score"].tolist() == pytest.approx(scores)
    assert extra["parsed"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert extra["score"].dtype.kind == "f"


@pytest.mark.framework
def test_reward_loop_loads_the_package_path(tiny_model: Path) -> None:
    cfg = verl_config(tiny_model, reward_path="pkg://prouie.integrations.verl_reward")
    worker = RewardLoopWorker(cfg)
    rm_scores, extra = compute_rm_score(worker, data_proto(worker.input_tokenizer, rows_for("re")))
    assert extra["score"].tolist() == pytest.approx([1.0, 0.0, 0.0, 1.0])


@pytest.mark.framework
def test_reward_kwargs_reach_the_reward(tiny_model: Path) -> None:
    cfg = verl_config(tiny_model)
    assert dict(cfg.reward.custom_reward_function.reward_kwargs) == {"variant": "sfr", "clip": True}
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.reward.custom_reward_function.reward_kwargs.clip = False
        cfg.reward.custom_reward_function.reward_kwargs.sub_scores = "common"
    worker = RewardLoopWorker(cfg)
    rows = rows_for("ner")
    _, extra = compute_rm_score(worker, data_proto(worker.input_tokenizer, rows))
    assert "cov_t" not in extra
    assert extra["score"].tolist()[1] == pytest.approx(-0.8)  # unclipped NER floor


@pytest.mark.framework
def test_verl_dataset_reads_the_exported_parquet(tmp_path: Path, tiny_model: Path) -> None:
    from prouie.rl_export import export, rl_prompt
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    out = tmp_path / "ee_train.parquet"
    export("verl", [FIXTURE], out, task="ee")
    cfg = OmegaConf.load(GENERATED).data
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    dataset = RLHFDataset(data_files=str(out), tokenizer=tokenizer, config=cfg)
    exs = [ex for ex in iter_jsonl(FIXTURE) if ex["task"] == "ee"]
    assert len(dataset) == len(exs)
    for i, ex in enumerate(exs):
        row = dataset[i]
        assert row["raw_prompt"] == [{"role": "user", "content": rl_prompt(ex)}]
        assert row["data_source"] == f"prouie/ee/{ex['dataset']}"
        assert row["reward_model"]["ground_truth"] == encode_ground_truth(ex)
        assert row["index"] == i


def test_file_reward_matches_the_package_reward() -> None:
    from verl.utils.import_utils import load_extern_object

    by_file = load_extern_object(str(ROOT / "rewards" / "sfr_verl.py"), "compute_score")
    by_pkg = load_extern_object("pkg://prouie.integrations.verl_reward", "compute_score")
    _, text, gt = rows_for("ee")[0]
    assert by_file("s", text, gt) == by_pkg("s", text, gt)
    assert by_file("s", text, gt, extra_info={}, reward_router_address=None)["score"] == 1.0
    with pytest.raises(ValueError, match="unknown sub_scores"):
        by_pkg("s", text, gt, sub_scores="all")
