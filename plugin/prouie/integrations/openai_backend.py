"""Generation with any OpenAI-compatible chat endpoint (``vllm serve``, SGLang, a hosted API).

The prompt goes out as one user message (the server applies the model's chat template), through
the shared :class:`~prouie.integrations.openai_client.ChatClient`: bounded concurrency, a timeout
per request, retries with backoff, the API key read from an environment variable and never written.
Answers are streamed back as they arrive, so :func:`prouie.predict.predict` appends each one to the
predictions file at once. ``--constrained`` sends the label schema as the ``response_format``
JSON-schema option, which ``vllm serve`` and SGLang honour with their structured-output engines.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from prouie.generation import Answer, GenerationConfig, Request


class OpenAIGenerator:
    """Answers from a served model; see the module docstring."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        **client_options: Any,
    ) -> None:
        """``client_options``: ChatClient's ``api_key_env``, ``concurrency``, ``timeout``,
        ``max_retries``, ``backoff``."""
        self.model = model
        self.options = client_options
        self.base_url = base_url
        self.failures: dict[str, int] = {}

    def prompt(self, user: str) -> str:
        """The user turn as is: the server wraps it in the model's chat template."""
        return user

    def stream(
        self, requests: Sequence[Request], cfg: GenerationConfig
    ) -> Iterator[tuple[int, Answer]]:
        """``(index, answer)`` in completion order; None for a request that failed for good."""
        from prouie.integrations.openai_client import ChatClient, ChatRequest

        sampling = {"temperature": cfg.temperature, "max_tokens": cfg.max_new_tokens}
        if cfg.temperature > 0:
            sampling.update(top_p=cfg.top_p, seed=cfg.seed)
        chat = [
            ChatRequest(
                key=i,
                messages=[{"role": "user", "content": r.prompt}],
                response_format=response_format(r.schema) if r.schema is not None else None,
            )
            for i, r in enumerate(requests)
        ]
        with ChatClient(self.base_url, self.model, **self.options, **sampling) as client:
            for result in client.complete(chat):
                yield result.key, result.text if result.ok else None
            for reason, n in client.stats.failures.items():
                self.failures[reason] = self.failures.get(reason, 0) + n


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The chat-completions ``response_format`` that holds an answer to ``schema``.

    >>> response_format({"type": "object"})["json_schema"]["strict"]
    True
    """
    return {
        "type": "json_schema",
        "json_schema": {"name": "extraction", "schema": schema, "strict": True},
    }
