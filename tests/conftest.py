"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinymodel import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Qwen3 causal LM + byte-level BPE tokenizer (built once per session).

    Pass it as ``model_name_or_path`` (LLaMA-Factory, template ``qwen3_nothink``) or to
    ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``. Treat it as read-only.
    """
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))
