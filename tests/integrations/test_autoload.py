"""The LLaMA-Factory autoload hook: shipped as ``.pth`` and ``.start`` (PEP 829) in every install
mode, run exactly once by every Python from 3.10 on, and never fatal to LLaMA-Factory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from prouie.integrations import autoload

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugin"
PTH, START = "prouie-autoload.pth", "prouie-autoload.start"


@pytest.fixture(scope="module", params=["wheel", "editable"])
def wheel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(request.param)
    if request.param == "editable":
        code = "from setuptools import build_meta as b; import sys; b.build_editable(sys.argv[1])"
        cmd = [sys.executable, "-c", code, str(out)]
    else:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        cmd += ["-q", "-w", str(out), str(REPO)]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    (whl,) = out.glob("prouie-*.whl")
    return whl


def _startup_files(wheel: Path, folder: Path) -> dict[str, str]:
    """The two start-up files of the wheel, written alone into ``folder`` (a site directory)."""
    folder.mkdir()
    with zipfile.ZipFile(wheel) as z:
        files = {name: z.read(name).decode() for name in (PTH, START)}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return files


def _python(python: str, code: str, *args: str, **env: str) -> str:
    """Run ``code`` without this environment's site-packages (its own .pth must not run), with
    prouie from this checkout; return what it printed."""
    full = {k: v for k, v in os.environ.items() if k != "PROUIE_NO_AUTOLOAD"}
    full.update(PYTHONPATH=str(PLUGIN), **env)
    proc = subprocess.run(
        [python, "-S", "-c", code, *args], env=full, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


# Count the calls of the hook while Python's own site machinery processes a site directory.
COUNT_CALLS = """
import sys, site
import prouie.integrations.autoload as a
calls = []
real = a.install
a.install = lambda: calls.append(1) or real()
site.addsitedir(sys.argv[1])
print(len(calls), type(sys.meta_path[0]).__name__)
"""


def test_both_files_are_in_the_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        record = z.read(next(n for n in z.namelist() if n.endswith("RECORD"))).decode()
        pth, start = z.read(PTH).decode(), z.read(START).decode()
    assert f"{PTH}," in record and f"{START}," in record  # pip uninstall removes both
    assert pth.startswith("import ") and pth.count("\n") == 1  # Python runs only `import` lines
    # PEP 829: one `pkg.mod:callable` per line, resolved with pkgutil.resolve_name.
    import pkgutil

    assert start == "prouie.integrations.autoload:install\n"
    assert pkgutil.resolve_name(start.strip()) is autoload.install


def _pythons() -> list[str]:
    """This Python and every other one from 3.10 on that runs here (pyenv shims may not)."""
    found = {sys.executable}
    for version in ("3.10", "3.11", "3.12", "3.13", "3.14", "3.15", "3.16", "3.18"):
        path = shutil.which(f"python{version}")
        if path:
            ok = subprocess.run([path, "-S", "-c", "pass"], capture_output=True).returncode == 0
            found |= {path} if ok else set()
    return sorted(found)


PYTHONS = _pythons()


@pytest.mark.parametrize("python", PYTHONS)
def test_every_python_runs_the_hook_once(wheel: Path, tmp_path: Path, python: str) -> None:
    # On Python < 3.15 the .pth line runs and the .start file is unknown; on 3.15+ the .start entry
    # point runs and disables the .pth line (PEP 829). Either way: one call.
    _startup_files(wheel, tmp_path / "site")
    assert _python(python, COUNT_CALLS, str(tmp_path / "site")) == "1 PostImportFinder"


def test_on_python_3_15_only_the_start_file_runs_the_hook(wheel: Path, tmp_path: Path) -> None:
    # This Python predates PEP 829, so its rule is applied here by hand: with the version test
    # of the .pth line as 3.15 sees it, the line does nothing, and the .start entry point runs.
    files = _startup_files(wheel, tmp_path / "site")
    line = files[PTH].strip()
    assert "sys.version_info < (3, 15)" in line
    code = (
        "import pkgutil, prouie.integrations.autoload as a; calls = []; real = a.install; "
        "a.install = lambda: calls.append(1) or real(); "
        f"exec({line.replace('sys.version_info', '(3, 15)')!r}); print(len(calls)); "
        f"pkgutil.resolve_name({files[START].strip()!r})(); print(len(calls))"
    )
    assert _python(sys.executable, code).split() == ["0", "1"]


def test_the_pth_line_imports_nothing_when_switched_off(wheel: Path, tmp_path: Path) -> None:
    line = _startup_files(wheel, tmp_path / "site")[PTH].strip()
    code = f"{line}\nimport sys; print('prouie' in sys.modules)"
    assert _python(sys.executable, code, PROUIE_NO_AUTOLOAD="1") == "False"


# ----------------------------------------------------------------------------- a broken prouie


@pytest.fixture
def broken_prouie(tmp_path: Path) -> Path:
    """A copy of prouie whose LLaMA-Factory glue fails to import; returns the folder to put on
    PYTHONPATH."""
    root = tmp_path / "broken"
    shutil.copytree(
        PLUGIN / "prouie", root / "prouie", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "prouie" / "integrations" / "llamafactory.py").write_text(
        'raise ImportError("deliberately broken for this test")\n', encoding="utf-8"
    )
    return root


def _with_site(code: str, pythonpath: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in this environment as a user would (its .pth runs), prouie from ``pythonpath``."""
    full = {k: v for k, v in os.environ.items() if k != "PROUIE_NO_AUTOLOAD"}
    full.update(PYTHONPATH=str(pythonpath), HF_HUB_OFFLINE="1", **env)
    full["PATH"] = str(Path(sys.executable).parent) + os.pathsep + full.get("PATH", "")
    return subprocess.run(
        [*args] or [sys.executable, "-c", code],
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_broken_prouie_leaves_llamafactory_its_own_formats(broken_prouie: Path) -> None:
    code = (
        "import llamafactory.data.converter as c\n"
        "import llamafactory.v1.plugins.data_plugins.converter\n"
        "print(' '.join(sorted(c.DATASET_CONVERTERS)))"
    )
    proc = _with_site(code, broken_prouie)
    assert proc.returncode == 0, proc.stderr
    converters = proc.stdout.split()
    assert {"alpaca", "sharegpt"} <= set(converters)
    assert not [name for name in converters if name.startswith("prouie_")]
    warnings = [line for line in proc.stderr.splitlines() if "AutoloadWarning" in line]
    assert len(warnings) == 1, proc.stderr  # one warning, though both hooks failed
    assert "ImportError: deliberately broken for this test" in warnings[0]
    assert "`prouie prepare`" in warnings[0] and "PROUIE_NO_AUTOLOAD=1" in warnings[0]


@pytest.mark.framework
def test_a_broken_prouie_lets_llamafactory_train(
    broken_prouie: Path, tiny_model: Path, tmp_path: Path
) -> None:
    rows = [{"instruction": "Say hi.", "input": "", "output": "hi"}] * 4
    (tmp_path / "hi.json").write_text(json.dumps(rows), encoding="utf-8")
    (tmp_path / "dataset_info.json").write_text(json.dumps({"hi": {"file_name": "hi.json"}}))
    args = [
        "llamafactory-cli", "train", str(REPO / "recipes" / "cm_phase1.yaml"),
        f"model_name_or_path={tiny_model}", "dataset=hi", f"dataset_dir={tmp_path}",
        f"output_dir={tmp_path / 'out'}", "max_steps=1", "bf16=false", "deepspeed=null",
        "preprocessing_num_workers=1", "dataloader_num_workers=0",
    ]  # fmt: skip
    proc = _with_site("", broken_prouie, *args, HF_DATASETS_CACHE=str(tmp_path / "cache"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert "deliberately broken for this test" in proc.stdout + proc.stderr
