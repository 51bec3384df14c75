"""LLaMA-Factory integration: converters, autoload, recipes, and the real `llamafactory-cli train`.

The end-to-end tests run every recipe of recipes/ unchanged apart from ``key=value`` overrides:

- ``model_name_or_path=<tiny model>`` on cm_phase1 only (later phases read the previous phase's
  output_dir, exactly as the recipes chain them, because each chain runs in its own folder);
- ``max_steps=1`` (one optimizer step instead of 2 epochs);
- ``bf16=false``: CPUs have no bfloat16 mixed precision in the HF Trainer;
- ``deepspeed=null``: DeepSpeed ZeRO-3 needs GPUs (and the deepspeed package);
- ``tokenized_path=...``: makes LLaMA-Factory save the tokenised dataset it trains on, which the
  tests decode and compare with the rendered prompt and target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from prouie.cli import main as prouie_main
from prouie.integrations import llamafactory as lf
from prouie.plan import STAGES, entry_name
from prouie.records import RecordError, iter_jsonl
from prouie.targets import to_alpaca

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"
FIXTURES = REPO / "tests" / "fixtures" / "llamafactory"
TASK_FILES = {t: FIXTURES / f"{t}.jsonl" for t in ("ner", "re", "ee")}
CHAIN = ("cm_phase1", "cm_phase2", "cm_phase3", "sa")
CPU_OVERRIDES = ["max_steps=1", "bf16=false", "deepspeed=null"]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # The venv's bin holds llamafactory-cli and torchrun (LLaMA-Factory calls torchrun by name).
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["HF_HUB_OFFLINE"] = "1"
    env.pop("PROUIE_NO_AUTOLOAD", None)
    env.update(extra)
    return env


def _lf(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["llamafactory-cli", *args],
        cwd=cwd,
        # A datasets cache per folder: no test reads another run's cached data.
        env=_env(HF_DATASETS_CACHE=str(cwd / "hf_datasets_cache"), **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _ok(proc: subprocess.CompletedProcess) -> str:
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    return log


def _expected(stage: str, task: str) -> Counter:
    """Every (full text, target text) LLaMA-Factory should train on for a task's records."""
    out: Counter = Counter()
    for ex in iter_jsonl(TASK_FILES[task]):
        row = to_alpaca(ex, stage)
        prompt = f"<|im_start|>user\n{row['instruction']}\n{row['input']}<|im_end|>\n"
        target = f"{row['output']}<|im_end|>\n"
        out[(f"{prompt}<|im_start|>assistant\n{target}", target)] += 1
    return out


# ----------------------------------------------------------------------------- converters


def test_formatting_names_cover_every_task_and_stage() -> None:
    assert lf.FORMATTINGS["prouie_ner"] == ("ner", "cm")
    assert lf.FORMATTINGS["prouie_ee_sa"] == ("ee", "sa")
    assert len(lf.FORMATTINGS) == 8
    with pytest.raises(ValueError, match="prouie_re_sa"):
        lf.parse_formatting("prouie_re_concise")


def test_arrow_round_trip_renders_the_same_text(tmp_path: Path) -> None:
    # datasets gives all lines of a file one schema: missing keys come back as None.
    from datasets import load_dataset

    recs = [
        {"id": "1", "task": "slot", "text": "play jazz now", "labels": ["genre", "time"],
         "entities": [{"type": "genre", "text": "jazz"}],
         "meta": {"definitions": {"genre": "music style"}}},
        {"id": "2", "task": "slot", "text": "at noon", "labels": ["genre", "time"],
         "entities": [{"type": "time", "text": "noon", "start": 3, "end": 7}],
         "meta": {"definitions": {"time": "when"}, "source": "x"}},
        {"id": "3", "task": "slot", "text": "nothing", "labels": ["genre", "time"]},
    ]  # fmt: skip
    path = tmp_path / "slot.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    rows = list(load_dataset("json", data_files=str(path), split="train"))
    assert rows[0]["meta"]["definitions"]["time"] is None  # what Arrow does
    for stage in ("cm", "sa"):
        want = [to_alpaca(ex, stage) for ex in iter_jsonl(path)]
        got = [to_alpaca(lf.record_from_row(r), stage) for r in rows]
        assert got == want


