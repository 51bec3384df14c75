"""The LDA loop (``prouie lda``): score -> select -> ``llamafactory-cli train`` -> evaluate, per round.

Round 0 fine-tunes the model on the original data (or takes ``start_checkpoint``) and evaluates it;
round r >= 1 scores every augmented sample with round r-1's model, keeps the top beta_r of each
(dataset, perturbation) group (or a random draw of the same size), fine-tunes round r-1's model on
them (plus the original data when ``mix_original``), and evaluates. The rule of
:func:`prouie.robust.lda.stop_reason` ends the loop. Layout under ``out``::

    lda_state.json                the progress, saved after every phase (a rerun resumes from it)
    data/dataset_info.json        every round's selected dataset (and the original data) as entries
    round_<r>/scores.jsonl        the losses that round's selection used
    round_<r>/model/              that round's checkpoint
    round_<r>/eval/               predictions and the evaluation report of the validation set
    lda_report.{md,json,png}      beta, samples, cumulative share and F1 per round, the stop reason
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prouie.paths import atomic_open, recipes_dir
from prouie.records import Example, RecordError, iter_jsonl
from prouie.robust.lda import (
    LdaConfig,
    LoopState,
    Round,
    group_of,
    read_scores,
    select,
    stop_reason,
    validation_f1,
    write_dataset,
    write_report,
)

ORIGINAL_ENTRY = "lda_original"


def _log(msg: str) -> None:
    print(f"[lda] {msg}", file=sys.stderr, flush=True)


def _records(path: str) -> list[Example]:
    if not Path(path).exists():
        raise FileNotFoundError(f"records file not found: {path}")
    records = list(iter_jsonl(path))
    seen: set[str] = set()
    for i, ex in enumerate(records, 1):
        sid = str(ex.get("id"))
        if sid in seen:
            raise RecordError(f"{path}:{i}", "id", f"{sid!r} appears twice; LDA keys scores by id")
        seen.add(sid)
    return records


def find_recipe(path: str) -> Path:
    """A training recipe as given, else by name among the recipes shipped with prouie."""
    p = Path(path)
    if p.exists():
        return p
    if (recipes_dir() / p.name).exists():
        return recipes_dir() / p.name
    raise FileNotFoundError(f"training recipe not found: {path}")


def train(
    cfg: LdaConfig, base: str, datasets: Sequence[str], data_dir: Path, output_dir: Path
) -> Path:
    """Fine-tune ``base`` on ``datasets`` with the real ``llamafactory-cli train`` (recipe + overrides)."""
    cmd = [
        "llamafactory-cli",
        "train",
        str(find_recipe(cfg.train_recipe)),
        f"model_name_or_path={base}",
        f"dataset={','.join(datasets)}",
        f"dataset_dir={data_dir.resolve()}",
        f"output_dir={output_dir.resolve()}",
        "overwrite_output_dir=true",
        f"template={cfg.template}",
        f"cutoff_len={cfg.cutoff_len}",
        *cfg.train_overrides,
    ]
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    _log(" ".join(cmd))
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"llamafactory-cli train failed (exit {proc.returncode}); see its log")
    return output_dir


def score(cfg: LdaConfig, model: str, records: list[Example], path: Path) -> dict:
    """Losses of ``records`` under ``model`` into ``path`` (resumed), in-process or via ``launcher``."""
    opts: dict[str, Any] = dict(cfg.scoring)
    if cfg.launcher:
        src = path.with_name("scoring_input.jsonl")
        if not src.exists():  # written whole or not at all, so a resumed run can trust it
            with atomic_open(src) as fh:
                for r in records:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        cmd = [*cfg.launcher, "-m", "prouie.cli", "lda-score", "--model", model]
        cmd += ["--records", str(src), "--out", str(path), "--stage", cfg.stage]
        cmd += ["--template", cfg.template, "--cutoff-len", str(cfg.cutoff_len)]
        for key, value in opts.items():
            cmd += [f"--{key.replace('_', '-')}", str(value)]
        if subprocess.run(cmd).returncode != 0:
            raise RuntimeError(f"scoring failed: {' '.join(cmd)}")
    else:
        from prouie.integrations.loss_scoring import make_scorer, score_records

        scorer = make_scorer(model, template=cfg.template, cutoff_len=cfg.cutoff_len, **opts)
        score_records(records, scorer, path, stage=cfg.stage, progress=True)
        del scorer
        gc.collect()
    return read_scores(path)


def evaluate(cfg: LdaConfig, model: str, out_dir: Path) -> tuple[float, dict[str, float]]:
    """Validation F1 (points) of ``model``, overall and per perturbation type, through prouie's
    predict and evaluate code; the predictions and report stay in ``out_dir``."""
    from prouie.evaluation import parse_item, read_predictions
    from prouie.generation import CHAT_FORMATS, GenerationConfig, choose_backend
    from prouie.metrics import Evaluator
    from prouie.predict import load_prompts, make_generator, predict
    from prouie.report import to_markdown, write_json

    opts = dict(cfg.predict)
    items = load_prompts(cfg.validation, stage=cfg.stage)
    chat = cfg.template if cfg.template in CHAT_FORMATS else "tokenizer"
    gen_cfg = GenerationConfig(
        max_new_tokens=int(opts.get("max_new_tokens", 512)),
        batch_size=int(opts.get("batch_size", 8)),
        seed=cfg.seed,
    )
    gen, chunk = make_generator(
        choose_backend(opts.get("backend", "auto")),
        model,
        gen_cfg,
        chat_format=chat,
        device=opts.get("device"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    preds, _ = predict(
        items, gen, out_dir / "predictions.jsonl", gen_cfg, progress=False, chunk=chunk
    )
    del gen
    gc.collect()
    overall = Evaluator()
    by_kind: dict[str, Evaluator] = {}
    for item in read_predictions(preds):
        gold, parsed = parse_item(item)  # parsed once, counted overall and in its group
        kind = group_of(item.record)[1]
        for ev in (overall, by_kind.setdefault(kind, Evaluator())):
            ev.add(item.record.get("dataset") or "", gold, parsed)
    result = overall.result()
    write_json(result, out_dir / "report.json")
    (out_dir / "report.md").write_text(to_markdown(result, "LDA validation") + "\n")
    return validation_f1(result), {k: validation_f1(ev.result()) for k, ev in by_kind.items()}


def _finish_round(cfg: LdaConfig, state: LoopState, r: Round, out: Path) -> None:
    if "evaluated" not in r.phases:
        r.f1, r.f1_by_perturbation = evaluate(cfg, r.checkpoint, out / f"round_{r.round}" / "eval")
        r.phases.append("evaluated")
        state.save(out / "lda_state.json")
        _log(f"round {r.round}: validation F1 {r.f1:.2f}")


def run_loop(cfg: LdaConfig) -> LoopState:
    """Run (or resume) the loop of ``cfg`` to its stop rule; returns the final state."""
    out = Path(cfg.out)
    state_path = out / "lda_state.json"
    data_dir = out / "data"
    augmented = _records(cfg.augmented)
    if not augmented:
        raise ValueError(f"{cfg.augmented}: no augmented records")
    state = LoopState.load(state_path) or LoopState(cfg.selection, len(augmented))
    if state.selection != cfg.selection:
        raise ValueError(
            f"{state_path} holds a {state.selection!r} run; use another out folder for "
            f"--selection {cfg.selection}"
        )
    original = write_dataset(_records(cfg.original), data_dir, ORIGINAL_ENTRY, cfg.stage)

    r0 = state.round(0)
    if "trained" not in r0.phases:
        if cfg.start_checkpoint:
            r0.checkpoint = cfg.start_checkpoint
        else:
            r0.checkpoint = str(
                train(cfg, cfg.model, original, data_dir, out / "round_0" / "model")
            )
        r0.phases.append("trained")
        state.save(state_path)
    _finish_round(cfg, state, r0, out)

    while state.stop_reason is None:
        last = max(state.rounds, key=lambda r: r.round)
        if "evaluated" in last.phases:
            reason = stop_reason(state.rounds, cfg.delta, cfg.max_rounds)
            if reason:
                state.stop_reason = reason
                state.save(state_path)
                break
            last = state.round(last.round + 1, cfg.beta_of(last.round + 1))
        prev = next(r for r in state.rounds if r.round == last.round - 1)
        rdir = out / f"round_{last.round}"
        rdir.mkdir(parents=True, exist_ok=True)
        scores = None
        if cfg.selection == "loss" and "selected" not in last.phases:
            _log(f"round {last.round}: scoring {len(augmented)} augmented samples")
            scores = score(cfg, prev.checkpoint, augmented, rdir / "scores.jsonl")
            if "scored" not in last.phases:
                last.phases.append("scored")
                state.save(state_path)
        names = [f"lda_round{last.round}"]
        if "selected" not in last.phases:
            chosen = select(
                augmented,
                last.beta,
                method=cfg.selection,
                scores=scores,
                seed=cfg.seed + last.round,
            )
            write_dataset(chosen, data_dir, names[0], cfg.stage)
            (rdir / "selected_ids.txt").write_text("".join(f"{ex['id']}\n" for ex in chosen))
            last.selected = len(chosen)
            state.used = sorted(set(state.used) | {str(ex["id"]) for ex in chosen})
            last.used_ids = len(state.used)
            last.phases.append("selected")
            state.save(state_path)
            _log(f"round {last.round}: {len(chosen)} samples selected (beta {last.beta:g})")
        if "trained" not in last.phases:
            entries = _entries(data_dir, names[0]) + (original if cfg.mix_original else [])
            model_dir = rdir / "model"
            if model_dir.exists():
                shutil.rmtree(model_dir)  # a half-written checkpoint from a killed run
            last.checkpoint = str(train(cfg, prev.checkpoint, entries, data_dir, model_dir))
            last.phases.append("trained")
            state.save(state_path)
        _finish_round(cfg, state, last, out)
    write_report(state, out)
    return state


def _entries(data_dir: Path, prefix: str) -> list[str]:
    import json

    info = json.loads((data_dir / "dataset_info.json").read_text(encoding="utf-8"))
    return [name for name in info if name == prefix or name.startswith(prefix + "_")]
