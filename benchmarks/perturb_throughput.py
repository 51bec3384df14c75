"""Throughput of LLM perturbation against a loopback server with a fixed answer latency.

A chat server on 127.0.0.1 (``tests/chat_server.py``) answers every request after ``L`` seconds.
With ``C`` requests in flight, no client can do better than ``C / L`` requests per second, so the
figure is the achieved rate divided by ``C / L`` (target: at least 0.8). Two runs are timed in one
process:

- client: ``ChatClient.complete`` over N distinct requests (the client alone);
- perturb: ``prouie.robust.perturb`` with the LLM types over records making N requests (prompt
  rendering, validation and the ordered, appended output included);

then the perturb run is repeated from its SQLite cache on a fresh output: it must send no request.

    python benchmarks/perturb_throughput.py [--latency 0.1] [--concurrency 8] [--n 400]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from chat_server import ChatServer  # noqa: E402
from prouie.integrations.openai_client import ChatClient, ChatRequest  # noqa: E402
from prouie.records import validate_example  # noqa: E402
from prouie.robust.kinds import LLM_TYPES  # noqa: E402
from prouie.robust.perturb import perturb  # noqa: E402
from test_perturb import good_answer, make_records  # noqa: E402


def client_run(server: ChatServer, n: int, concurrency: int) -> float:
    """Seconds to get N answers through the client alone."""
    requests = [ChatRequest(i, [{"role": "user", "content": f"request {i}"}]) for i in range(n)]
    with ChatClient(server.base_url, "bench", concurrency=concurrency, timeout=30) as client:
        start = time.perf_counter()
        got = sum(r.ok for r in client.complete(requests))
        seconds = time.perf_counter() - start
    assert got == n, f"only {got} of {n} answers"
    return seconds


def perturb_run(server: ChatServer, records: list, out: Path, cache: Path, concurrency: int):
    """Seconds and summary of one ``perturb`` over the records with every LLM type."""
    client = ChatClient(
        server.base_url, "bench", concurrency=concurrency, timeout=30, cache_path=cache
    )
    with client:
        start = time.perf_counter()
        summary = perturb(records, list(LLM_TYPES), 0, out, client=client)
        seconds = time.perf_counter() - start
    return seconds, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.1, help="answer latency L in seconds")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight C")
    ap.add_argument("--n", type=int, default=400, help="requests per run (about)")
    args = ap.parse_args()
    L, C = args.latency, args.concurrency
    ideal = C / L
    # Each group of 3 records (NER, RE, EE) makes 7 LLM requests (2 + 2 + 3 types).
    records = [validate_example(r, r["id"]) for r in make_records(max(1, args.n // 7))]

    print(f"ideal C/L = {C}/{L} = {ideal:.1f} req/s")
    with ChatServer(latency=L) as server:
        secs = client_run(server, args.n, C)
    rate = args.n / secs
    print(
        f"client : {args.n} requests in {secs:.2f} s = {rate:.1f} req/s, ratio {rate / ideal:.3f}"
    )

    with ChatServer(good_answer, latency=L) as server, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before = server.requests
        secs, summary = perturb_run(server, records, tmp / "a.jsonl", tmp / "c.sqlite", C)
        sent = server.requests - before
        rate = sent / secs
        produced = sum(s.produced for s in summary.values())
        print(
            f"perturb: {sent} requests in {secs:.2f} s = {rate:.1f} req/s, ratio "
            f"{rate / ideal:.3f} ({produced} records produced)"
        )
        before = server.requests
        secs, summary = perturb_run(server, records, tmp / "b.jsonl", tmp / "c.sqlite", C)
        cached = sum(s.cached for s in summary.values())
        print(
            f"cached : {server.requests - before} requests sent, {cached} answers from the "
            f"cache, {secs:.2f} s"
        )
        same = (tmp / "a.jsonl").read_bytes() == (tmp / "b.jsonl").read_bytes()
        print(f"cached rerun output identical: {same}")


if __name__ == "__main__":
    main()
