"""Regenerate the framework config key lists the recipe tests check against.

    python tests/data/make_schema_keys.py easyr1 PATH/TO/EasyR1 > tests/data/easyr1_schema_keys.txt
    python tests/data/make_schema_keys.py verl > tests/data/verl_ppo_trainer_keys.txt

EasyR1 cannot be installed beside PyPI verl (both are the top-level package ``verl``), so its
schema is read from the source of its config dataclasses (``verl/trainer/config.py`` and
``verl/workers/**/config.py``) without importing it. verl's keys come from the installed package's
flattened Hydra config ``verl/trainer/config/_generated_ppo_trainer.yaml``.

Output: one dotted key per line. ``KEY.*`` marks a mapping that takes any sub-key. EasyR1 fields
declared ``field(..., init=False)`` are computed in ``post_init`` ("auto keys") and left out,
because a value set in a config is overwritten.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

EASYR1_FILES = (
    "verl/trainer/config.py",
    "verl/workers/config.py",
    "verl/workers/actor/config.py",
    "verl/workers/critic/config.py",
    "verl/workers/reward/config.py",
    "verl/workers/rollout/config.py",
)


def _dataclasses(sources: list[str]) -> dict[str, list[tuple[str, str, str | None, bool]]]:
    """class name -> [(field, annotation, nested class or None, init)]."""
    classes: dict[str, list[tuple[str, str, str | None, bool]]] = {}
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.ClassDef):
                continue
            if not any("dataclass" in ast.unparse(d) for d in node.decorator_list):
                continue
            fields = []
            for stmt in node.body:
                if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
                    continue
                nested, init = None, True
                value = stmt.value
                if isinstance(value, ast.Call) and ast.unparse(value.func) == "field":
                    for kw in value.keywords:
                        if kw.arg == "default_factory" and isinstance(kw.value, ast.Name):
                            nested = kw.value.id
                        if kw.arg == "init" and ast.unparse(kw.value) == "False":
                            init = False
                fields.append((stmt.target.id, ast.unparse(stmt.annotation), nested, init))
            classes[node.name] = fields
    return classes


def easyr1_keys(repo: Path) -> list[str]:
    def read(path: str) -> str:
        if (repo / path).is_file():
            return (repo / path).read_text(encoding="utf-8")
        return subprocess.run(
            ["git", "-C", str(repo), "show", f"HEAD:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    classes = _dataclasses([read(p) for p in EASYR1_FILES])
    keys: list[str] = []

    def walk(cls: str, prefix: str) -> None:
        for name, annotation, nested, init in classes[cls]:
            if not init:
                continue
            if nested in classes:
                walk(nested, f"{prefix}{name}.")
            elif annotation.startswith("dict"):
                keys.append(f"{prefix}{name}.*")
            else:
                keys.append(f"{prefix}{name}")

    walk("PPOConfig", "")
    return keys


def verl_keys() -> list[str]:
    import verl
    import yaml

    path = Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    keys: list[str] = []

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            if not node:
                keys.append(f"{prefix}*")
            for k, v in node.items():
                if k == "_target_":
                    continue
                walk(v, f"{prefix}{k}.")
        else:
            keys.append(prefix[:-1])

    walk(cfg, "")
    return keys


def main() -> None:
    which = sys.argv[1]
    if which == "easyr1":
        repo = Path(sys.argv[2])
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        print(f"# EasyR1 config keys (hiyouga/EasyR1 @ {commit}); tests/data/make_schema_keys.py")
        keys = easyr1_keys(repo)
    else:
        import verl

        print(
            f"# verl {verl.__version__} ppo_trainer keys (_generated_ppo_trainer.yaml); tests/data/make_schema_keys.py"
        )
        keys = verl_keys()
    print("\n".join(keys))


if __name__ == "__main__":
    main()