def test_type_checker_agrees_with_datasets(tmp_path: Path) -> None:
    from datasets import load_dataset

    cases = {
        "ok_int_float.jsonl": ['{"x": 1}', '{"x": 1.5}'],
        "ok_null.jsonl": ['{"x": null}', '{"x": {"y": 1}}'],
        "bad_bool.jsonl": ['{"x": true}', '{"x": 1}'],
        "bad_nested.jsonl": ['{"m": {"s": 3}}', '{"m": {}}', '{"m": {"s": "x"}}'],
        "bad_list.jsonl": ['{"a": [1]}', '{"a": ["x"]}'],
    }
    for name, lines in cases.items():
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        checker = lf.ArrowTypeChecker()
        try:
            for i, line in enumerate(lines, 1):
                checker.add(json.loads(line), f"{path}:{i}")
            ours = True
        except RecordError as exc:
            ours = False
            assert f"{name}:{len(lines)}" in str(exc) and f"{name}:1" in str(exc)
        try:
            load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path))
            theirs = True
        except Exception:
            theirs = False
        assert ours == theirs == name.startswith("ok"), name


def test_check_loadable_counts_and_rejects(tmp_path: Path) -> None:
    assert lf.check_loadable(TASK_FILES["re"], task="re") == 8
    bad = tmp_path / "bad.jsonl"
    lines = TASK_FILES["ner"].read_text().splitlines()
    lines[3] = lines[3].replace('"dataset": "toy"', '"dataset": 7')
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=r"bad\.jsonl:4: field 'dataset'"):
        lf.check_loadable(bad)


def _data_args(dataset_dir: Path):
    from llamafactory.hparams import DataArguments

    return DataArguments(dataset_dir=str(dataset_dir), template="qwen3_nothink")


def test_converter_output_matches_llamafactory_alpaca_converter() -> None:
    from llamafactory.data.converter import get_dataset_converter
    from llamafactory.data.parser import DatasetAttr

    args = _data_args(FIXTURES)
    attr = DatasetAttr("file", "ee.jsonl", formatting="prouie_ee_sa")
    conv = get_dataset_converter("prouie_ee_sa", attr, args)
    alpaca = get_dataset_converter("alpaca", DatasetAttr("file", "x.jsonl"), args)
    for ex in iter_jsonl(TASK_FILES["ee"]):
        assert conv(json.loads(json.dumps(ex))) == alpaca(to_alpaca(ex, "sa"))


def test_converter_fingerprint_is_stable_and_tells_stages_apart() -> None:
    # datasets keys its cache on this hash: equal for equal settings (cache hits on reruns),
    # different for another stage (no stale CM text in an SA run).
    from datasets.fingerprint import Hasher
    from llamafactory.data.converter import get_dataset_converter
    from llamafactory.data.parser import DatasetAttr

    args = _data_args(FIXTURES)

    def conv(name: str):
        return get_dataset_converter(name, DatasetAttr("file", "re.jsonl", formatting=name), args)

    assert Hasher.hash(conv("prouie_re")) == Hasher.hash(conv("prouie_re"))
    assert Hasher.hash(conv("prouie_re")) != Hasher.hash(conv("prouie_re_sa"))


def test_converter_rejects_a_record_of_another_task() -> None:
    from llamafactory.data.converter import get_dataset_converter
    from llamafactory.data.parser import DatasetAttr

    conv = get_dataset_converter(
        "prouie_ner", DatasetAttr("file", "re.jsonl"), _data_args(FIXTURES)
    )
    row = json.loads(TASK_FILES["re"].read_text().splitlines()[0])
    with pytest.raises(RecordError, match=r"re\.jsonl \(record id 're-0'\): field 'task'"):
        conv(row)


