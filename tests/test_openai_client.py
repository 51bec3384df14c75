"""The OpenAI-compatible client against a real loopback server that misbehaves on purpose."""

from __future__ import annotations

import json
import sqlite3

import pytest
from chat_server import ChatServer, last_user_text

pytest.importorskip("openai")

from prouie.integrations.openai_client import ChatClient, ChatRequest  # noqa: E402

PROMPTS = [f"question {i}" for i in range(12)]


def requests(prompts=PROMPTS, response_format=None):
    return [
        ChatRequest(
            key=i, messages=[{"role": "user", "content": p}], response_format=response_format
        )
        for i, p in enumerate(prompts)
    ]


def client_for(server, **options):
    options = {"timeout": 1.0, "max_retries": 2, "backoff": 0.0, **options}
    return ChatClient(server.base_url, "loopback-model", **options)


def run(server, reqs=None, **options):
    with client_for(server, **options) as client:
        results = {r.key: r for r in client.complete(reqs if reqs is not None else requests())}
        return results, client.stats


def upper(body):
    return last_user_text(body).upper()


def test_answers_every_request_and_counts_tokens():
    with ChatServer(upper) as server:
        results, stats = run(server)
    assert {k: r.text for k, r in results.items()} == {i: p.upper() for i, p in enumerate(PROMPTS)}
    assert server.requests == len(PROMPTS) == stats.requests_sent == stats.answered
    assert stats.prompt_tokens == 2 * len(PROMPTS)  # "question N" is two words
    assert stats.completion_tokens == 2 * len(PROMPTS)
    assert not stats.failures


@pytest.mark.parametrize("fault", ["500", "slow", "drop", "malformed"])
def test_a_failed_first_attempt_is_retried(fault):
    def first_attempt_fails(body, attempt):
        return fault if attempt == 0 else None

    with ChatServer(upper, fault=first_attempt_fails, slow_delay=2.0) as server:
        results, stats = run(server, timeout=0.5)
    assert all(r.ok and r.attempts == 2 for r in results.values())
    assert server.requests == 2 * len(PROMPTS) == stats.requests_sent
    assert stats.retries == len(PROMPTS)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("500", "http 500"),
        ("slow", "timeout"),
        ("drop", "connection error"),
        ("malformed", "malformed response"),
    ],
)
def test_a_request_that_always_fails_is_a_counted_failure_not_an_exception(fault, reason):
    def odd_ones_fail(body, attempt):
        return fault if int(last_user_text(body).split()[1]) % 2 else None

    with ChatServer(upper, fault=odd_ones_fail, slow_delay=1.5) as server:
        results, stats = run(server, timeout=0.5, max_retries=1)
    failed = {k for k, r in results.items() if not r.ok}
    assert failed == {i for i in range(len(PROMPTS)) if i % 2}
    assert {results[k].error for k in failed} == {reason}
    assert stats.failures == {reason: len(failed)}
    assert all(results[k].text == PROMPTS[k].upper() for k in results if k not in failed)
    assert server.requests == len(PROMPTS) + len(failed)  # one retry per failing prompt


def test_client_errors_are_not_retried():
    with ChatServer(upper) as server:
        client = ChatClient(server.base_url.replace("/v1", "/nowhere"), "m", backoff=0.0)
        with client:
            (result,) = client.complete(requests(PROMPTS[:1]))
    assert result.error == "http 404"
    assert server.requests == 1


def test_response_format_is_passed_through():
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    with ChatServer(lambda body: json.dumps({"echo": body.get("response_format")})) as server:
        results, _ = run(server, requests(PROMPTS[:2], response_format=schema))
    assert all(json.loads(r.text) == {"echo": schema} for r in results.values())
    assert all(body["response_format"] == schema for body in server.bodies)


def test_sampling_settings_are_sent():
    with ChatServer(upper) as server:
        run(server, requests(PROMPTS[:1]), temperature=0.7, max_tokens=32, seed=3)
    (body,) = server.bodies
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.7, 32, 3)


def test_concurrency_is_bounded():
    with ChatServer(upper, latency=0.2) as server:
        results, _ = run(server, concurrency=3)
    assert len(results) == len(PROMPTS)
    assert 1 <= server.max_in_flight <= 3


def test_the_cache_sends_no_request_twice(tmp_path):
    cache = tmp_path / "answers.sqlite"
    with ChatServer(upper) as server:
        first, stats1 = run(server, cache_path=cache)
        second, stats2 = run(server, cache_path=cache)
    assert server.requests == len(PROMPTS)
    assert stats1.cached == 0 and stats2.cached == len(PROMPTS) and stats2.requests_sent == 0
    assert {k: r.text for k, r in first.items()} == {k: r.text for k, r in second.items()}
    assert all(r.cached for r in second.values())


def test_the_cache_key_covers_model_and_sampling(tmp_path):
    cache = tmp_path / "answers.sqlite"
    with ChatServer(upper) as server:
        run(server, requests(PROMPTS[:3]), cache_path=cache, temperature=0.0)
        run(server, requests(PROMPTS[:3]), cache_path=cache, temperature=0.5)
        with ChatClient(server.base_url, "other-model", cache_path=cache) as client:
            list(client.complete(requests(PROMPTS[:3])))
    assert server.requests == 9


def test_failures_are_not_cached(tmp_path):
    cache = tmp_path / "answers.sqlite"

    def first_two_attempts_fail(body, attempt):
        return "500" if attempt < 2 else None

    with ChatServer(upper, fault=first_two_attempts_fail) as server:
        first, _ = run(server, requests(PROMPTS[:2]), cache_path=cache, max_retries=1)
        second, _ = run(server, requests(PROMPTS[:2]), cache_path=cache, max_retries=1)
    assert not any(r.ok for r in first.values())
    assert all(r.ok and not r.cached for r in second.values())


def test_identical_requests_in_one_call_are_sent_once():
    with ChatServer(upper) as server:
        results, stats = run(server, requests(["same"] * 5 + ["other"]))
    assert server.requests == 2
    assert [results[k].text for k in range(6)] == ["SAME"] * 5 + ["OTHER"]
    assert stats.cached == 4


def test_the_api_key_is_sent_but_never_stored(tmp_path, monkeypatch):
    secret = "sk-loopback-secret-123"
    monkeypatch.setenv("PROUIE_TEST_KEY", secret)
    seen = []

    with ChatServer(upper) as server:
        original = server._handle

        def handle(handler, body):
            seen.append(handler.headers.get("Authorization"))
            original(handler, body)

        server._handle = handle
        cache = tmp_path / "answers.sqlite"
        with ChatClient(
            server.base_url, "m", api_key_env="PROUIE_TEST_KEY", cache_path=cache
        ) as client:
            list(client.complete(requests(PROMPTS[:1])))
            assert secret not in repr(client) and secret not in str(vars(client))
    assert seen == [f"Bearer {secret}"]
    dump = "\n".join(sqlite3.connect(cache).iterdump())
    assert secret not in dump and "QUESTION 0" in dump
