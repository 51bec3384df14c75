"""``prouie doctor``: versions, the converters, and which known incompatibility applies."""

from __future__ import annotations

import pytest
from prouie import doctor
from prouie.cli import main

SHARED_ENV = {
    "LLaMA-Factory": "0.9.5",
    "transformers": "5.5.3",
    "torch": "2.14.1",
    "TRL": "0.24.0",
    "verl": "0.9.1",
    "vLLM": None,
    "omegaconf": "2.3.0",
    "EasyR1": None,
}


def applying(v: dict) -> list[str]:
    return [f.problem.split(" ")[0] for f in doctor.findings(v) if f.applies]


def test_each_incompatibility_applies_only_where_it_bites() -> None:
    assert applying(SHARED_ENV) == []
    assert applying({**SHARED_ENV, "transformers": "5.6.0"}) == ["verl"]
    assert applying({**SHARED_ENV, "transformers": "5.5.0rc1"}) == []
    assert applying({**SHARED_ENV, "verl": None, "transformers": "5.6.0"}) == []
    easyr1 = {**SHARED_ENV, "verl": None, "EasyR1": "0.3.2"}
    assert applying({**easyr1, "omegaconf": "2.4.0"}) == ["EasyR1", "the"]
    assert applying(easyr1) == ["the"]


def test_the_reward_path_for_a_pip_install_is_a_loadable_easyr1_reward() -> None:
    import importlib.util

    path, name = doctor.easyr1_reward_path().rsplit(":", 1)
    spec = importlib.util.spec_from_file_location("reward_file", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert name == "compute_score" and callable(getattr(module, name))
    assert module.REWARD_TYPE == "batch"


def test_doctor_prints_versions_converters_and_fixes(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("llamafactory")
    monkeypatch.setattr(doctor, "versions", lambda: dict(SHARED_ENV))
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "transformers   5.5.3" in out and "vLLM           not installed" in out
    assert "LLaMA-Factory converters registered: yes" in out
    assert "fix: pip install 'omegaconf<2.4'" in out
    monkeypatch.setattr(doctor, "versions", lambda: {**SHARED_ENV, "transformers": "5.6.0"})
    assert main(["doctor"]) == 1
    assert "[APPLIES] verl 0.9.1" in capsys.readouterr().out