def test_register_is_idempotent_and_refuses_a_clash() -> None:
    from llamafactory.data.converter import DATASET_CONVERTERS

    assert lf.register() == []  # the autoload hook already registered everything
    assert DATASET_CONVERTERS["prouie_re"] is lf.ReCmConverter
    saved = DATASET_CONVERTERS["prouie_re"]
    DATASET_CONVERTERS["prouie_re"] = object
    try:
        with pytest.raises(ValueError, match="already has a dataset converter named 'prouie_re'"):
            lf.register()
    finally:
        DATASET_CONVERTERS["prouie_re"] = saved


def test_render_digest_changes_with_the_templates(tmp_path: Path, monkeypatch) -> None:
    before = lf.render_digest()
    (tmp_path / "cm_ner.jsonl").write_text("")  # not a template: ignored
    monkeypatch.setenv("PROUIE_TEMPLATE_DIR", str(tmp_path))
    assert lf.render_digest() == before
    (tmp_path / "cm_ner.jinja").write_text("Extract {{ labels|join(', ') }}:")
    assert lf.render_digest() != before


# ----------------------------------------------------------------------------- autoload


def _python(code: str, **env: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], env=_env(**env), capture_output=True, text=True, check=True
    ).stdout.strip()


def test_autoload_is_cheap_and_lazy() -> None:
    code = (
        "import sys; "
        "print(type(sys.meta_path[0]).__name__, "
        "sorted(m for m in ('torch', 'llamafactory', 'transformers', 'datasets', 'jinja2', "
        "'prouie.integrations.llamafactory') if m in sys.modules))"
    )
    assert _python(code) == "PostImportFinder []"


def test_autoload_registers_when_llamafactory_loads_its_converters() -> None:
    code = (
        "import inspect, llamafactory.data.converter as c; "
        "print(sorted(k for k in c.DATASET_CONVERTERS if k.startswith('prouie_'))); "
        # The module keeps its real loader, so introspection sees it as without prouie.
        "print(type(c.__loader__).__name__, type(c.__spec__.loader).__name__, "
        "'def register_dataset_converter' in inspect.getsource(c))"
    )
    names, loader = _python(code).splitlines()
    assert names == str(sorted(lf.FORMATTINGS))
    assert loader == "SourceFileLoader SourceFileLoader True"
    assert _python(code, PROUIE_NO_AUTOLOAD="1").splitlines()[0] == "[]"


# ----------------------------------------------------------------------------- recipes


def _recipe(name: str) -> dict:
    return yaml.safe_load((RECIPES / f"{name}.yaml").read_text())


def test_recipes_use_only_real_llamafactory_arguments() -> None:
    from llamafactory.hparams.parser import _TRAIN_ARGS

    known = {f for cls in _TRAIN_ARGS for f in cls.__dataclass_fields__}
    for name in CHAIN:
        assert set(_recipe(name)) - known == set(), name


def test_recipes_chain_and_follow_the_paper() -> None:
    previous = None
    for spec, name in zip(STAGES, CHAIN, strict=True):
        r = _recipe(name)
        assert spec.name == name
        assert r["model_name_or_path"] == (previous or "Qwen/Qwen3-4B")
        assert r["dataset"].split(",") == [entry_name(name, t) for t in spec.tasks]
        assert r["num_train_epochs"] == 2
        assert (r["stage"], r["finetuning_type"], r["template"]) == ("sft", "full", "qwen3_nothink")
        assert r["mix_strategy"] == "concat"
        # These would change the planned counts (see prouie.plan).
        assert not {"max_samples", "streaming", "val_size", "packing"} & set(r)
        ds = json.loads((REPO / r["deepspeed"]).read_text())
        assert ds["zero_optimization"]["stage"] == 3
        assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
        previous = r["output_dir"]
    text = "\n".join((RECIPES / f"{n}.yaml").read_text() for n in CHAIN)
    assert text.count("CHANGE ME") >= 4 * 4


