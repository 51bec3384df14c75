"""The built wheel carries the templates and recipes, and renders prompts from them when installed."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("prouie-*.whl")
    return whl


def test_wheel_ships_data_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in sorted(p.name for p in (REPO / "templates").glob("*.jinja")):
        assert f"prouie/templates/{template}" in names
    for recipe in sorted(p.name for p in (REPO / "recipes").glob("*.yaml")):
        assert f"prouie/recipes/{recipe}" in names


def test_wheel_ships_every_subpackage(wheel: Path) -> None:
    # pyproject.toml lists the packages one by one: a new folder left out would be missing.
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in sorted((REPO / "plugin" / "prouie").glob("*/__init__.py")):
        module = init.parent.name
        assert f"prouie/{module}/__init__.py" in names, f"add prouie.{module} to pyproject.toml"
    assert {"prouie/sfr/scorers.py", "prouie/de/recipe.py"} <= names


def test_installed_wheel_renders_from_its_own_templates(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = (
        "import prouie, prouie.targets as t; "
        "print(prouie.__file__); print(t.template_dirs()[0]); "
        "print(t.render_instruction('re', 'sa', ['used for']))"
    )
    env = {**os.environ, "PYTHONPATH": str(target), "PROUIE_NO_AUTOLOAD": "1"}
    env.pop("PROUIE_TEMPLATE_DIR", None)
    lines = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    ).stdout.splitlines()
    assert lines[0].startswith(str(target))
    assert lines[1] == str(target / "prouie" / "templates")
    assert lines[2].endswith(
        "(used for) from the user input. Values must be exact substrings of the input. "
        "If a relation has multiple pairs, join them with | in the order of first "
        "appearance, and each pair must be formatted as word1, word2’. Please use "
        "concise output with no empty fields. The user input is:"
    )
