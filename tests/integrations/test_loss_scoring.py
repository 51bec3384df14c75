"""Loss scoring: batched target-only scores equal a one-sample-at-a-time reference, on the token ids
LLaMA-Factory trains on; resume; sharding over two processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prouie.integrations.loss_scoring import (
    IGNORE_INDEX,
    MIN_SHARED_PREFIX,
    TransformersLossScorer,
    record_turns,
    score_records,
    shared_prefix,
)
from prouie.records import iter_jsonl
from prouie.robust.lda import read_scores

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "llamafactory"


def _records() -> list[dict]:
    # NER, RE and EE records: prompts and targets of very different lengths.
    return [ex for task in ("ner", "re", "ee") for ex in iter_jsonl(FIXTURES / f"{task}.jsonl")]


def _reference(model_dir: Path, encoded) -> list[float]:
    """The paper's way: one sample at a time, logits at every position, mean NLL of the targets."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for e in encoded:
            logits = model(torch.tensor([e.input_ids])).logits[0]
            logp = torch.log_softmax(logits.double(), dim=-1)
            nll = [
                -logp[t - 1, e.input_ids[t]].item()
                for t in range(1, len(e.input_ids))
                if e.labels[t] != IGNORE_INDEX
            ]
            out.append(sum(nll) / len(nll))
    return out


@pytest.mark.parametrize("side", ["right", "left"])
def test_batched_scores_equal_the_one_at_a_time_reference(tiny_model: Path, side: str) -> None:
    scorer = TransformersLossScorer(
        tiny_model, batch_size=5, padding_side=side, dtype="float32", device="cpu"
    )
    encoded = [scorer.encode(*record_turns(ex, "cm")) for ex in _records()]
    lengths = {len(e.input_ids) for e in encoded}
    assert len(lengths) > 5  # mixed lengths in each batch: padding is exercised
    # The records of one schema share their instruction: that prefix runs once per batch.
    ner = [e for e, ex in zip(encoded, _records(), strict=True) if ex["task"] == "ner"]
    assert shared_prefix(ner) >= MIN_SHARED_PREFIX
    got = scorer.losses(encoded)
    want = _reference(tiny_model, encoded)
    assert max(abs(g - w) for g, w in zip(got, want, strict=True)) < 1e-4
    # A sample's score does not depend on its batch mates.
    alone = [scorer.losses([e])[0] for e in encoded[:3]]
    assert max(abs(a - g) for a, g in zip(alone, got[:3], strict=False)) < 1e-4


def test_cutoff_leaves_a_sample_without_target_unscored(tiny_model: Path) -> None:
    scorer = TransformersLossScorer(tiny_model, cutoff_len=8, device="cpu")
    ex = _records()[0]
    enc = scorer.encode(*record_turns(ex, "cm"))
    assert len(enc.input_ids) <= 8
    got = scorer.losses([enc])[0]
    assert (got is None) == (enc.targets == 0)


def test_scores_resume_and_drop_a_line_cut_short(tiny_model: Path, tmp_path: Path) -> None:
    records = _records()[:6]
    scorer = TransformersLossScorer(tiny_model, batch_size=4, device="cpu")
    out = tmp_path / "scores.jsonl"
    score_records(records[:3], scorer, out, chunk=2)
    first = read_scores(out)
    assert len(first) == 3
    # A killed run leaves half a line; the next run drops it and scores that sample again.
    with out.open("a") as fh:
        fh.write('{"id": "' + records[3]["id"] + '", "lo')
    score_records(records, scorer, out, chunk=2)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == [r["id"] for r in records]
    assert {k: v for k, v in read_scores(out).items() if k in first} == first


def _torchrun(tmp_path: Path, tiny_model: Path, nproc: int, out: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in _records()))
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [
            Path(sys.executable).parent / "torchrun",
            f"--nproc-per-node={nproc}",
            "--standalone",
            "-m",
            "prouie.cli",
            "lda-score",
            "--model",
            str(tiny_model),
            "--records",
            str(records),
            "--out",
            str(out),
            "--batch-size",
            "3",
            "--backend",
            "transformers",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.framework
def test_two_processes_give_the_scores_of_one(tiny_model: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    _torchrun(tmp_path, tiny_model, 1, one)
    _torchrun(tmp_path, tiny_model, 2, two)
    a, b = read_scores(one), read_scores(two)
    assert list(a) == list(b) == [r["id"] for r in _records()]
    assert max(abs(a[k] - b[k]) for k in a) < 1e-5
    assert not list(tmp_path.glob("two.rank*"))  # rank 0 merged and removed the shards


def test_batches_keep_keys_together_and_respect_both_caps() -> None:
    import random

    from prouie.integrations.loss_scoring import length_batches

    rng = random.Random(0)
    lengths = [rng.randint(1, 300) for _ in range(200)]
    keys = [rng.choice("abc") for _ in lengths]
    batches = length_batches(lengths, 8, 1000, keys)
    assert sorted(i for b in batches for i in b) == list(range(200))
    for b in batches:
        assert len(b) <= 8 and (len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 1000)
    # In key order: a key's samples are consecutive across the batches.
    flat = [keys[i] for b in batches for i in b]
    assert flat == sorted(flat)


def test_selection_hook_scores_with_a_model_and_writes_the_dataset(
    tiny_model: Path, tmp_path: Path
) -> None:
    from prouie.integrations.loss_scoring import select_dataset

    records = [ex for ex in _records() if ex["task"] == "ner"]
    chosen, names = select_dataset(
        records, 0.34, tmp_path, "hard", model=tiny_model, backend="transformers", device="cpu"
    )
    scores = read_scores(tmp_path / "hard_scores.jsonl")
    assert set(scores) == {ex["id"] for ex in records}
    ranked = sorted(records, key=lambda ex: -scores[ex["id"]])
    assert [ex["id"] for ex in chosen] == [ex["id"] for ex in ranked[: len(chosen)]]
    assert len(chosen) == -(-len(records) * 34 // 100)  # ceil(0.34 * n)
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    rows = (tmp_path / info[names[0]]["file_name"]).read_text().splitlines()
    assert [json.loads(r)["input"] for r in rows] == [ex["text"] for ex in chosen]
