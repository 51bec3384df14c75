"""The quickstart's steps, in order, each skipped when its output exists.

Every step is the command a user runs by hand: ``prouie plan``, ``llamafactory-cli train
recipes/<stage>.yaml key=value ...`` (the project's recipes, with only the model, the sizes, the
paths and the CPU settings overridden), ``prouie de`` with ``recipes/de_trl.yaml``, and ``prouie
predict`` + ``prouie evaluate`` on the test split after every stage; then Robust UIE's ``prouie
perturb`` (every split), ``prouie lda`` with ``recipes/lda.yaml`` (one round, loss-guided and
random selection) and ``prouie robustness``. The prouie commands run in
this process through :func:`prouie.cli.main` (one torch import instead of one per step);
LLaMA-Factory runs as its own process, exactly as ``llamafactory-cli`` does for a user.

The working folder holds everything (``records/``, ``models/``, ``data/``, ``saves/``, ``eval/``,
``robust/``, ``lda/``, ``logs/``, ``report/``) and is LLaMA-Factory's working directory, so the recipes' relative
``dataset_dir: data`` and ``saves/prouie/...`` paths resolve inside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prouie.paths import atomic_open, recipes_dir
from prouie.quickstart import corpus

CM_STAGES = ("cm_phase1", "cm_phase2", "cm_phase3")
SFT_STAGES = (*CM_STAGES, "sa")
DE_TASKS = ("ner", "re", "ee")


@dataclass(frozen=True)
class Sizes:
    """Every size the quickstart chooses: data, model, training and generation.

    The defaults are the measured choice for 2 CPU cores (README, docs/quickstart.md): enough for
    the tiny model to learn every task in CM and to shorten its outputs in SA, in minutes.
    ``learning_rate`` and ``de_learning_rate`` are far above the recipes' 1e-5 and 1e-6 because
    the tiny model starts from random weights, not from a pretrained checkpoint. CM phase 1 needs
    about 300 steps before the tiny model learns to copy mentions (docs/quickstart.md).
    """

    train: int = 240
    validation: int = 30
    test: int = 30
    vocab_size: int = 1024
    hidden_size: int = 128
    num_hidden_layers: int = 2
    cutoff_len: int = 320
    epochs: dict[str, float] = field(
        default_factory=lambda: {"cm_phase1": 20, "cm_phase2": 5, "cm_phase3": 6, "sa": 4}
    )
    learning_rate: float = 3e-3
    batch_size: int = 16
    de_samples: int = 48
    de_max_steps: int = 12
    de_learning_rate: float = 2e-4
    max_new_tokens: int = 64
    lda_epochs: float = 2
    predict_batch_size: int = 40


# ``--sizes ci``: the same steps with the least that still trains every stage (the CI test).
PRESETS: dict[str, Sizes] = {
    "default": Sizes(),
    "ci": Sizes(
        train=48,
        validation=8,
        test=8,
        vocab_size=512,
        epochs={"cm_phase1": 1, "cm_phase2": 1, "cm_phase3": 1, "sa": 1},
        de_samples=4,
        de_max_steps=1,
        max_new_tokens=48,
        lda_epochs=1,
    ),
}


@dataclass
class Step:
    """One step: a name shown in the progress line, the file whose presence means done, and the
    function that makes it."""

    name: str
    done: Path
    run: Callable[[], Any]


def _cli(argv: list[str]) -> None:
    from prouie.cli import main

    code = main(argv)
    if code:
        raise RuntimeError(f"prouie {' '.join(argv)} failed with exit code {code}")


class Quickstart:
    """The quickstart in ``work``: ``steps()`` lists the steps, ``run()`` runs the missing ones."""

    def __init__(
        self,
        work: str | Path,
        sizes: Sizes | None = None,
        *,
        model: str | None = None,
        data: str | Path | None = None,
        base_url: str | None = None,
        llm_model: str | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.work = Path(work).resolve()
        self.sizes = sizes or Sizes()
        self.user_model = model
        self.user_data = Path(data).resolve() if data else None
        if base_url and not llm_model:
            raise ValueError("--base-url needs --llm-model (the model name the server knows)")
        self.base_url = base_url
        self.llm_model = llm_model
        self.log = log
        self.records = self.work / "records"
        self.timings_path = self.work / "timings.json"

    # paths ------------------------------------------------------------------------------------
    def split_file(self, task: str, split: str) -> Path:
        if self.user_data is not None:
            return self.user_data / f"{task}_{split}.jsonl"
        return self.records / f"{task}_{split}.jsonl"

    def all_file(self, split: str) -> Path:
        """Every task's records of ``split`` in one file (the input of predict, perturb, LDA)."""
        return self.records / f"{split}_all.jsonl"

    @property
    def test_file(self) -> Path:
        return self.all_file("test")

    @property
    def robust(self) -> Path:
        return self.work / "robust"

    @property
    def base_model(self) -> str:
        return self.user_model or str(self.work / "models" / "base")

    def save_dir(self, stage: str) -> Path:
        return self.work / "saves" / "prouie" / stage

    @property
    def de_dir(self) -> Path:
        return self.work / "saves" / "prouie" / "de"

    @property
    def de_model(self) -> Path:
        return self.de_dir / f"{len(DE_TASKS)}_{DE_TASKS[-1]}"

    def eval_dir(self, name: str) -> Path:
        return self.work / "eval" / name

    # steps ------------------------------------------------------------------------------------
    def evaluated(self) -> list[tuple[str, str, str]]:
        """``(evaluation name, model folder, prompt stage)`` after every stage, untrained first."""
        out = [("untrained", self.base_model, "cm")]
        out += [(s, str(self.save_dir(s)), "sa" if s == "sa" else "cm") for s in SFT_STAGES]
        out.append(("de", str(self.de_model), "sa"))
        return out

    def steps(self) -> list[Step]:
        evals = {name: (model, stage) for name, model, stage in self.evaluated()}

        def evaluation(name: str) -> Step:
            model, stage = evals[name]
            return Step(
                f"evaluate {name} on the test split",
                self.eval_dir(name) / "report.json",
                lambda: self.evaluate(name, model, stage),
            )

        steps = [
            Step("corpus (records, train/validation/test)", self.test_file, self.write_corpus),
            Step(
                "tiny model (random weights, BPE on the corpus)",
                self._model_marker(),
                self.build_model,
            ),
            Step(
                "plan the stage mixes (prouie plan)",
                self.work / "data" / "dataset_info.json",
                self.plan,
            ),
            evaluation("untrained"),
        ]
        for stage in SFT_STAGES:
            steps.append(
                Step(
                    f"{stage} (llamafactory-cli train recipes/{stage}.yaml)",
                    self.save_dir(stage) / "model.safetensors",
                    lambda stage=stage: self.train(stage),
                )
            )
            steps.append(evaluation(stage))
        steps.append(
            Step(
                "DE: GRPO with SFR, NER -> RE -> EE (prouie de)",
                self.de_dir / "de_manifest.json",
                self.de,
            )
        )
        steps.append(evaluation("de"))
        steps += self.robust_steps()
        return steps

    def robust_steps(self) -> list[Step]:
        """Robust UIE: perturbations, the final model's robustness report, one LDA round (loss-
        guided and random selection)."""
        kinds = "rule-based and LLM-based" if self.base_url else "rule-based"
        steps = [
            Step(
                f"{kinds} perturbations of every split (prouie perturb)",
                self.robust / "train_augmented.summary.json",
                self.perturb,
            ),
        ]
        for selection in ("loss", "random"):
            steps.append(
                Step(
                    f"LDA round, {selection} selection (prouie lda)",
                    self.work / "lda" / selection / "lda_report.json",
                    lambda selection=selection: self.lda(selection),
                )
            )
        for name, model in self.robustness_models().items():
            steps.append(
                Step(
                    f"robustness of the {name} model (prouie predict + prouie robustness)",
                    self.robustness_dir(name) / "robustness.json",
                    lambda name=name, model=model: self.robustness(name, model),
                )
            )
        return steps

    def _model_marker(self) -> Path:
        return Path(self.base_model) / "config.json"

    def run(self) -> dict[str, float]:
        """Run every step whose output is missing; return the seconds each step took (this run or
        the run that made it)."""
        timings = json.loads(self.timings_path.read_text()) if self.timings_path.is_file() else {}
        steps = self.steps()
        for i, step in enumerate(steps, 1):
            head = f"[{i}/{len(steps)}] {step.name}"
            if step.done.exists():
                self.log(f"{head}: done before, skipped ({step.done.relative_to(self.work)})")
                continue
            self.log(f"{head} ...")
            start = time.perf_counter()
            step.run()
            timings[step.name] = round(time.perf_counter() - start, 1)
            self.log(f"{head}: {timings[step.name]:.1f} s")
            self.work.mkdir(parents=True, exist_ok=True)
            self.timings_path.write_text(json.dumps(timings, indent=1), "utf-8")
        return timings

    # step bodies ------------------------------------------------------------------------------
    def write_corpus(self) -> None:
        if self.user_data is None:
            s = self.sizes
            corpus.write(corpus.generate(s.train, s.validation, s.test), self.records)
        self.records.mkdir(parents=True, exist_ok=True)
        # test_all.jsonl last: it is the step's done-marker.
        for split in sorted(corpus.SPLITS, key=lambda s: s == "test"):
            _concat([self.split_file(t, split) for t in corpus.CORPUS_TASKS], self.all_file(split))

    def build_model(self) -> None:
        from prouie.integrations.tinymodel import build_tiny_model
        from prouie.records import iter_jsonl
        from prouie.targets import to_alpaca

        texts = []
        for task in corpus.CORPUS_TASKS:
            for ex in iter_jsonl(self.split_file(task, "train")):
                for stage in ("cm", "sa"):
                    row = to_alpaca(ex, stage)
                    texts.append("\n".join((row["instruction"], row["input"], row["output"])))
        s = self.sizes
        build_tiny_model(
            Path(self.base_model),
            vocab_size=s.vocab_size,
            corpus=texts,
            hidden_size=s.hidden_size,
            num_hidden_layers=s.num_hidden_layers,
        )

    def plan(self) -> None:
        argv = ["plan", "--out", str(self.work / "data")]
        for task in corpus.CORPUS_TASKS:
            argv += [f"--{task}", str(self.split_file(task, "train"))]
        _cli(argv)

    def size_words(self, epochs: float) -> list[str]:
        """``key=value`` words for sizes and a CPU, shared by the SFT stages and LDA's training."""
        s = self.sizes
        return [
            f"num_train_epochs={epochs}",
            f"learning_rate={s.learning_rate}",
            f"per_device_train_batch_size={s.batch_size}",
            "gradient_accumulation_steps=1",
            "bf16=false",  # CPUs: no bfloat16 mixed precision in the HF Trainer
            "deepspeed=null",  # ZeRO-3 needs GPUs
            "preprocessing_num_workers=1",  # the recipes' 16 are for a GPU node's cores
            "dataloader_num_workers=0",
            "plot_loss=false",
        ]

    def train_overrides(self, stage: str) -> list[str]:
        """The ``key=value`` words after the recipe: model (first stage), sizes, CPU settings."""
        words = [
            *self.size_words(self.sizes.epochs[stage]),
            f"cutoff_len={self.sizes.cutoff_len}",
            "save_steps=100000",  # the final model only
        ]
        if stage == SFT_STAGES[0]:
            words.insert(0, f"model_name_or_path={self.base_model}")
        return words

    def run_logged(self, cmd: list[str], name: str) -> Path:
        """Run ``cmd`` in the working folder with its output in ``logs/<name>.log``; on failure
        raise with the log's end."""
        env = dict(os.environ)
        # llamafactory-cli and torchrun live beside this interpreter.
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env.setdefault("HF_HUB_OFFLINE", "1")
        env["HF_DATASETS_CACHE"] = str(self.work / "hf_datasets_cache")
        log_path = self.work / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w", encoding="utf-8") as log:
            log.write("$ " + " ".join(cmd) + "\n")
            log.flush()
            proc = subprocess.run(cmd, cwd=self.work, env=env, stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode:
            tail = log_path.read_text("utf-8", errors="replace")[-3000:]
            raise RuntimeError(
                f"{' '.join(cmd)} failed (exit {proc.returncode}); log {log_path}:\n{tail}"
            )
        return log_path

    def train(self, stage: str) -> None:
        recipe = recipes_dir() / f"{stage}.yaml"
        cmd = ["llamafactory-cli", "train", str(recipe), *self.train_overrides(stage)]
        log_path = self.run_logged(cmd, stage)
        results = self.save_dir(stage) / "all_results.json"
        if results.is_file():
            r = json.loads(results.read_text())
            self.log(f"    train loss {r.get('train_loss', float('nan')):.3f}, log {log_path}")

    def de(self) -> None:
        s = self.sizes
        argv = ["de", "--model", str(self.save_dir("sa")), "--output-dir", str(self.de_dir)]
        for task in DE_TASKS:
            argv += [f"--{task}", str(self.split_file(task, "train"))]
        argv += ["--num-samples", str(s.de_samples), "--max-steps", str(s.de_max_steps)]
        argv += ["--grpo", f"max_completion_length={s.max_new_tokens}"]
        argv += ["--grpo", f"max_prompt_length={s.cutoff_len}"]
        argv += ["--grpo", f"learning_rate={s.de_learning_rate}"]
        _cli(argv)

    def evaluate(self, name: str, model: str, stage: str) -> None:
        preds = self.predict(model, stage, self.test_file, self.eval_dir(name))
        _cli(["evaluate", str(preds), "--out", str(preds.parent), "--no-plot", "--quiet"])

    def predict(self, model: str, stage: str, data: Path, out: Path) -> Path:
        """``prouie predict`` of ``data`` into ``out/predictions.jsonl`` (through a temporary file)."""
        preds = out / "predictions.jsonl"
        tmp = out / "predictions.jsonl.tmp"
        s = self.sizes
        _cli(
            [
                "predict", "--model", model, "--data", str(data), "--stage", stage,
                "--out", str(tmp), "--backend", "transformers", "--device", "cpu",
                "--max-new-tokens", str(s.max_new_tokens), "--batch-size", str(s.predict_batch_size),
            ]
        )  # fmt: skip
        tmp.replace(preds)
        return preds

    # Robust UIE -------------------------------------------------------------------------------
    def perturb(self) -> None:
        types = "rule,llm" if self.base_url else "rule"
        llm = ["--base-url", self.base_url, "--model", self.llm_model] if self.base_url else []
        # train last: its summary is the step's done-marker.
        for split, name in (
            ("test", "test_perturbed"),
            ("validation", "validation_perturbed"),
            ("train", "train_augmented"),
        ):
            out = self.robust / f"{name}.jsonl"
            _cli(
                [
                    "perturb", "--input", str(self.all_file(split)), "--format", "records",
                    "--types", types, "--out", str(out), "--quiet",
                    "--summary", str(out.with_suffix(".summary.json")), *llm,
                ]
            )  # fmt: skip
            if split != "train":
                # Originals and their perturbed copies in one file: robustness and LDA's
                # validation score both and tell them apart by meta.perturbation.
                mixed = self.robust / f"{split}_mixed.jsonl"
                _concat([self.all_file(split), out], mixed)

    def robustness_models(self) -> dict[str, str]:
        """The models whose robustness the report shows: ProUIE's final model, and the model after
        the loss-guided LDA round (both asked with the SA prompt they were last trained on)."""
        return {
            "final": str(self.de_model),
            "LDA": str(self.work / "lda" / "loss" / "round_1" / "model"),
        }

    def robustness_dir(self, name: str) -> Path:
        return self.work / "report" / f"robustness_{name.lower()}"

    def robustness(self, name: str, model: str) -> None:
        data = self.robust / "test_mixed.jsonl"
        preds = self.predict(model, "sa", data, self.eval_dir(f"robust_{name.lower()}"))
        out = self.robustness_dir(name)
        _cli(["robustness", str(preds), "--out", str(out), "--title", f"Robustness ({name})"])

    def lda(self, selection: str) -> None:
        """One LDA round from the final model with ``recipes/lda.yaml``'s settings; only the
        paths, the sizes, the CPU settings and one round are changed."""
        import yaml

        s = self.sizes
        cfg = yaml.safe_load((recipes_dir() / "lda.yaml").read_text("utf-8"))
        final = str(self.de_model)
        cfg.update(
            model=final,
            start_checkpoint=final,  # already trained on the original data
            original=str(self.all_file("train")),
            augmented=str(self.robust / "train_augmented.jsonl"),
            validation=str(self.robust / "validation_mixed.jsonl"),
            out=str(self.work / "lda" / selection),
            train_recipe=str(recipes_dir() / "lda_train.yaml"),
            train_overrides=self.size_words(s.lda_epochs),
            cutoff_len=s.cutoff_len,
            stage="sa",  # the final model's prompts
            selection=selection,
            max_rounds=1,
        )
        cfg["scoring"] = {**cfg.get("scoring", {}), "backend": "transformers"}
        cfg["predict"] = {
            **cfg.get("predict", {}),
            "backend": "transformers",
            "batch_size": s.predict_batch_size,
            "max_new_tokens": s.max_new_tokens,
        }
        path = self.work / "lda" / f"{selection}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), "utf-8")
        cmd = [sys.executable, "-m", "prouie.cli", "lda", "--config", str(path)]
        self.log(f"    log {self.run_logged(cmd, f'lda_{selection}')}")


def _concat(parts: list[Path], out: Path) -> None:
    """Write the files ``parts`` one after the other into ``out`` (through a temporary file)."""
    with atomic_open(out) as fh:
        for part in parts:
            fh.write(part.read_text("utf-8"))
