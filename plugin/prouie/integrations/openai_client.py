"""A synchronous, fault-tolerant client for any OpenAI-compatible chat-completions server.

Used wherever prouie asks an LLM (``prouie perturb``, ``prouie predict --backend openai``). The
caller hands over an iterable of :class:`ChatRequest` and reads :class:`ChatResult` objects as they
complete; a request that fails after its retries comes back as a result with ``error`` set (a short
reason such as ``"timeout"`` or ``"http 500"``), so a bad server never raises into the caller.

- ``base_url`` and ``model`` name the server (a local ``vllm serve`` or a hosted API); the API key
  is read from the environment variable ``api_key_env`` and is never logged, cached or repr'd.
- At most ``concurrency`` requests are in flight; each has a ``timeout``; failed attempts are
  retried ``max_retries`` times with exponential backoff (``backoff * 2**attempt`` seconds).
- ``response_format`` (e.g. a JSON schema) is passed through to the server unchanged.
- With ``cache_path`` every answer is stored in an SQLite file keyed by (model, messages,
  response_format, sampling settings), so a rerun or a resume sends no request twice; identical
  requests within one call are sent once.
- :attr:`ChatClient.stats` counts requests sent, cached answers, failures by reason and tokens.

Example (``OPENAI_API_KEY`` may be unset for a local server):

    >>> from prouie.integrations.openai_client import ChatClient, ChatRequest
    >>> client = ChatClient("http://127.0.0.1:8000/v1", "Qwen/Qwen2.5-7B-Instruct",
    ...                     concurrency=16, cache_path="answers.sqlite")  # doctest: +SKIP
    >>> requests = [ChatRequest(key=i, messages=[{"role": "user", "content": q}])
    ...             for i, q in enumerate(["Say hi.", "Say bye."])]  # doctest: +SKIP
    >>> for result in client.complete(requests):  # doctest: +SKIP
    ...     print(result.key, result.text if result.ok else result.error)
    >>> client.stats.requests_sent, client.stats.cached  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What a local OpenAI-compatible server (vLLM, llama.cpp, TGI) accepts when it checks no key.
_NO_KEY = "EMPTY"


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completions request; ``key`` is the caller's handle, echoed in its result."""

    key: Hashable
    messages: list[dict[str, str]]
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True)
class ChatResult:
    """The outcome of one request: ``text`` on success, else ``error`` (a short reason)."""

    key: Hashable
    text: str | None
    error: str | None = None
    cached: bool = False
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ChatStats:
    """Running counts over a client's lifetime (requests sent counts every HTTP attempt)."""

    requests_sent: int = 0
    answered: int = 0
    cached: int = 0
    retries: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class AnswerCache:
    """Answers in an SQLite file keyed by a hash of everything that determines them.

    Only the main thread reads and writes it (results are stored as they are handed back), so one
    connection suffices; each answer is committed at once so a killed run keeps what it paid for.
    """

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path))
        # WAL with synchronous=NORMAL: a commit survives a killed process (what a resume needs)
        # without an fsync per answer, which cost the perturb benchmark a third of its rate.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, text TEXT NOT NULL,"
            " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL)"
        )
        self._db.commit()

    def get(self, key: str) -> tuple[str, int, int] | None:
        row = self._db.execute(
            "SELECT text, prompt_tokens, completion_tokens FROM answers WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def put(self, key: str, text: str, prompt_tokens: int, completion_tokens: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
            (key, text, prompt_tokens, completion_tokens),
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()


class ChatClient:
    """Bounded-concurrency chat client with timeouts, retries, an answer cache and usage counts.

    ``sampling`` holds the generation settings sent with every request (``temperature``,
    ``top_p``, ``max_tokens``, ``seed``...); they are part of the cache key. See the module
    docstring for an example.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        cache_path: str | Path | None = None,
        **sampling: Any,
    ) -> None:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the OpenAI-compatible backend needs the openai package: pip install 'prouie[llm]'"
            ) from exc
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if max_retries < 0 or timeout <= 0 or backoff < 0:
            raise ValueError(
                f"need max_retries >= 0, timeout > 0 and backoff >= 0; got {max_retries}, "
                f"{timeout}, {backoff}"
            )
        self.base_url = base_url
        self.model = model
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.sampling = {name: value for name, value in sampling.items() if value is not None}
        self.stats = ChatStats()
        self._openai = openai
        # Retries are ours (max_retries=0 below) so that every attempt and reason is counted.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=os.environ.get(api_key_env) or _NO_KEY,
            timeout=timeout,
            max_retries=0,
        )
        self._cache = AnswerCache(cache_path) if cache_path is not None else None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ChatClient(base_url={self.base_url!r}, model={self.model!r})"

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections and the cache file."""
        self._client.close()
        if self._cache is not None:
            self._cache.close()

    def cache_key(self, request: ChatRequest) -> str:
        """The hash of (model, messages, response_format, sampling) that identifies an answer."""
        identity = {
            "model": self.model,
            "messages": request.messages,
            "response_format": request.response_format,
            "sampling": self.sampling,
        }
        encoded = json.dumps(identity, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()

    def complete(self, requests: Iterable[ChatRequest]) -> Iterator[ChatResult]:
        """Yield one result per request, in completion order; never raises for a failed request.

        Cached answers are yielded first without a request; at most ``concurrency`` requests are
        in flight, and the input iterable is consumed lazily (a bounded window ahead).
        """
        waiting: dict[str, list[ChatRequest]] = {}  # cache key -> requests sharing one call
        pending: dict[Future[ChatResult], str] = {}
        source = iter(requests)
        window = 2 * self.concurrency
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="prouie-chat") as pool:
            exhausted = False
            while not exhausted or pending:
                while not exhausted and len(pending) < window:
                    request = next(source, None)
                    if request is None:
                        exhausted = True
                        break
                    key = self.cache_key(request)
                    hit = self._cache.get(key) if self._cache is not None else None
                    if hit is not None:
                        self.stats.cached += 1
                        yield ChatResult(request.key, hit[0], cached=True)
                    elif key in waiting:
                        waiting[key].append(request)
                    else:
                        waiting[key] = [request]
                        pending[pool.submit(self._call, request)] = key
                if not pending:
                    continue
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    key = pending.pop(future)
                    yield from self._deliver(key, future.result(), waiting.pop(key))

    def _deliver(
        self, key: str, result: ChatResult, sharing: list[ChatRequest]
    ) -> Iterator[ChatResult]:
        """Count and cache one call's result, then hand it to every request that shared it."""
        if result.ok:
            self.stats.answered += 1
            self.stats.prompt_tokens += result.prompt_tokens
            self.stats.completion_tokens += result.completion_tokens
            if self._cache is not None:
                self._cache.put(key, result.text, result.prompt_tokens, result.completion_tokens)
        else:
            self.stats.failures[result.error] += 1
        yield result  # the call was made for the first of them
        for request in sharing[1:]:
            # A request answered by another's call costs nothing; it counts as cached.
            if result.ok:
                self.stats.cached += 1
            yield ChatResult(request.key, result.text, result.error, cached=result.ok)

    def _call(self, request: ChatRequest) -> ChatResult:
        """Send one request with retries; runs in a worker thread."""
        error = "no attempt"
        for attempt in range(self.max_retries + 1):
            if attempt:
                with self._lock:
                    self.stats.retries += 1
                time.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
            with self._lock:
                self.stats.requests_sent += 1
            try:
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=request.messages,
                    **(
                        {"response_format": request.response_format}
                        if request.response_format
                        else {}
                    ),
                    **self.sampling,
                )
                text = response.choices[0].message.content
                if not isinstance(text, str):
                    raise _Malformed("no message content")
            except Exception as exc:  # noqa: BLE001 - any failure becomes a counted reason
                error, retry = self._reason(exc)
                if not retry:
                    break
                continue
            usage = getattr(response, "usage", None)
            return ChatResult(
                request.key,
                text,
                None,
                False,
                attempt + 1,
                int(getattr(usage, "prompt_tokens", 0) or 0),
                int(getattr(usage, "completion_tokens", 0) or 0),
            )
        return ChatResult(request.key, None, error, False, attempt + 1)

    def _reason(self, exc: Exception) -> tuple[str, bool]:
        """A short, key-free reason for a failed attempt, and whether retrying may help."""
        openai = self._openai
        if isinstance(exc, openai.APITimeoutError):
            return "timeout", True
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            return f"http {status}", status == 429 or status >= 500
        if isinstance(exc, openai.APIConnectionError):
            return "connection error", True
        # A 200 whose body is not a chat completion (bad JSON, missing fields).
        return "malformed response", True


class _Malformed(Exception):
    """A response that parsed but carries no answer."""
