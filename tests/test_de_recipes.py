"""DE recipes: every key exists in the framework's config schema, the paper's values are in place,
and the phase plan chains NER -> RE -> EE.

Schemas: ``tests/data/easyr1_schema_keys.txt`` (EasyR1's config dataclasses, commit in its first
line) and ``tests/data/verl_ppo_trainer_keys.txt`` (verl 0.9.1's flattened trainer config), both
written by ``tests/data/make_schema_keys.py``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from prouie.de import DERecipe, Phase, load_recipe, plan

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
DATA = Path(__file__).parent / "data"
PAPER = {  # Appendix A.3, Stage III
    "ner": {"n": 4, "epochs": 2, "instances": 80000},
    "re": {"n": 8, "epochs": 3, "instances": 50000},
    "ee": {"n": 8, "epochs": 3, "instances": 9991},
}


def schema(name: str) -> tuple[set[str], list[str]]:
    lines = (DATA / name).read_text("utf-8").splitlines()
    assert lines[0].startswith("# ")
    keys = {x for x in lines[1:] if x and not x.startswith("#")}
    return {k for k in keys if not k.endswith(".*")}, [k[:-1] for k in keys if k.endswith(".*")]


def valid(key: str, exact: set[str], prefixes: list[str]) -> bool:
    return key in exact or any(key.startswith(p) for p in prefixes)


def leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(leaves(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}


def overrides(script: Path, command: str) -> list[str]:
    text = script.read_text("utf-8").replace("\\\n", " ")
    line = next(x for x in text.splitlines() if command in x)
    return [w for w in shlex.split(line) if re.match(r"^[+~]?[A-Za-z_][\w.]*=", w)]


# ----------------------------------------------------------------------------- EasyR1


@pytest.mark.parametrize("task", ["ner", "re", "ee"])
def test_easyr1_recipe_keys_are_in_the_schema(task: str) -> None:
    exact, prefixes = schema("easyr1_schema_keys.txt")
    cfg = yaml.safe_load((RECIPES / f"de_{task}.yaml").read_text("utf-8"))
    unknown = [k for k in leaves(cfg) if not valid(k, exact, prefixes)]
    assert not unknown, f"not in EasyR1's config: {unknown}"


@pytest.mark.parametrize("task", ["ner", "re", "ee"])
def test_easyr1_recipe_carries_the_paper_values(task: str) -> None:
    text = (RECIPES / f"de_{task}.yaml").read_text("utf-8")
    cfg = yaml.safe_load(text)
    assert cfg["algorithm"]["adv_estimator"] == "grpo"
    assert cfg["worker"]["rollout"]["n"] == PAPER[task]["n"]
    assert cfg["trainer"]["total_epochs"] == PAPER[task]["epochs"]
    assert cfg["trainer"]["n_gpus_per_node"] == 8 and cfg["trainer"]["nnodes"] == 1
    assert f"--num-samples {PAPER[task]['instances']}" in text
    assert cfg["worker"]["reward"]["reward_function"] == "./rewards/sfr_easyr1.py:compute_score"
    assert (ROOT / cfg["worker"]["reward"]["reward_function"].split(":")[0]).is_file()
    assert (ROOT / cfg["data"]["format_prompt"]).is_file()
    assert cfg["worker"]["reward"]["reward_function_kwargs"]["variant"] == "sfr"
    assert cfg["data"]["prompt_key"] == "prompt" and cfg["data"]["answer_key"] == "answer"


@pytest.mark.parametrize("task", ["ner", "re", "ee"])
def test_every_easyr1_value_is_commented(task: str) -> None:
    lines = (RECIPES / f"de_{task}.yaml").read_text("utf-8").splitlines()
    bare = [
        x
        for x in lines
        if x.strip()
        and not x.lstrip().startswith("#")
        and not x.rstrip().endswith(":")
        and "#" not in x
    ]
    assert not bare, f"values without a comment: {bare}"
    for key in ("train_files:", "val_files:", "model_path:", "save_checkpoint_path:"):
        line = next(x for x in lines if x.strip().startswith(key))
        assert "# CHANGE ME" in line, line


def test_easyr1_launch_script_overrides_are_in_the_schema() -> None:
    exact, prefixes = schema("easyr1_schema_keys.txt")
    script = RECIPES / "de_easyr1.sh"
    words = overrides(script, "verl.trainer.main")
    keys = [w.split("=", 1)[0] for w in words]
    assert keys[0] == "config"
    assert all(valid(k, exact, prefixes) for k in keys[1:]), keys
    assert "worker.actor.model.model_path" in keys
    text = script.read_text("utf-8")
    assert 'PHASES=${PHASES:-"ner re ee"}' in text  # paper Eq. (1) order
    assert "config=recipes/de_${task}.yaml" in text


# ----------------------------------------------------------------------------- verl


def test_verl_launch_script_keys_exist_in_verl_0_9_1() -> None:
    exact, prefixes = schema("verl_ppo_trainer_keys.txt")
    words = overrides(RECIPES / "de_verl.sh", "verl.trainer.main_ppo")
    assert words
    for word in words:
        key = word.split("=", 1)[0]
        if key.startswith("+"):
            # Hydra: "+" adds a key that must not exist yet.
            assert not valid(key[1:], exact, prefixes), key
            assert key.startswith("+reward.custom_reward_function.reward_kwargs.")
        else:
            assert valid(key, exact, prefixes), f"{key} is not a verl 0.9.1 config key"
    got = dict(w.split("=", 1) for w in words)
    assert got["algorithm.adv_estimator"] == "grpo"
    assert got["reward.custom_reward_function.path"] == "rewards/sfr_verl.py"
    assert got["reward.custom_reward_function.name"] == "compute_score"
    assert got["actor_rollout_ref.rollout.n"] == "${n}"
    assert got["trainer.total_epochs"] == "${epochs}"
    assert got["trainer.n_gpus_per_node"] == "8"
    assert (ROOT / got["reward.custom_reward_function.path"]).is_file()


def test_verl_launch_script_phase_table() -> None:
    text = (RECIPES / "de_verl.sh").read_text("utf-8")
    table = dict(re.findall(r"^\s+(\w+)\) (n=\d+; epochs=\d+) ;;", text, flags=re.M))
    assert table == {t: f"n={p['n']}; epochs={p['epochs']}" for t, p in PAPER.items()}
    assert 'PHASES=${PHASES:-"ner re ee"}' in text


def test_verl_key_snapshot_matches_the_installed_verl() -> None:
    verl = pytest.importorskip("verl", reason="verl is not installed; the snapshot is used as is")
    if verl.__version__ != "0.9.1":
        pytest.skip(f"snapshot is of verl 0.9.1, installed {verl.__version__}")
    import sys

    sys.path.insert(0, str(DATA))
    try:
        from make_schema_keys import verl_keys
    finally:
        sys.path.remove(str(DATA))
    lines = (DATA / "verl_ppo_trainer_keys.txt").read_text("utf-8").splitlines()[1:]
    assert lines == verl_keys()


# ----------------------------------------------------------------------------- TRL recipe / plan


def test_trl_recipe_matches_the_paper() -> None:
    recipe = load_recipe()
    assert [p.task for p in recipe.phases] == ["ner", "re", "ee"]
    for p in recipe.phases:
        assert (p.num_generations, p.num_train_epochs, p.num_samples) == (
            PAPER[p.task]["n"],
            PAPER[p.task]["epochs"],
            PAPER[p.task]["instances"],
        )
    assert recipe.reward == {"variant": "sfr", "clip": True}


def test_trl_recipe_grpo_keys_are_grpo_config_fields() -> None:
    trl = pytest.importorskip("trl")
    import dataclasses

    from prouie.integrations.trl import import_grpo

    grpo_config, _ = import_grpo()
    names = {f.name for f in dataclasses.fields(grpo_config)}
    assert trl.__version__
    assert set(load_recipe().grpo) <= names


def test_plan_chains_the_phases() -> None:
    recipe = DERecipe((Phase("ner", 4, 2), Phase("re", 8, 3), Phase("ee", 8, 3)))
    data = {"ner": "n.jsonl", "re": "r.jsonl", "ee": "e.jsonl"}
    steps = plan(recipe, "sa", data, "out", max_steps=5)
    assert [
        (s.index, s.phase.task, s.model_in, s.output_dir, s.data, s.max_steps) for s in steps
    ] == [
        (1, "ner", "sa", "out/1_ner", "n.jsonl", 5),
        (2, "re", "out/1_ner", "out/2_re", "r.jsonl", 5),
        (3, "ee", "out/2_re", "out/3_ee", "e.jsonl", 5),
    ]
    # A subset runs in recipe order whatever order it is named in.
    steps = plan(recipe, "m", {"ee": "e", "re": "r"}, "o", phases=["ee", "re"])
    assert [(s.phase.task, s.model_in) for s in steps] == [("re", "m"), ("ee", "o/1_re")]


def test_plan_errors() -> None:
    recipe = DERecipe((Phase("ner", 4, 2), Phase("re", 8, 3)))
    with pytest.raises(ValueError, match="no data for phase\\(s\\) re: pass --re RECORDS.jsonl"):
        plan(recipe, "m", {"ner": "n"}, "o")
    with pytest.raises(ValueError, match="phase 'ee' is not in the recipe"):
        plan(recipe, "m", {"ner": "n"}, "o", phases=["ee"])
    with pytest.raises(ValueError, match="--max-steps must be positive"):
        plan(recipe, "m", {"ner": "n", "re": "r"}, "o", max_steps=0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "r.yaml: fields must form a mapping, got list"),
        ("phases: []\n", "'phases': Tuple should have at least 1 item"),
        (
            "phases: [{task: ner, num_generations: 1, num_train_epochs: 1}]\n",
            "equal to 2 \\(got 1\\)",
        ),
        ("phases: [{task: xx, num_generations: 2, num_train_epochs: 1}]\n", "phases\\[0\\].task"),
        ("phases: [{task: ner, num_generations: 2, num_train_epochs: 0}]\n", "num_train_epochs"),
        (
            "phases: [{task: ner, num_generations: 2, num_train_epochs: 1, num_sample: 3}]\n",
            "unknown field 'phases\\[0\\].num_sample'; did you mean 'phases\\[0\\].num_samples'",
        ),
        (
            "phases: [{task: ner, num_generations: 2, num_train_epochs: 1}]\nrewards: {}\n",
            "unknown field 'rewards'; did you mean 'reward'",
        ),
        (
            "phases: [{task: ner, num_generations: 2, num_train_epochs: 1}]\nreward: {gama: 1}\n",
            "unknown SFR option 'gama'",
        ),
        (
            "phases: [{task: ner, num_generations: 2, num_train_epochs: 1},"
            " {task: ner, num_generations: 2, num_train_epochs: 1}]\n",
            "twice",
        ),
    ],
)
def test_load_recipe_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ValueError, match=message):
        load_recipe(path)
