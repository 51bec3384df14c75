"""``prouie predict --backend openai`` against a real loopback chat-completions server that
misbehaves on purpose (500s, answers slower than the timeout, dropped connections)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chat_server import ChatServer, last_user_text, messages_key

pytest.importorskip("openai")

from prouie.cli import main  # noqa: E402
from prouie.generation import json_schema  # noqa: E402

TEXTS = [f"Ann {i} works for ACME in Rome" for i in range(24)]
RECORDS = [
    {
        "id": f"n{i}",
        "dataset": "toy",
        "task": "ner",
        "text": text,
        "labels": ["person", "organization"],
        "entities": [{"type": "person", "text": f"Ann {i}"}],
    }
    for i, text in enumerate(TEXTS)
]


def answer(body: dict) -> str:
    """The gold answer for the sentence in the prompt (the last line of the user turn)."""
    sentence = last_user_text(body).rsplit("\n", 1)[1]
    return json.dumps({"person": sentence.split(" works")[0], "organization": "ACME"})


def faulty(body: dict, attempt: int) -> str | None:
    """Every third sentence fails on its first attempt, each way the network can fail; sentence
    5 fails on every attempt."""
    n = int(last_user_text(body).rsplit("\n", 1)[1].split()[1])
    if n == 5:
        return "500"
    if n % 3 == 0 and attempt == 0:
        return ("500", "slow", "drop")[(n // 3) % 3]
    return None


@pytest.fixture
def records(tmp_path: Path) -> Path:
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    return path


def args(server: ChatServer, records: Path, out: Path, *extra: str) -> list[str]:
    return [
        "predict",
        *("--backend", "openai", "--base-url", server.base_url, "--model", "served"),
        *("--data", str(records), "--out", str(out), "--quiet"),
        *("--concurrency", "3", "--timeout", "0.5", "--max-retries", "2", *extra),
    ]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_prompt_ends_with_an_answer_or_a_counted_failure(
    tmp_path: Path, records: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROUIE_TEST_KEY", "sk-secret-123")
    out = tmp_path / "p.jsonl"
    with ChatServer(answer, fault=faulty, slow_delay=1.5) as server:
        assert main(args(server, records, out, "--api-key-env", "PROUIE_TEST_KEY")) == 1
    err = capsys.readouterr().err
    assert "23 of 24 prompts answered" in err and "1 failed" in err and "http 500" in err
    got = rows(out)
    assert len(got) == 24
    failed = [r for r in got if "error" in r]
    assert [r["id"] for r in failed] == ["n5"]
    assert all(
        r["prediction"] == answer({"messages": [{"content": r["prompt"]}]})
        for r in got
        if "error" not in r
    )
    assert "sk-secret-123" not in out.read_text() + err
    # A second run sends only the failed prompt again (it still fails: the row stays counted).
    with ChatServer(answer, fault=faulty) as again:
        assert main(args(again, records, out, "--max-retries", "0")) == 1
    assert again.requests == 1 and len(rows(out)) == 24


def test_constrained_sends_the_label_schema_as_response_format(
    tmp_path: Path, records: Path
) -> None:
    with ChatServer(answer) as server:
        assert (
            main(args(server, records, tmp_path / "p.jsonl", "--constrained", "--limit", "2")) == 0
        )
    fmt = server.bodies[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"] == json_schema(["person", "organization"], "sa")
    assert server.bodies[0]["temperature"] == 0.0


def test_a_killed_run_restarted_gives_the_uninterrupted_file(tmp_path: Path, records: Path) -> None:
    whole = tmp_path / "whole.jsonl"
    with ChatServer(
        answer, fault=lambda b, a: "500" if a == 0 and "Ann 7 " in str(b) else None
    ) as server:
        assert main(args(server, records, whole)) == 0

    out = tmp_path / "killed.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with ChatServer(answer, latency=0.15) as server:
        cmd = [sys.executable, "-m", "prouie.cli", *args(server, records, out)]
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or len(rows(out)) < 6):
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = {r["prompt"] for r in rows(out)}
        assert 6 <= len(before) < 24
        sent_before = server.attempts.copy()
    with ChatServer(answer) as server:
        assert main(args(server, records, out)) == 0
    # No prompt that already had an answer was sent again, and nothing was lost.
    again = {messages_key(b) for b in server.bodies}
    assert not again & {
        messages_key({"messages": [{"role": "user", "content": p}]}) for p in before
    }
    assert server.requests == 24 - len(before)
    assert sum(sent_before.values()) >= len(before)
    assert out.read_text() == whole.read_text()
