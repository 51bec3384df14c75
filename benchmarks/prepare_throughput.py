"""Throughput and memory of `prouie prepare` against plain json.loads + json.dumps of the same input.

Builds an IEPile-style NER jsonl by replicating the wikigold sentences (../shared/data), so the
reader also locates every span (IEPile gives no offsets: the most work a conversion does). Then:

1. baseline: read each line, ``json.loads`` it, ``json.dumps`` it to an output file;
2. prouie: ``read("iepile") -> prepare_alpaca(stage="cm")`` (validation, span location, template,
   target, round-trip check, alpaca row) to an output file;

and prints records/s of both and their ratio (target: at most 3). With ``--memory`` it also runs the
conversion of 100,000 and 1,000,000 records in fresh processes and prints their peak RSS ratio
(target: within 1.2x, i.e. streaming).

    python benchmarks/prepare_throughput.py [--records 200000] [--memory]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WIKIGOLD = REPO.parent / "shared" / "data" / "wikigold" / "wikigold.conll.txt"


def build_input(path: Path, n: int) -> None:
    from prouie.readers import read

    if not WIKIGOLD.exists():
        sys.exit(f"{WIKIGOLD} is absent: the benchmark replicates real data from ../shared/data")
    rows = []
    for ex in read("conll", WIKIGOLD):
        ents = [{"entity": e["text"], "entity_type": e["type"]} for e in ex["entities"]]
        rows.append(json.dumps({"text": ex["text"], "entity": ents}, ensure_ascii=False))
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(rows[i % len(rows)] + "\n")


def baseline(src: Path, dst: Path) -> int:
    n = 0
    loads, dumps = json.loads, json.dumps
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for line in fin:
            fout.write(dumps(loads(line), ensure_ascii=False) + "\n")
            n += 1
    return n


def convert(src: Path, out_dir: Path) -> int:
    from prouie.prepare import prepare_alpaca
    from prouie.readers import ReadStats, read

    stats = ReadStats()
    labels = ["person", "organization", "location", "miscellaneous"]
    report = prepare_alpaca(
        read("iepile", src, task="ner", labels=labels, stats=stats), out_dir, "cm", stats
    )
    return report.written


def peak_rss_child(n: int, tmp: Path) -> float:
    """Peak RSS (MiB) of a fresh process converting n records."""
    src = tmp / f"in_{n}.jsonl"
    build_input(src, n)
    code = (
        "import sys, resource; sys.path.insert(0, {!r}); from prepare_throughput import convert; "
        "from pathlib import Path; convert(Path({!r}), Path({!r})); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    ).format(str(Path(__file__).parent), str(src), str(tmp / f"out_{n}"))
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    src.unlink()
    return int(out.strip().splitlines()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument(
        "--memory", action="store_true", help="also compare peak RSS for 100k vs 1M records"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "ner.jsonl"
        build_input(src, args.records)
        size = src.stat().st_size / 2**20
        t0 = time.perf_counter()
        nb = baseline(src, tmp / "baseline.jsonl")
        t_base = time.perf_counter() - t0
        t0 = time.perf_counter()
        nc = convert(src, tmp / "out")
        t_conv = time.perf_counter() - t0
        assert nb == nc == args.records, (nb, nc)
        print(f"input: {args.records} NER records ({size:.1f} MiB, wikigold replicated)")
        print(f"baseline json.loads+json.dumps: {nb / t_base:,.0f} records/s ({t_base:.2f} s)")
        print(f"prouie prepare (cm):            {nc / t_conv:,.0f} records/s ({t_conv:.2f} s)")
        print(f"ratio prepare / baseline: {t_conv / t_base:.2f} (target <= 3)")
        if args.memory:
            small = peak_rss_child(100_000, tmp)
            large = peak_rss_child(1_000_000, tmp)
            print(
                f"peak RSS: 100,000 records {small:.1f} MiB; 1,000,000 records {large:.1f} MiB; "
                f"ratio {large / small:.3f} (target <= 1.2)"
            )
        print(
            f"(this process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB)"
        )


if __name__ == "__main__":
    main()
