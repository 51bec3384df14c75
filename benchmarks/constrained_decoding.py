"""Parse rate of ``prouie predict --constrained`` against unconstrained decoding, tiny random model.

Builds the tests' tiny Qwen3-architecture model (random weights, fixed seed), generates greedy
answers for the fixture records (NER, RE, EE; CM and SA prompts) through the transformers backend
with and without the JSON Schema of each label list, and prints, for each, the share of answers
that ``json.loads`` reads as an object whose keys are all schema keys, whose values are all strings,
and which (CM) holds every key. A random model never closes a string by itself, so the constrained
run bounds values with ``--max-value-chars``; the object then always closes within the budget.

    python benchmarks/constrained_decoding.py [--max-new-tokens 160] [--max-value-chars 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from prouie.generation import GenerationConfig  # noqa: E402
from prouie.integrations.transformers_backend import TransformersGenerator  # noqa: E402
from prouie.predict import PromptItem, load_prompts, predict  # noqa: E402
from tinymodel import build_tiny_model  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "llamafactory"


def schema_valid(answer: str, labels: list[str], stage: str) -> bool:
    """Whether ``answer`` is exactly a JSON object of the schema (no repair, no extra text)."""
    try:
        obj = json.loads(answer)
    except json.JSONDecodeError:
        return False
    return (
        isinstance(obj, dict)
        and set(obj) <= set(labels)
        and all(isinstance(v, str) for v in obj.values())
        and (stage == "sa" or set(obj) == set(labels))
    )


def items(per_task: int) -> list[PromptItem]:
    out = []
    for task in ("ner", "re", "ee"):
        for stage in ("cm", "sa"):
            out += load_prompts(FIXTURES / f"{task}.jsonl", stage=stage, limit=per_task)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-task", type=int, default=2, help="records per task and stage")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--max-value-chars", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_model(Path(tmp) / "tiny")
        gen = TransformersGenerator(str(model), dtype="float32", device="cpu")
        jobs = items(args.per_task)
        cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=len(jobs))
        rates = {}
        for constrained in (False, True):
            out = Path(tmp) / f"constrained_{constrained}.jsonl"
            start = time.perf_counter()
            predict(
                jobs,
                gen,
                out,
                cfg,
                constrained=constrained,
                max_value_chars=args.max_value_chars if constrained else None,
                progress=False,
            )
            seconds = time.perf_counter() - start
            rows = [json.loads(line) for line in out.read_text().splitlines()]
            ok = sum(
                schema_valid(r["prediction"], r["record"]["labels"], it.stage)
                for r, it in zip(rows, jobs, strict=True)
            )
            rates[constrained] = (ok, len(rows), seconds)
    (u_ok, n, u_s), (c_ok, _, c_s) = rates[False], rates[True]
    print(
        f"schema-valid JSON answers, tiny random model, {n} prompts, "
        f"max_new_tokens={args.max_new_tokens}: constrained {100 * c_ok / n:.1f} % "
        f"({c_ok}/{n}, {c_s:.1f} s, values <= {args.max_value_chars} chars) vs unconstrained "
        f"{100 * u_ok / n:.1f} % ({u_ok}/{n}, {u_s:.1f} s)"
    )


if __name__ == "__main__":
    main()
