"""Generation with vLLM (GPU): the whole list goes to the engine, which schedules its batches.

vLLM is imported inside the functions, so importing this module needs no vLLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prouie.generation import Answer, GenerationConfig, Request, format_prompt, stop_strings


class VllmGenerator:
    """Generation with vLLM (GPU); the whole list goes to the engine, which schedules its batches."""

    def __init__(
        self,
        model: str,
        *,
        adapter: str | None = None,
        dtype: str = "auto",
        chat_format: str = "qwen3_nothink",
        max_model_len: int | None = None,
        seed: int = 0,
        gpu_memory_utilization: float = 0.9,
    ) -> None:
        from vllm import LLM

        kwargs: dict[str, Any] = {
            "model": model,
            "dtype": dtype,
            "seed": seed,
            "enable_lora": adapter is not None,
            "gpu_memory_utilization": gpu_memory_utilization,
        }
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.adapter = adapter
        self.chat_format = chat_format
        self.stops = stop_strings(chat_format, self.tokenizer)

    def prompt(self, user: str) -> str:
        return format_prompt(user, self.chat_format, self.tokenizer)

    def generate(self, requests: Sequence[Request], cfg: GenerationConfig) -> list[Answer]:
        """Answers for ``requests``; a request's schema goes to vLLM's structured outputs."""
        from vllm import SamplingParams

        base: dict[str, Any] = {
            "temperature": cfg.temperature,
            "top_p": cfg.top_p if cfg.temperature > 0 else 1.0,
            "max_tokens": cfg.max_new_tokens,
            "stop": list(self.stops) or None,
            "seed": cfg.seed,
        }
        params = [SamplingParams(**base, **_structured(r.schema)) for r in requests]
        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.adapter)
        # Token ids, not text: the chat format already holds every special token, and a text prompt
        # would get the tokenizer's BOS added again.
        inputs = [
            {"prompt_token_ids": self.tokenizer.encode(r.prompt, add_special_tokens=False)}
            for r in requests
        ]
        results = self.llm.generate(inputs, params, lora_request=lora, use_tqdm=False)
        return [r.outputs[0].text for r in results]


def _structured(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The SamplingParams keyword that holds a JSON Schema: ``structured_outputs`` (vLLM >= 0.10.2)
    or ``guided_decoding`` (older releases)."""
    if schema is None:
        return {}
    try:
        from vllm.sampling_params import StructuredOutputsParams
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(json=schema)}
    return {"structured_outputs": StructuredOutputsParams(json=schema)}
