"""recipes/predict.yaml with the real ``llamafactory-cli train``, then ``prouie evaluate`` on its
``generated_predictions.jsonl`` alone: the same report as ``prouie predict`` + ``prouie evaluate``
with the same model on the same records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from integrations.test_llamafactory import FIXTURES, RECIPES, _lf, _ok, _recipe
from prouie.cli import main

TASKS = ("ner", "re", "ee")


def test_predict_recipe_is_greedy_with_the_training_template() -> None:
    from llamafactory.hparams.parser import _TRAIN_ARGS

    r = _recipe("predict")
    known = {f for cls in _TRAIN_ARGS for f in cls.__dataclass_fields__}
    assert set(r) - known == set()
    assert (r["stage"], r["do_predict"], r["predict_with_generate"]) == ("sft", True, True)
    assert r["do_sample"] is False and r["template"] == _recipe("sa")["template"]
    assert r["cutoff_len"] == _recipe("sa")["cutoff_len"]
    assert r["max_new_tokens"] >= 126  # paper Table 6: the longest SA output
    assert "do_train" not in r and "deepspeed" not in r  # ZeRO-3 cannot generate


@pytest.mark.framework
def test_llamafactory_predictions_score_like_prouie_predict(
    tmp_path: Path, tiny_model: Path
) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text("".join((FIXTURES / f"{t}.jsonl").read_text() for t in TASKS), "utf-8")
    argv = ["prepare", "--input", str(records), "--format", "records", "--stage", "sa"]
    assert main([*argv, "--split", "test", "--out", str(tmp_path / "data")]) == 0
    entries = list(json.loads((tmp_path / "data" / "dataset_info.json").read_text()))
    assert entries == yaml.safe_load((RECIPES / "predict.yaml").read_text())["eval_dataset"].split(
        ","
    )
    # Overrides only for the model, the size of the run and the paths.
    overrides = [
        f"model_name_or_path={tiny_model}",
        "max_new_tokens=24",
        "per_device_eval_batch_size=1",
        "preprocessing_num_workers=1",
        f"output_dir={tmp_path / 'run'}",
    ]
    _ok(_lf(["train", str(RECIPES / "predict.yaml"), *overrides], tmp_path))
    generated = tmp_path / "run" / "generated_predictions.jsonl"
    assert len(generated.read_text().splitlines()) == 18

    alone = tmp_path / "alone"
    assert (
        main(["evaluate", str(generated), "--dataset", "toy", "--out", str(alone), "--quiet"]) == 0
    )

    preds = tmp_path / "preds.jsonl"
    args = ["predict", "--model", str(tiny_model), "--data", str(records), "--out", str(preds)]
    args += ["--backend", "transformers", "--max-new-tokens", "24", "--batch-size", "1"]
    assert main([*args, "--dtype", "float32", "--quiet"]) == 0
    ours = tmp_path / "ours"
    assert main(["evaluate", str(preds), "--out", str(ours), "--quiet"]) == 0

    got = json.loads((alone / "report.json").read_text())["tasks"]
    want = json.loads((ours / "report.json").read_text())["tasks"]
    assert got == want
    assert sum(d["n"] for t in got.values() for d in t["datasets"].values()) == 18
    # And the answers themselves are the same, line for line.
    lf = [json.loads(x)["predict"] for x in generated.read_text().splitlines()]
    assert lf == [json.loads(x)["prediction"] for x in preds.read_text().splitlines()]
