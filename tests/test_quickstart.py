"""The quickstart: its embedded corpus, its recipe overrides, and the whole run at CI sizes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from prouie.cli import main as prouie_main
from prouie.quickstart import corpus
from prouie.quickstart.pipeline import PRESETS, SFT_STAGES, Quickstart, recipes_dir
from prouie.records import iter_jsonl
from prouie.robust.kinds import RULE_TYPES
from prouie.targets import render_target, round_trips

# The only recipe keys the quickstart may override: model, sizes, paths and CPU settings.
ALLOWED_OVERRIDES = {
    "model_name_or_path",
    "num_train_epochs",
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "cutoff_len",
    "bf16",
    "deepspeed",
    "preprocessing_num_workers",
    "dataloader_num_workers",
    "save_steps",
    "plot_loss",
}


def test_corpus_is_deterministic_and_sized() -> None:
    a = corpus.generate(train=30, validation=5, test=7, seed=3)
    b = corpus.generate(train=30, validation=5, test=7, seed=3)
    assert a == b
    assert corpus.generate(train=30, validation=5, test=7, seed=4) != a
    for split, n in (("train", 30), ("validation", 5), ("test", 7)):
        assert [len(a[split][t]) for t in corpus.CORPUS_TASKS] == [n, n, n]


def test_corpus_records_are_canonical_and_round_trip() -> None:
    splits = corpus.generate(train=200, validation=10, test=10)
    for by_task in splits.values():
        for task, records in by_task.items():
            for ex in records:
                assert ex["task"] == task
                spans = [*ex["entities"]]
                for r in ex["relations"]:
                    spans += [r["head"], r["tail"]]
                for ev in ex["events"]:
                    spans += [ev["trigger"], *ev["arguments"]]
                assert spans or task == "ner", ex  # NER has sentences without entities
                for s in spans:
                    assert ex["text"][s["start"] : s["end"]] == s["text"]
                assert round_trips(ex, "cm") and round_trips(ex, "sa")


def test_corpus_has_every_label_and_recurring_mentions() -> None:
    splits = corpus.generate()
    train = splits["train"]
    seen = Counter()
    for ex in train["ner"]:
        seen.update(e["type"] for e in ex["entities"])
    assert set(seen) == set(corpus.spec()["ner"]["labels"])
    assert Counter(r["type"] for ex in train["re"] for r in ex["relations"]).keys() == set(
        corpus.spec()["re"]["labels"]
    )
    assert Counter(ev["type"] for ex in train["ee"] for ev in ex["events"]).keys() == set(
        corpus.spec()["ee"]["labels"]
    )
    # A tiny model can only learn mentions it has seen: every test mention occurs in training.
    train_mentions = {e["text"] for ex in train["ner"] for e in ex["entities"]}
    assert {e["text"] for ex in splits["test"]["ner"] for e in ex["entities"]} <= train_mentions


def test_sa_targets_are_shorter_than_cm_on_re_and_ee() -> None:
    splits = corpus.generate(train=100, validation=1, test=1)
    for task in ("re", "ee"):
        cm = sum(len(render_target(ex, "cm")) for ex in splits["train"][task])
        sa = sum(len(render_target(ex, "sa")) for ex in splits["train"][task])
        assert sa < 0.7 * cm


def test_overrides_only_change_model_sizes_and_cpu_settings(tmp_path: Path) -> None:
    qs = Quickstart(tmp_path, PRESETS["default"])
    for stage in SFT_STAGES:
        recipe = yaml.safe_load((recipes_dir() / f"{stage}.yaml").read_text())
        keys = [w.split("=", 1)[0] for w in qs.train_overrides(stage)]
        assert set(keys) <= ALLOWED_OVERRIDES
        assert set(keys) <= set(recipe), set(keys) - set(recipe)  # overridden, never added
        assert ("model_name_or_path" in keys) == (stage == SFT_STAGES[0])
    lda_recipe = yaml.safe_load((recipes_dir() / "lda_train.yaml").read_text())
    keys = {w.split("=", 1)[0] for w in qs.size_words(1)}
    assert keys <= ALLOWED_OVERRIDES and keys <= set(lda_recipe), keys - set(lda_recipe)


@pytest.mark.framework
def test_quickstart_runs_every_stage_and_a_rerun_skips_them(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "qs"
    assert prouie_main(["quickstart", "--sizes", "ci", "--out", str(out)]) == 0
    first = capsys.readouterr().out
    report = out / "report" / "quickstart.md"
    assert f"report: {report}" in first
    result = json.loads((out / "report" / "quickstart.json").read_text())
    assert list(result["scores"]) == ["untrained", *SFT_STAGES, "de"]
    for stage in SFT_STAGES:
        assert (out / "saves" / "prouie" / stage / "model.safetensors").is_file()
    assert (
        json.loads((out / "saves" / "prouie" / "de" / "de_manifest.json").read_text())["phases"][
            -1
        ]["task"]
        == "ee"
    )
    n_test = PRESETS["ci"].test
    rows = list(iter_jsonl(out / "records" / "test_all.jsonl"))
    assert Counter(r["task"] for r in rows) == {"ner": n_test, "re": n_test, "ee": n_test}
    md = report.read_text()
    assert "| cm_phase3 |" in md and "| sa |" in md and "![f1](f1.png)" in md
    assert (out / "report" / "f1.png").is_file() and (out / "report" / "length.png").is_file()
    # Robust UIE: every rule-based type in the robustness table, both LDA selections reported.
    for name in ("final", "lda"):
        rob = json.loads((out / "report" / f"robustness_{name}" / "robustness.json").read_text())
        assert set(rob["types"]) == {"original", *RULE_TYPES}
    assert set(result["lda"]) == {"loss", "random"}
    for doc in result["lda"].values():
        assert [r["round"] for r in doc["rounds"]] == [0, 1]
    assert "## Robustness" in md and "| typo_injection | lowercase |" in md
    assert "## LDA: one round" in md and "| random |" in md

    assert prouie_main(["quickstart", "--sizes", "ci", "--out", str(out)]) == 0
    second = capsys.readouterr().out
    steps = [line for line in second.splitlines() if line.startswith("[")]
    assert steps and all("done before, skipped" in line for line in steps), second


def test_user_data_replaces_the_embedded_corpus(tmp_path: Path) -> None:
    mine = corpus.generate(train=5, validation=2, test=3, seed=9)
    corpus.write(mine, tmp_path / "mine")
    qs = Quickstart(tmp_path / "work", PRESETS["ci"], data=tmp_path / "mine")
    qs.write_corpus()
    assert not (tmp_path / "work" / "records" / "ner_train.jsonl").exists()
    assert [r["id"] for r in iter_jsonl(qs.test_file)] == [
        ex["id"] for task in corpus.CORPUS_TASKS for ex in mine["test"][task]
    ]
    assert qs.split_file("re", "train") == tmp_path / "mine" / "re_train.jsonl"


def test_llm_perturbations_need_a_model_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--llm-model"):
        Quickstart(tmp_path, base_url="http://127.0.0.1:8000/v1")
