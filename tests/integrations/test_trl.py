"""TRL: SFR reward callables and the DE phases on GRPOTrainer (tiny local model, CPU)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from prouie.cli import main
from prouie.integrations.trl import SFRReward, completion_text, sfr_reward
from prouie.records import iter_jsonl
from prouie.sfr import encode_ground_truth, score_response
from prouie.targets import render_target

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "de_records.jsonl"
GT_NER = json.dumps(
    {"task": "ner", "labels": ["person"], "text": "Kevin", "gold": {"pairs": [["person", "Kevin"]]}}
)
GT_RE = json.dumps(
    {
        "task": "re",
        "labels": ["used for"],
        "text": "our algorithm uses a surface",
        "gold": {"triples": [["used for", "surface", "algorithm"]]},
    }
)


def test_completion_text_forms() -> None:
    assert completion_text("{}") == "{}"
    chat = [{"role": "assistant", "content": '{"a": "b"}'}]
    assert completion_text(chat) == '{"a": "b"}'
    parts = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "{"}, {"type": "text", "text": "}"}],
        }
    ]
    assert completion_text(parts) == "{}"
    turns = [
        {"role": "assistant", "content": "first"},
        {"role": "tool", "content": "x"},
        {"role": "assistant", "content": "last"},
    ]
    assert completion_text(turns) == "last"
    assert completion_text({"role": "assistant", "content": "one"}) == "one"
    assert completion_text(None) == "" and completion_text([{"role": "user", "content": "q"}]) == ""
    assert completion_text([{"role": "assistant", "content": None}]) == ""


def test_reward_on_strings_and_messages() -> None:
    reward = SFRReward()
    completions = [
        '{"person": "Kevin"}',
        [{"role": "assistant", "content": '{"person": "Kev"}'}],
        "??",
    ]
    scores = reward(completions, ground_truth=[GT_NER] * 3, prompts=["p"] * 3, trainer_state=None)
    assert scores == [1.0, 0.0, 0.0]
    assert reward.__name__ == "sfr"
    assert sfr_reward(completions, ground_truth=[GT_NER] * 3) == scores


def test_configured_variants_and_names() -> None:
    coarse = SFRReward("coarse-only")
    assert coarse.__name__ == "sfr_coarse"
    # The type is right, the entity wrong: coarse-only still pays in full.
    assert coarse(['{"person": "Kev"}'], ground_truth=[GT_NER]) == [1.0]
    fine = SFRReward("fine", clip=False, name="sfr_fine_raw")
    assert fine.__name__ == "sfr_fine_raw"
    assert fine(['{"person": "Kev"}'], ground_truth=[GT_NER])[0] == pytest.approx(-0.2 * 2 / 0.8)
    with pytest.raises(ValueError, match="unknown SFR variant"):
        SFRReward("finest")


def test_task_filter_returns_none_for_other_tasks() -> None:
    reward = SFRReward(task="re")
    assert reward.__name__ == "sfr_re"
    out = reward(
        ['{"person": "Kevin"}', '{"used for": "surface, algorithm"}'], ground_truth=[GT_NER, GT_RE]
    )
    assert out == [None, 1.0]


def test_missing_ground_truth_column_is_named() -> None:
    with pytest.raises(KeyError, match="'ground_truth'.*the dataset has: answer"):
        SFRReward()(["{}"], answer=["x"], prompts=["p"], trainer_state=None)
    with pytest.raises(ValueError):
        SFRReward()(["{}", "{}"], ground_truth=[GT_NER])  # zip(strict=True)


def test_reward_pickles() -> None:
    reward = SFRReward("fine", task="ner", ner={"gamma": 2.0})
    clone = pickle.loads(pickle.dumps(reward))
    assert clone.__name__ == reward.__name__ and clone.config == reward.config
    completions = ['{"person": "Kevin | Ann"}']
    assert clone(completions, ground_truth=[GT_NER]) == reward(completions, ground_truth=[GT_NER])


class RecordingReward(SFRReward):
    """SFRReward that keeps what GRPOTrainer passed it (module level, so it pickles)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []

    def __call__(self, completions: Any, **kwargs: Any) -> list[float | None]:
        scores = super().__call__(completions, **kwargs)
        self.calls.append({"completions": completions, "kwargs": kwargs, "scores": scores})
        return scores


