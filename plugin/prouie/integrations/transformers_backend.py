"""Generation with transformers: batched, left-padded, greedy unless sampling is asked for.

Imported only when ``prouie predict --backend transformers`` runs; torch and transformers are
imported inside the constructor so that importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prouie.generation import (
    Answer,
    GenerationConfig,
    Request,
    cut_at_stop,
    format_prompt,
    stop_strings,
)


class TransformersGenerator:
    """Batched generation with transformers (left padding, greedy unless sampling is asked for)."""

    def __init__(
        self,
        model: str,
        *,
        adapter: str | None = None,
        dtype: str = "auto",
        device: str | None = None,
        chat_format: str = "qwen3_nothink",
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype)
        if adapter:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, adapter)
        self.model.to(self.device).eval()
        self.chat_format = chat_format
        self.stops = stop_strings(chat_format, self.tokenizer)
        # End generation on the stop string when the vocabulary has it as one token.
        eos = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        for s in self.stops:
            tid = self.tokenizer.convert_tokens_to_ids(s)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id and tid not in eos:
                eos.append(tid)
        self.eos_ids = eos
        self.constraint: Any = None

    def prompt(self, user: str) -> str:
        return format_prompt(user, self.chat_format, self.tokenizer)

    def _constraint(self) -> Any:
        if self.constraint is None:
            from prouie.integrations.constrained import SchemaConstraint

            vocab = self.model.get_output_embeddings().weight.shape[0]
            self.constraint = SchemaConstraint(self.tokenizer, vocab, self.eos_ids)
        return self.constraint

    def generate(self, requests: Sequence[Request], cfg: GenerationConfig) -> list[Answer]:
        """Answers for ``requests`` (one batch; the caller batches). Requests with a schema are
        decoded under it (:class:`prouie.integrations.constrained.SchemaConstraint`)."""
        torch = self.torch
        enc = self.tokenizer(
            [r.prompt for r in requests],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        enc = {k: v.to(self.device) for k, v in enc.items()}
        kwargs: dict[str, Any] = {
            "max_new_tokens": cfg.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.eos_ids or None,
        }
        if cfg.temperature > 0:
            torch.manual_seed(cfg.seed)
            kwargs.update(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        schemas = [r.schema for r in requests if r.schema is not None]
        if schemas:
            if len(schemas) != len(requests):
                raise ValueError("a batch is either constrained or not, never mixed")
            kwargs["logits_processor"] = [self._constraint().processor(schemas)]
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        # A stop string that is a special token ended generation and was skipped; one the vocabulary
        # spells out as plain text is cut here.
        return [cut_at_stop(t, self.stops) for t in texts]
