"""The LDA loop end to end with the real ``llamafactory-cli train`` on a tiny local model: two
rounds, killed during round 1's training and resumed; and the scorer's token ids against the ones
LLaMA-Factory trains on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from prouie.records import iter_jsonl

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "llamafactory"
# CPU settings for the recipe: one step, no bf16, no DeepSpeed, no worker processes.
CPU_OVERRIDES = [
    "max_steps=1",
    "bf16=false",
    "deepspeed=null",
    "per_device_train_batch_size=2",
    "gradient_accumulation_steps=1",
    "preprocessing_num_workers=1",
    "dataloader_num_workers=0",
]


def perturbed(ex: dict, kind: str) -> dict:
    """A perturbed copy of a record: its text (and every gold string) lower- or upper-cased."""
    change = str.lower if kind == "lowercase" else str.upper

    def span(s: dict) -> dict:
        return {**s, "text": change(s["text"])}

    return {
        **ex,
        "id": f"{ex['id']}-{kind}",
        "text": change(ex["text"]),
        "entities": [span(e) for e in ex.get("entities", [])],
        "relations": [
            {**r, "head": span(r["head"]), "tail": span(r["tail"])} for r in ex.get("relations", [])
        ],
        "meta": {**(ex.get("meta") or {}), "perturbation": kind, "parent_id": ex["id"]},
    }


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _env(work: Path) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(work / "hf_cache"))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _setup(work: Path, tiny_model: Path, **extra) -> Path:
    original = [ex for t in ("ner", "re") for ex in iter_jsonl(FIXTURES / f"{t}.jsonl")]
    augmented = [perturbed(ex, k) for k in ("lowercase", "uppercase") for ex in original]
    validation = original[:2] + [perturbed(ex, "lowercase") for ex in original[:2]]
    cfg = {
        "model": str(tiny_model),
        "original": str(_write(work / "train.jsonl", original)),
        "augmented": str(_write(work / "augmented.jsonl", augmented)),
        "validation": str(_write(work / "dev.jsonl", validation)),
        "out": str(work / "lda"),
        "train_recipe": str(REPO / "recipes" / "lda_train.yaml"),
        "train_overrides": CPU_OVERRIDES,
        "cutoff_len": 1024,
        "beta": 0.2,
        "delta": -1.0,  # a random tiny model gains nothing: run to the round limit
        "max_rounds": 2,
        "scoring": {"backend": "transformers", "batch_size": 8},
        "predict": {"backend": "transformers", "batch_size": 4, "max_new_tokens": 8},
        **extra,
    }
    path = work / "lda.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _prouie(args: list[str], work: Path, **kw) -> subprocess.Popen:
    log = (work / "log.txt").open("a")
    return subprocess.Popen(
        [sys.executable, "-m", "prouie.cli", *args],
        cwd=work,
        env=_env(work),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # one process group: the kill takes llamafactory-cli down too
        **kw,
    )


def _state(work: Path) -> dict:
    path = work / "lda" / "lda_state.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


@pytest.mark.framework
def test_two_rounds_killed_in_round_one_and_resumed(tmp_path: Path, tiny_model: Path) -> None:
    cfg = _setup(tmp_path, tiny_model)
    proc = _prouie(["lda", "--config", str(cfg)], tmp_path)
    # Kill the whole process group once round 1 has selected its samples (its training runs).
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None:
        rounds = {r["round"]: r for r in _state(tmp_path).get("rounds", [])}
        if "selected" in rounds.get(1, {}).get("phases", []):
            break
        time.sleep(0.5)
    assert proc.poll() is None, (tmp_path / "log.txt").read_text()[-4000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    out = tmp_path / "lda"
    round0 = (out / "round_0" / "model" / "model.safetensors").stat().st_mtime_ns
    scores1 = (out / "round_1" / "scores.jsonl").read_text()
    assert "trained" not in _state(tmp_path)["rounds"][1]["phases"]

    proc = _prouie(["lda", "--config", str(cfg)], tmp_path)
    assert proc.wait(timeout=1500) == 0, (tmp_path / "log.txt").read_text()[-6000:]

    # Resumed in round 1: round 0 was not trained again, round 1's scores were not recomputed.
    assert (out / "round_0" / "model" / "model.safetensors").stat().st_mtime_ns == round0
    assert (out / "round_1" / "scores.jsonl").read_text() == scores1
    report = json.loads((out / "lda_report.json").read_text())
    assert report["stop_reason"] == "round limit 2 reached"
    augmented = list(iter_jsonl(tmp_path / "augmented.jsonl"))
    n_groups = len({(ex["dataset"], ex["meta"]["perturbation"]) for ex in augmented})
    rows = report["rounds"]
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert [r["beta"] for r in rows] == [0.0, 0.2, 0.1]
    # Each (dataset, perturbation) group of 4-6 samples keeps ceil(beta * n) samples.
    assert rows[1]["samples"] >= n_groups and rows[2]["samples"] >= n_groups
    assert 0 < rows[1]["cumulative_share"] <= rows[2]["cumulative_share"] <= 1
    assert all(r["f1"] is not None and "lowercase" in r["f1_by_perturbation"] for r in rows)
    for r in (1, 2):
        scores = [
            json.loads(x) for x in (out / f"round_{r}" / "scores.jsonl").read_text().splitlines()
        ]
        assert {s["id"] for s in scores} == {ex["id"] for ex in augmented}
        assert (out / f"round_{r}" / "model" / "model.safetensors").is_file()
        # The round trained on its selected samples: the highest-loss ones of each group.
        top = max(scores, key=lambda s: s["loss"])["id"]
        assert top in (out / f"round_{r}" / "selected_ids.txt").read_text().split()
    info = json.loads((out / "data" / "dataset_info.json").read_text())
    assert any(k.startswith("lda_round1_") for k in info)
    assert any(k.startswith("lda_round2_") for k in info)
    assert (out / "lda_report.png").stat().st_size > 0
    assert "round limit 2 reached" in (out / "lda_report.md").read_text()


@pytest.mark.framework
def test_scorer_tokens_are_the_tokens_llamafactory_trains_on(tmp_path: Path, tiny_model) -> None:
    from datasets import load_from_disk
    from prouie.integrations.loss_scoring import TrainingEncoder, record_turns
    from prouie.robust.lda import write_dataset
    from transformers import AutoTokenizer

    records = [ex for t in ("ner", "re", "ee") for ex in iter_jsonl(FIXTURES / f"{t}.jsonl")]
    names = write_dataset(records, tmp_path / "data", "check", "cm")
    cutoff = 96  # short enough that the cut-off trims some samples
    proc = subprocess.run(
        [
            "llamafactory-cli",
            "train",
            str(REPO / "recipes" / "lda_train.yaml"),
            f"model_name_or_path={tiny_model}",
            f"dataset={','.join(names)}",
            f"dataset_dir={tmp_path / 'data'}",
            f"output_dir={tmp_path / 'out'}",
            f"tokenized_path={tmp_path / 'tok'}",
            f"cutoff_len={cutoff}",
            *CPU_OVERRIDES,
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    rows = load_from_disk(str(tmp_path / "tok"))["train"]
    trained = Counter((tuple(r["input_ids"]), tuple(r["labels"])) for r in rows)
    encode = TrainingEncoder(AutoTokenizer.from_pretrained(tiny_model), "qwen3_nothink", cutoff)
    ours = Counter(
        (tuple(e.input_ids), tuple(e.labels))
        for e in (encode(*record_turns(ex, "cm")) for ex in records)
    )
    assert ours == trained
    assert any(len(ids) == cutoff for ids, _ in ours)


@pytest.mark.framework
def test_random_selection_from_a_checkpoint_keeps_the_loss_budget(
    tmp_path: Path, tiny_model
) -> None:
    # start_checkpoint skips round 0's training; one augmented round; no scoring for random.
    cfg = _setup(tmp_path, tiny_model, start_checkpoint=str(tiny_model), max_rounds=1)
    proc = _prouie(["lda", "--config", str(cfg), "--selection", "random"], tmp_path)
    assert proc.wait(timeout=900) == 0, (tmp_path / "log.txt").read_text()[-6000:]
    out = tmp_path / "lda"
    assert not (out / "round_1" / "scores.jsonl").exists()
    assert not (out / "round_0" / "model").exists()
    chosen = set((out / "round_1" / "selected_ids.txt").read_text().split())
    augmented = list(iter_jsonl(tmp_path / "augmented.jsonl"))
    per_group = Counter((ex["dataset"], ex["meta"]["perturbation"]) for ex in augmented)
    got = Counter(
        (ex["dataset"], ex["meta"]["perturbation"]) for ex in augmented if ex["id"] in chosen
    )
    assert got == {g: -(-n // 5) for g, n in per_group.items()}  # ceil(0.2 * n) per group
    report = json.loads((out / "lda_report.json").read_text())
    assert report["selection"] == "random"
    assert report["stop_reason"] == "round limit 1 reached"
    # The same command with the other selection refuses to mix into this folder.
    proc = _prouie(["lda", "--config", str(cfg)], tmp_path)
    assert proc.wait(timeout=300) == 2
    assert "holds a 'random' run" in (tmp_path / "log.txt").read_text()