@pytest.mark.framework
def test_grpo_trainer_runs_two_steps_with_sfr(tiny_model: Path, tmp_path: Path) -> None:
    from prouie.de import phase_rows
    from prouie.integrations.trl import run_grpo_phase

    rows, available = phase_rows(FIXTURE, "re", None, seed=0)
    assert available == len(rows) == 4
    reward = RecordingReward()
    history = run_grpo_phase(
        str(tiny_model),
        rows,
        tmp_path / "out",
        num_generations=4,
        num_train_epochs=1,
        reward=reward,
        grpo_args={
            "max_completion_length": 12,
            "max_prompt_length": 512,
            "report_to": "none",
            "bf16": False,
            "logging_steps": 1,
            "save_strategy": "no",
        },
        max_steps=2,
    )
    steps = [h for h in history if "rewards/sfr/mean" in h]
    assert [h["step"] for h in steps] == [1, 2]
    assert len(reward.calls) == 2
    gold = {row["ground_truth"] for row in rows}
    for call in reward.calls:
        completions, kwargs = call["completions"], call["kwargs"]
        assert len(completions) == 4  # one prompt, num_generations completions
        assert isinstance(completions[0], list) and completions[0][0]["role"] == "assistant"
        assert len(set(kwargs["ground_truth"])) == 1 and kwargs["ground_truth"][0] in gold
        assert kwargs["task"] == ["re"] * 4
        want = [
            score_response(completion_text(c), g).score
            for c, g in zip(completions, kwargs["ground_truth"], strict=True)
        ]
        assert call["scores"] == want
    for h, call in zip(steps, reward.calls, strict=True):
        assert h["rewards/sfr/mean"] == pytest.approx(sum(call["scores"]) / 4)
    assert (tmp_path / "out" / "config.json").is_file()
    assert (tmp_path / "out" / "tokenizer_config.json").is_file()


@pytest.mark.framework
def test_prouie_de_chains_the_three_phases(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "de"
    data = str(FIXTURE)
    rc = main(
        [
            "de", "--model", str(tiny_model),
            "--ner", data, "--re", data, "--ee", data,
            "--output-dir", str(out), "--max-steps", "2",
            "--grpo", "max_completion_length=8", "--grpo", "max_prompt_length=512",
        ]
    )  # fmt: skip
    assert rc == 0
    manifest = json.loads((out / "de_manifest.json").read_text("utf-8"))
    phases = manifest["phases"]
    assert [p["task"] for p in phases] == ["ner", "re", "ee"]
    assert [p["num_generations"] for p in phases] == [4, 8, 8]  # paper A.3
    assert [p["num_train_epochs"] for p in phases] == [2, 3, 3]  # paper A.3
    assert [p["steps"] for p in phases] == [2, 2, 2]  # --max-steps overrides the epochs
    assert phases[0]["model_in"] == str(tiny_model)
    assert phases[1]["model_in"] == phases[0]["output_dir"] == str(out / "1_ner")
    assert phases[2]["model_in"] == phases[1]["output_dir"] == str(out / "2_re")
    for p in phases:
        assert (Path(p["output_dir"]) / "config.json").is_file()
        history = json.loads((Path(p["output_dir"]) / "de_log_history.json").read_text("utf-8"))
        assert sum("rewards/sfr/mean" in h for h in history) == 2
    assert manifest["reward"] == {"variant": "sfr", "clip": True}


def test_phase_rows_sample_and_prompt(tmp_path: Path) -> None:
    from prouie.de import phase_rows
    from prouie.rl_export import rl_prompt

    rows, available = phase_rows(FIXTURE, "ner", 2, seed=3)
    assert available == 4 and len(rows) == 2
    by_gt = {encode_ground_truth(ex): ex for ex in iter_jsonl(FIXTURE)}
    for row in rows:
        ex = by_gt[row["ground_truth"]]
        assert row["prompt"] == [{"role": "user", "content": rl_prompt(ex)}]
        assert row["task"] == "ner"
        assert SFRReward()([render_target(ex, "sa")], ground_truth=[row["ground_truth"]])[0] >= 0.8
    all_rows, _ = phase_rows(FIXTURE, "ner", 80000, seed=0)
    assert len(all_rows) == 4  # fewer records than the paper's count: all are used
    ner_only = tmp_path / "ner.jsonl"
    ner_only.write_text(FIXTURE.read_text("utf-8").splitlines()[0] + "\n", "utf-8")
    with pytest.raises(ValueError, match="ner.jsonl: no ee records"):
        phase_rows(ner_only, "ee", None, 0)
