"""A real chat-completions server on 127.0.0.1 that misbehaves on purpose, for client tests.

``ChatServer(answer, fault=...)`` serves ``POST /v1/chat/completions`` from a thread. ``answer(body)``
returns the assistant's text for a request body (``response_format`` included); ``fault(body,
attempt)`` may return one of :data:`FAULTS` for the ``attempt``-th time (0-based) the same messages
arrive, which keeps scripted failures deterministic whatever order concurrent requests come in:

- ``"500"``: an HTTP 500 with an error body;
- ``"slow"``: the answer, but only after ``slow_delay`` seconds (longer than the client's timeout);
- ``"drop"``: the connection is closed without a response;
- ``"malformed"``: HTTP 200 whose body is not JSON.

``latency`` delays every answer (the throughput benchmark's L). The server counts what it receives:
``requests`` (all), ``attempts`` per messages, ``answered`` (answers sent with status 200, per
messages), the request ``bodies`` and ``max_in_flight``.

    >>> with ChatServer(lambda body: "hi") as server:
    ...     server.base_url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("500", "slow", "drop", "malformed")

Answer = Callable[[dict[str, Any]], str]
Fault = Callable[[dict[str, Any], int], "str | None"]


def last_user_text(body: dict[str, Any]) -> str:
    """The content of the last message of a request body (what most answers react to)."""
    return body["messages"][-1]["content"]


def echo(body: dict[str, Any]) -> str:
    """Answer with the last message's text."""
    return last_user_text(body)


def messages_key(body: dict[str, Any]) -> str:
    return json.dumps(body.get("messages"), sort_keys=True)


class ChatServer:
    """See the module docstring; use as a context manager."""

    def __init__(
        self,
        answer: Answer = echo,
        *,
        fault: Fault | None = None,
        latency: float = 0.0,
        slow_delay: float = 3.0,
    ) -> None:
        self.answer = answer
        self.fault = fault
        self.latency = latency
        self.slow_delay = slow_delay
        self.requests = 0
        self.attempts: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
            # Headers and body go out as separate writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every answer on a kept-alive connection.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server._handle(self, body)

            def _send(self, status: int, payload: Any, raw: bytes | None = None) -> None:
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (timeout)

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handle(self, handler: Any, body: dict[str, Any]) -> None:
        key = messages_key(body)
        with self._lock:
            self.requests += 1
            attempt = self.attempts[key]
            self.attempts[key] += 1
            self.bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if handler.path.rstrip("/") != "/v1/chat/completions":
                handler._send(404, {"error": {"message": f"no route {handler.path}"}})
                return
            fault = self.fault(body, attempt) if self.fault is not None else None
            if fault == "drop":
                handler.close_connection = True
                return
            if fault == "500":
                handler._send(500, {"error": {"message": "scripted failure", "type": "server"}})
                return
            if fault == "malformed":
                handler._send(200, None, raw=b'{"id": "x", "choices": [ {"message": ')
                return
            time.sleep(self.slow_delay if fault == "slow" else self.latency)
            try:
                text = self.answer(body)
            except Exception as exc:  # a broken test responder shows up as a 500, not a traceback
                handler._send(500, {"error": {"message": f"answer failed: {exc!r}"}})
                return
            prompt_words = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
            handler._send(200, _completion(body.get("model", ""), text, prompt_words))
            with self._lock:
                self.answered[key] += 1
        finally:
            with self._lock:
                self.in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the listen backlog; the default 5 refuses bursts of connections


def _completion(model: str, text: str, prompt_tokens: int) -> dict[str, Any]:
    completion_tokens = len(text.split())
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