# ----------------------------------------------------------------------------- end to end


def _prepare(workdir: Path) -> dict[str, list[str]]:
    """Materialise alpaca files with `prouie prepare`; return plan arguments for them."""
    prepared = workdir / "prepared"
    files: dict[str, list[str]] = {}
    for task in ("ner", "re", "ee"):
        for stage in ("cm", "sa") if task != "ner" else ("cm",):
            argv = ["prepare", "--input", str(TASK_FILES[task]), "--format", "records"]
            assert prouie_main([*argv, "--stage", stage, "--out", str(prepared)]) == 0
            flag = f"--{task}" if stage == "cm" else f"--sa-{task}"
            files[flag] = [str(p) for p in sorted(prepared.glob(f"toy_{stage}_{task}*.jsonl"))]
            assert len(files[flag]) == 1, files[flag]  # one file: the same row order as the records
    return files


def _plan(workdir: Path, route: str) -> None:
    if route == "records":
        files = {f"--{t}": [str(p)] for t, p in TASK_FILES.items()}
    else:
        files = _prepare(workdir)
    argv = ["plan", "--out", str(workdir / "data")]
    for flag, paths in files.items():
        argv += [flag, *paths]
    assert prouie_main(argv) == 0


def _run_chain(work: Path, route: str, tiny_model: Path) -> dict:
    """Plan, then run the four recipes chained with `llamafactory-cli train`, in one folder."""
    _plan(work, route)
    logs = {}
    for name in CHAIN:
        overrides = [*CPU_OVERRIDES, f"tokenized_path={work / 'tok' / name}"]
        if name == "cm_phase1":
            overrides.insert(0, f"model_name_or_path={tiny_model}")
        logs[name] = _ok(_lf(["train", str(RECIPES / f"{name}.yaml"), *overrides], work))
    return {"work": work, "logs": logs}


@pytest.fixture(scope="module")
def chains(tmp_path_factory, tiny_model) -> dict:
    """Both routes: canonical records through the converters, and `prouie prepare` alpaca files."""
    return {
        route: _run_chain(tmp_path_factory.mktemp(f"chain_{route}"), route, tiny_model)
        for route in ("records", "alpaca")
    }


ROUTES = pytest.mark.parametrize("route", ["records", "alpaca"])


@pytest.mark.framework
@ROUTES
def test_recipes_chain_phase_to_phase(chains, route) -> None:
    work, logs = chains[route]["work"], chains[route]["logs"]
    info = json.loads((work / "data" / "dataset_info.json").read_text())
    for name in CHAIN:
        assert (work / "saves" / "prouie" / name / "model.safetensors").is_file()
        for task in STAGES[CHAIN.index(name)].tasks:
            n = info[entry_name(name, task)]["num_samples"]
            assert f"Sampled {n} examples from dataset" in logs[name]
    for prev, name in zip(CHAIN, CHAIN[1:], strict=False):
        assert f"saves/prouie/{prev}/config.json" in logs[name]


@pytest.mark.framework
@ROUTES
def test_llamafactory_trains_on_the_rendered_text_byte_for_byte(chains, route, tiny_model) -> None:
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    work = chains[route]["work"]
    tok = AutoTokenizer.from_pretrained(tiny_model)
    info = json.loads((work / "data" / "dataset_info.json").read_text())
    for spec in STAGES:
        rows = load_from_disk(str(work / "tok" / spec.name))["train"]
        start = 0
        for task in spec.tasks:  # mix_strategy concat keeps the entries in order
            n = info[entry_name(spec.name, task)]["num_samples"]
            got = Counter(
                (
                    tok.decode(r["input_ids"]),
                    tok.decode([i for i in r["labels"] if i != -100]),
                )
                for r in rows.select(range(start, start + n))
            )
            start += n
            missing = got - _expected(spec.render, task)
            assert not missing, (spec.name, task, list(missing)[:1])
            assert sum(got.values()) == n
        assert start == len(rows)


