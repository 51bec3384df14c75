"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from tinymodel import build_tiny_model

# Property tests: a light profile for everyday runs (`make test`), a thorough one on demand
# (HYPOTHESIS_PROFILE=thorough make test). No deadline: 2 shared cores make timings noisy.
settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Qwen3 causal LM + byte-level BPE tokenizer (built once per session).

    Pass it as ``model_name_or_path`` (LLaMA-Factory, template ``qwen3_nothink``) or to
    ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``. Treat it as read-only.
    """
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))
