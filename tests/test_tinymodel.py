"""The tiny test model: offline loading, exact decoding, Qwen3 chat format, fixed weights."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tinymodel import SPECIAL_TOKENS, build_tiny_model


def test_loads_offline_and_is_tiny(tiny_model: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, local_files_only=True)
    assert model.config.model_type == "qwen3"
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 1_000_000
    assert model.config.vocab_size == len(tok) <= 512
    assert (tok.eos_token, tok.pad_token) == ("<|im_end|>", "<|endoftext|>")
    for special in SPECIAL_TOKENS:
        assert len(tok.encode(special, add_special_tokens=False)) == 1
    ids = tok("Kevin met Thérèse", return_tensors="pt").input_ids
    with torch.no_grad():
        assert model(ids).logits.shape == (1, ids.shape[1], len(tok))


@settings(deadline=None)
@given(text=st.text())
def test_decoding_is_exact_for_any_text(tiny_model: Path, text: str) -> None:
    tok = _tokenizer(tiny_model)
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


_CACHE: dict = {}


def _tokenizer(path: Path):
    from transformers import AutoTokenizer

    if path not in _CACHE:
        _CACHE[path] = AutoTokenizer.from_pretrained(path)
    return _CACHE[path]


def test_generation_prompt_matches_llamafactory_qwen3_nothink(tiny_model: Path) -> None:
    from llamafactory.data.template import TEMPLATES

    tok = _tokenizer(tiny_model)
    messages = [
        {"role": "user", "content": "Extract: Kevin"},
        {"role": "assistant", "content": "{}"},
    ]
    prompt_ids, answer_ids = TEMPLATES["qwen3_nothink"].encode_oneturn(tok, messages, system="S")
    with_system = [{"role": "system", "content": "S"}, messages[0]]
    assert tok.decode(prompt_ids) == tok.apply_chat_template(
        with_system, tokenize=False, add_generation_prompt=True
    )
    assert tok.decode(answer_ids) == "{}<|im_end|>\n"
    # As Qwen3: enable_thinking=False opens the answer with an empty think block.
    assert tok.apply_chat_template(
        messages[:1], tokenize=False, add_generation_prompt=True, enable_thinking=False
    ).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_same_seed_same_weights(tmp_path: Path, tiny_model: Path) -> None:
    again = build_tiny_model(tmp_path / "again")

    def digest(p: Path) -> str:
        return hashlib.sha256((p / "model.safetensors").read_bytes()).hexdigest()

    assert digest(again) == digest(tiny_model)
    assert (again / "tokenizer.json").read_bytes() == (tiny_model / "tokenizer.json").read_bytes()