@pytest.mark.framework
def test_both_routes_train_on_identical_tokens(chains) -> None:
    from datasets import load_from_disk

    for name in CHAIN:
        ids = [
            load_from_disk(str(chains[route]["work"] / "tok" / name))["train"]["input_ids"]
            for route in ("records", "alpaca")
        ]
        assert ids[0] == ids[1], name


@pytest.mark.framework
def test_torchrun_workers_register_the_converters(tmp_path: Path, tiny_model: Path) -> None:
    # The launching process never imports LLaMA-Factory's data code; only the two torchrun
    # workers do, so a successful run means the .pth hook registered the converters in them.
    _plan(tmp_path, "records")
    proc = _lf(
        [
            "train",
            str(RECIPES / "cm_phase2.yaml"),
            f"model_name_or_path={tiny_model}",
            *CPU_OVERRIDES,
        ],
        tmp_path,
        FORCE_TORCHRUN="1",
        NPROC_PER_NODE="2",
    )
    log = _ok(proc)
    assert "world size: 2" in log and "distributed training: True" in log
    assert (tmp_path / "saves" / "prouie" / "cm_phase2" / "model.safetensors").is_file()


@pytest.mark.framework
def test_without_autoload_llamafactory_does_not_know_the_formatting(
    tmp_path: Path, tiny_model: Path
) -> None:
    _plan(tmp_path, "records")
    recipe = str(RECIPES / "cm_phase1.yaml")
    proc = _lf(
        ["train", recipe, f"model_name_or_path={tiny_model}", *CPU_OVERRIDES],
        tmp_path,
        PROUIE_NO_AUTOLOAD="1",
    )
    assert proc.returncode != 0
    assert "Dataset converter prouie_ner not found" in proc.stdout + proc.stderr


@pytest.mark.framework
def test_llamafactory_v1_engine_uses_the_converters(tmp_path: Path, tiny_model: Path) -> None:
    (tmp_path / "data.yaml").write_text(
        yaml.safe_dump(
            {
                "re": {
                    "path": str(TASK_FILES["re"]),
                    "source": "local",
                    "converter": "prouie_re_sa",
                },
                "ee": {"path": str(TASK_FILES["ee"]), "source": "local", "converter": "prouie_ee"},
            }
        )
    )
    config = {
        "model": str(tiny_model),
        "template": "qwen3_nothink",
        "train_dataset": "data.yaml",
        "output_dir": "out",
        "micro_batch_size": 1,
        "cutoff_len": 1024,
        "max_steps": 1,
        "bf16": False,
        "batching_workers": 0,
    }
    (tmp_path / "v1.yaml").write_text(yaml.safe_dump(config))
    _ok(_lf(["sft", "v1.yaml"], tmp_path, USE_V1="1"))
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_v1_samples_carry_the_rendered_text(tmp_path: Path) -> None:
    from llamafactory.v1.core.data_engine import DataEngine

    (tmp_path / "data.yaml").write_text(
        yaml.safe_dump(
            {"re": {"path": str(TASK_FILES["re"]), "source": "local", "converter": "prouie_re_sa"}}
        )
    )
    engine = DataEngine(str(tmp_path / "data.yaml"))
    want = [to_alpaca(ex, "sa") for ex in iter_jsonl(TASK_FILES["re"])]
    assert len(engine) == len(want)
    for i, row in enumerate(want):
        user, assistant = engine[i]["messages"]
        assert user["content"][0]["value"] == f"{row['instruction']}\n{row['input']}"
        assert assistant["content"][0]["value"] == row["output"]
        assert (user["loss_weight"], assistant["loss_weight"]) == (0.0, 1.0)
