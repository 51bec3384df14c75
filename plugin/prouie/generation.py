"""What every generation backend shares: chat formats, prompts, stop strings and requests.

Prompts are built the way LLaMA-Factory builds them for training, so a fine-tuned model sees at test
time what it saw in training: the user turn is ``instruction + "\\n" + input`` (LLaMA-Factory's
alpaca converter joins the non-empty ones with a newline) wrapped in the chat format of the
``qwen3_nothink`` template, with no system prompt. ``chat_format="tokenizer"`` uses the tokenizer's own
chat template instead (thinking disabled), ``"none"`` sends the bare user turn.

The backends (:mod:`prouie.integrations` ``transformers_backend``, ``vllm_backend``,
``openai_backend``) answer :class:`Request` lists under a :class:`GenerationConfig`;
:mod:`prouie.predict` runs them over prepared data, and :mod:`prouie.evaluation` cuts LLaMA-Factory
predictions at the same stop strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prouie.targets import STAGES

# The chat formats of LLaMA-Factory's registered templates that prouie recipes train with (prefix
# and suffix of one user turn, and the string that ends an answer); kept identical so that generation
# sees the training prompt.
CHAT_FORMATS: dict[str, tuple[str, str, str | None]] = {
    "qwen3_nothink": ("<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>"),
    "qwen": ("<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>"),
    "none": ("", "", None),
}
BACKENDS = ("auto", "vllm", "transformers", "openai")


def user_turn(instruction: str, text: str) -> str:
    """The user turn LLaMA-Factory's alpaca converter makes: the non-empty parts joined by a newline.

    >>> user_turn("Extract.", "Kevin met Therese.")
    'Extract.\\nKevin met Therese.'
    """
    return "\n".join(x for x in (instruction, text) if x)


def format_prompt(user: str, chat_format: str = "qwen3_nothink", tokenizer: Any = None) -> str:
    """The full prompt string of one user turn in ``chat_format`` (see :data:`CHAT_FORMATS`;
    ``"tokenizer"`` applies the tokenizer's chat template with thinking disabled).

    >>> format_prompt("Hi")
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    if chat_format == "tokenizer":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("chat format 'tokenizer' needs a tokenizer that has a chat template")
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": user}],
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=False,
        )
    if chat_format not in CHAT_FORMATS:
        raise ValueError(
            f"unknown chat format {chat_format!r}; expected one of {', '.join([*CHAT_FORMATS, 'tokenizer'])}"
        )
    prefix, suffix, _ = CHAT_FORMATS[chat_format]
    return prefix + user + suffix


def stop_strings(chat_format: str, tokenizer: Any = None) -> list[str]:
    """Strings that end an answer in ``chat_format``."""
    if chat_format == "tokenizer":
        eos = getattr(tokenizer, "eos_token", None)
        return [eos] if eos else []
    stop = CHAT_FORMATS.get(chat_format, ("", "", None))[2]
    return [stop] if stop else []


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The answer up to the first stop string (a model that does not know it as one token writes it
    out as text).

    >>> cut_at_stop('{"a": "b"}<|im_end|>\\nmore', ["<|im_end|>"])
    '{"a": "b"}'
    """
    for s in stops:
        i = text.find(s)
        if i >= 0:
            text = text[:i]
    return text


@dataclass(slots=True)
class GenerationConfig:
    """Decoding settings shared by both backends."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    batch_size: int = 8
    seed: int = 0


def json_schema(
    labels: Sequence[str], stage: str = "sa", max_value_chars: int | None = None
) -> dict[str, Any]:
    """The JSON Schema ``--constrained`` decoding holds an answer to: an object whose properties are
    exactly the labels, each a string, no other key; CM requires every key, SA none.
    ``max_value_chars`` bounds every value (a ``pattern``), so that an answer closes within a token
    budget even when the model would ramble (a random or badly trained one does).

    It cannot say that values are substrings of the input, nor the inner grammar of a value (the
    ``" | "``, ``", "`` and ``"TRIGGER: ROLE: argument"`` separators): see docs/evaluation.md.

    >>> json_schema(["person"], "cm")["required"]
    ['person']
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    value: dict[str, Any] = {"type": "string"}
    if max_value_chars is not None:
        # A pattern rather than maxLength: it bounds the length and, unlike xgrammar's maxLength
        # rule, keeps raw control characters (invalid in JSON strings) out of the value.
        value["pattern"] = f"^[^\\x00-\\x1f]{{0,{max_value_chars}}}$"
    return {
        "type": "object",
        "properties": {label: value for label in labels},
        "required": list(labels) if stage == "cm" else [],
        "additionalProperties": False,
    }


@dataclass(slots=True)
class Request:
    """One prompt to answer: its full prompt string and, with ``--constrained``, its JSON Schema."""

    prompt: str
    schema: dict[str, Any] | None = None


#: What a backend gives back for one request: the answer, or None when it failed for good.
Answer = str | None


def choose_backend(backend: str = "auto") -> str:
    """``auto``: vLLM when it is installed and a GPU is visible, else transformers."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return "transformers"
    try:
        import torch
    except ImportError:
        return "transformers"
    return "vllm" if torch.cuda.is_available() else "transformers"
