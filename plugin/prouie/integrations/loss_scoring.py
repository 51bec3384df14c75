"""Per-sample training loss of records (LDA's difficulty score), with transformers or vLLM.

A record's score is the mean token loss over its target tokens only (the prompt is masked), on exactly
the token ids ``llamafactory-cli train`` trains on: the user turn and answer go through LLaMA-Factory's
own template (``get_template_and_fix_tokenizer`` for the recipe's ``template``) and its supervised
processor (cut-off, efficient EOS and all), so a score is the loss the next fine-tuning step sees.

transformers backend: samples are sorted by length and batched (length bucketing, so little
padding), the decoder runs once per batch for hidden states, and the output layer is applied only at
the positions that predict a target token. Over a 151,936-token vocabulary the output layer costs
more than the decoder of a small model; prompts are long and targets short, so this is most of the
speed-up that ``benchmarks/lda_scoring.py`` measures. Padding changes no score on either side:
padded keys are masked and position ids restart at 0 after left padding.

vLLM backend: the prompt log-probabilities of the same token ids (``prompt_logprobs=0``).

Scores are appended to a jsonl (``{"id", "loss", "tokens"}``) after every batch, so a killed run
resumes where it stopped. Under ``torchrun`` / ``accelerate launch`` (``WORLD_SIZE`` > 1) each rank
scores every WORLD_SIZE-th remaining sample into its own shard and rank 0 merges the shards.

:func:`select_dataset` is the selection hook for any training loop: score (with a model), select
(:mod:`prouie.robust.lda`) and write the LLaMA-Factory dataset in one call.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prouie.generation import user_turn
from prouie.records import Example
from prouie.robust.lda import merge_score_files, read_scores, score_writer, select, write_dataset
from prouie.targets import instruction_for, render_target

IGNORE_INDEX = -100  # LLaMA-Factory's label of a position that is not trained on
BACKENDS = ("auto", "transformers", "vllm")


@dataclass(slots=True)
class Encoded:
    """The token ids of one training sample and its labels (``IGNORE_INDEX`` on the prompt)."""

    input_ids: list[int]
    labels: list[int]

    @property
    def targets(self) -> int:
        """How many tokens the loss averages over (each label predicted from the position before)."""
        return sum(1 for t in self.labels[1:] if t != IGNORE_INDEX)


class TrainingEncoder:
    """Tokenises (user turn, answer) pairs exactly as LLaMA-Factory's supervised stage does.

    >>> enc = TrainingEncoder(tokenizer, "qwen3_nothink", cutoff_len=2048)  # doctest: +SKIP
    >>> enc("Extract.\\nKevin met Ann.", '{"person": "Kevin | Ann"}').labels[:3]  # doctest: +SKIP
    [-100, -100, -100]
    """

    def __init__(self, tokenizer: Any, template: str, cutoff_len: int = 2048) -> None:
        from llamafactory.data.processor.supervised import SupervisedDatasetProcessor
        from llamafactory.data.template import get_template_and_fix_tokenizer
        from llamafactory.hparams import DataArguments

        data_args = DataArguments(template=template, cutoff_len=cutoff_len)
        self.tokenizer = tokenizer
        self.template = get_template_and_fix_tokenizer(tokenizer, data_args)
        # The processor LLaMA-Factory trains with; its per-example encoder holds the cut-off and EOS
        # rules that a re-implementation would have to track release by release.
        self._processor = SupervisedDatasetProcessor(
            template=self.template, tokenizer=tokenizer, processor=None, data_args=data_args
        )

    def __call__(self, user: str, answer: str) -> Encoded:
        input_ids, labels = self._processor._encode_data_example(
            prompt=[{"role": "user", "content": user}],
            response=[{"role": "assistant", "content": answer}],
            system="",  # what LLaMA-Factory's alpaca converter passes when there is no system column
            tools="",
            images=[],
            videos=[],
            audios=[],
        )
        return Encoded(list(input_ids), list(labels))


def record_turns(ex: Example, stage: str) -> tuple[str, str]:
    """The (user turn, answer) a record is trained on at ``stage`` (as ``prouie prepare`` writes it)."""
    return user_turn(instruction_for(ex, stage), ex["text"]), render_target(ex, stage)


def length_batches(
    lengths: Sequence[int],
    batch_size: int,
    max_batch_tokens: int | None = None,
    keys: Sequence[Any] | None = None,
) -> list[list[int]]:
    """Indices in batches of at most ``batch_size`` (and, when given, ``max_batch_tokens`` padded
    tokens): ordered by ``keys`` (samples of one key stay together), then longest first.

    >>> length_batches([5, 1, 9, 4], 2)
    [[2, 0], [3, 1]]
    >>> length_batches([5, 1, 9, 4], 2, keys=["a", "b", "b", "a"])
    [[0, 3], [2, 1]]
    """
    order = sorted(
        range(len(lengths)), key=lambda i: (keys[i] if keys is not None else 0, -lengths[i])
    )
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for i in order:
        wider = max(width, lengths[i])
        full = len(current) >= batch_size or (
            max_batch_tokens is not None
            and current
            and wider * (len(current) + 1) > max_batch_tokens
        )
        if full:
            batches.append(current)
            current, wider = [], lengths[i]
        current.append(i)
        width = wider
    if current:
        batches.append(current)
    return batches


# Samples whose first PREFIX_KEY tokens agree are batched together (one schema's instruction).
PREFIX_KEY = 32
# Positions per output-layer call: 256 x 151,936 float32 logits are about 155 MB.
HEAD_ROWS = 256
# A shared prefix shorter than this is recomputed per sample (the cache copy would cost more).
MIN_SHARED_PREFIX = 16


def shared_prefix(samples: Sequence[Encoded]) -> int:
    """Tokens at the start that every sample shares, ending before the first position whose hidden
    state predicts a target token (those must be computed per sample).

    >>> a, b = Encoded([1, 2, 3, 4], [-100, -100, -100, 4]), Encoded([1, 2, 5, 6], [-100, -100, 5, 6])
    >>> shared_prefix([a, b])
    1
    """
    if not samples:
        return 0
    first = samples[0].input_ids
    limit = min(
        (next((t for t, y in enumerate(s.labels) if y != IGNORE_INDEX), len(s.labels)) - 1)
        for s in samples
    )
    n = 0
    while n < limit and all(len(s.input_ids) > n and s.input_ids[n] == first[n] for s in samples):
        n += 1
    return n


class TransformersLossScorer:
    """Batched target-only loss with a transformers causal LM (CPU or GPU).

    >>> scorer = TransformersLossScorer("saves/lda/round_0/model")  # doctest: +SKIP
    >>> scorer.losses([scorer.encode("Extract.\\nAnn sings.", '{"person": "Ann"}')])  # doctest: +SKIP
    [3.91...]
    """

    def __init__(
        self,
        model: str | Path,
        *,
        template: str = "qwen3_nothink",
        cutoff_len: int = 2048,
        batch_size: int = 16,
        max_batch_tokens: int | None = None,
        padding_side: str = "right",
        device: str | None = None,
        dtype: str = "auto",
        adapter: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        self.torch = torch
        tokenizer = AutoTokenizer.from_pretrained(str(model))
        self.encode_pair = TrainingEncoder(tokenizer, template, cutoff_len)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.padding_side = padding_side
        # One GPU per process under torchrun / accelerate launch.
        gpu = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
        self.device = device or (gpu if torch.cuda.is_available() else "cpu")
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        lm = AutoModelForCausalLM.from_pretrained(str(model), dtype=torch_dtype)
        if adapter:
            from peft import PeftModel

            lm = PeftModel.from_pretrained(lm, adapter).merge_and_unload()
        lm.to(self.device).eval()
        self.decoder = lm.base_model  # the transformer without its output layer
        self.head = lm.get_output_embeddings()
        self.softcap = getattr(lm.config, "final_logit_softcapping", None)

    def encode(self, user: str, answer: str) -> Encoded:
        return self.encode_pair(user, answer)

    def losses(self, samples: Sequence[Encoded]) -> list[float | None]:
        """Mean target-token loss of each sample (None when the cut-off left it no target token)."""
        out: list[float | None] = [None] * len(samples)
        # Samples of one schema share the instruction: batched together (keyed by their first
        # tokens), the shared prefix runs once per batch (benchmarks/lda_scoring.py's speed-up).
        # Small schema groups still fill whole batches with their neighbours in key order.
        keys = [tuple(s.input_ids[:PREFIX_KEY]) for s in samples]
        lengths = [len(s.input_ids) for s in samples]
        for idx in length_batches(lengths, self.batch_size, self.max_batch_tokens, keys):
            for i, loss in zip(idx, self._batch([samples[i] for i in idx]), strict=True):
                out[i] = loss
        return out

    def _batch(self, samples: Sequence[Encoded]) -> list[float | None]:
        torch = self.torch
        shared = shared_prefix(samples) if len(samples) > 1 else 0
        if shared < MIN_SHARED_PREFIX:
            shared = 0
        width = max(len(s.input_ids) for s in samples) - shared
        ids = torch.full((len(samples), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(samples), shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        positions = torch.zeros((len(samples), width), dtype=torch.long)
        rows, cols, targets = [], [], []
        for b, s in enumerate(samples):
            n = len(s.input_ids) - shared  # this sample's tokens after the shared prefix
            start = width - n if self.padding_side == "left" else 0
            ids[b, start : start + n] = torch.tensor(s.input_ids[shared:])
            mask[b, shared + start : shared + start + n] = 1
            positions[b, start : start + n] = torch.arange(shared, shared + n)
            for t in range(shared, len(s.input_ids) - 1):
                if s.labels[t + 1] != IGNORE_INDEX:
                    rows.append(b)
                    # The hidden state at t predicts the token at t + 1.
                    cols.append(start + t - shared)
                    targets.append(s.labels[t + 1])
        if not rows:
            return [None] * len(samples)
        dev = self.device
        with torch.inference_mode():
            cache = None
            if shared:
                # The shared prefix runs once; its keys/values are repeated for every sample.
                cache = self.decoder(
                    input_ids=torch.tensor([samples[0].input_ids[:shared]], device=dev),
                    use_cache=True,
                ).past_key_values
                cache.batch_repeat_interleave(len(samples))
            hidden = self.decoder(
                input_ids=ids.to(dev),
                attention_mask=mask.to(dev),
                position_ids=positions.to(dev),
                past_key_values=cache,
                use_cache=cache is not None,
            ).last_hidden_state
            row_t = torch.tensor(rows, device=dev)
            picked = hidden[row_t, torch.tensor(cols, device=dev)]
            labels = torch.tensor(targets, device=dev)
            # The output layer in slices of HEAD_ROWS positions: a batch's full [targets, vocab]
            # logits would be gigabytes that only memory traffic pays for.
            parts = []
            for i in range(0, len(targets), HEAD_ROWS):
                logits = self.head(picked[i : i + HEAD_ROWS]).float()
                if self.softcap:
                    logits = torch.tanh(logits / self.softcap) * self.softcap
                parts.append(
                    torch.nn.functional.cross_entropy(
                        logits, labels[i : i + HEAD_ROWS], reduction="none"
                    )
                )
            nll = torch.cat(parts)
            sums = torch.zeros(len(samples), device=dev).index_add_(0, row_t, nll)
            counts = torch.zeros(len(samples), device=dev).index_add_(
                0, row_t, torch.ones_like(nll)
            )
        return [
            float(s / c) if c > 0 else None
            for s, c in zip(sums.tolist(), counts.tolist(), strict=True)
        ]


class VllmLossScorer:
    """Target-only loss from vLLM's prompt log-probabilities of the training token ids (GPU)."""

    def __init__(
        self,
        model: str | Path,
        *,
        template: str = "qwen3_nothink",
        cutoff_len: int = 2048,
        dtype: str = "auto",
        adapter: str | None = None,
        gpu_memory_utilization: float = 0.9,
    ) -> None:
        from transformers import AutoTokenizer
        from vllm import LLM

        if adapter:
            raise ValueError("the vLLM scorer takes a merged model; merge the adapter first")
        self.encode_pair = TrainingEncoder(
            AutoTokenizer.from_pretrained(str(model)), template, cutoff_len
        )
        self.llm = LLM(
            model=str(model),
            dtype=dtype,
            max_model_len=cutoff_len + 1,
            gpu_memory_utilization=gpu_memory_utilization,
        )

    def encode(self, user: str, answer: str) -> Encoded:
        return self.encode_pair(user, answer)

    def losses(self, samples: Sequence[Encoded]) -> list[float | None]:
        from vllm import SamplingParams

        # prompt_logprobs=0 returns, per position, the log-probability of the token actually there.
        params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        inputs = [{"prompt_token_ids": s.input_ids} for s in samples]
        out: list[float | None] = []
        for s, res in zip(samples, self.llm.generate(inputs, params, use_tqdm=False), strict=True):
            lps = res.prompt_logprobs or []
            vals = [
                -lps[t][s.input_ids[t]].logprob
                for t in range(1, len(s.input_ids))
                if s.labels[t] != IGNORE_INDEX and lps[t] is not None
            ]
            out.append(sum(vals) / len(vals) if vals else None)
        return out


def choose_backend(backend: str = "auto") -> str:
    """:func:`prouie.generation.choose_backend` for scoring, which has no served (``openai``)
    backend."""
    from prouie.generation import choose_backend as choose_generation_backend

    if backend not in BACKENDS:
        raise ValueError(
            f"unknown scoring backend {backend!r}; expected one of {', '.join(BACKENDS)}"
        )
    return choose_generation_backend(backend)


def make_scorer(model: str | Path, backend: str = "auto", **kwargs: Any) -> Any:
    """A scorer for ``model``: :class:`TransformersLossScorer` or :class:`VllmLossScorer`."""
    if choose_backend(backend) == "vllm":
        keep = ("template", "cutoff_len", "dtype", "adapter")
        return VllmLossScorer(model, **{k: v for k, v in kwargs.items() if k in keep})
    return TransformersLossScorer(model, **kwargs)


def _dist() -> tuple[int, int, Any]:
    """(rank, world size, torch.distributed or None) of this process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, None
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size(), dist


def score_records(
    records: Iterable[Example],
    scorer: Any,
    out: str | Path,
    *,
    stage: str = "cm",
    chunk: int = 256,
    progress: bool = False,
) -> Path:
    """Score every record not yet in ``out`` and append ``{"id", "loss", "tokens"}`` lines to it.

    Records are encoded and scored ``chunk`` at a time, each chunk written (and flushed) before the
    next, so a killed run loses at most one chunk. Under a distributed launch each rank scores its
    share into ``<out>.rank<R>.jsonl``; rank 0 then merges every shard into ``out``. Returns ``out``.
    """
    out = Path(out)
    rank, world, dist = _dist()
    records = list(records)
    done = read_scores(out)
    shard = out if world == 1 else out.with_name(f"{out.stem}.rank{rank}{out.suffix}")
    if shard != out:
        done.update(read_scores(shard))
    todo = [ex for ex in records if str(ex["id"]) not in done][rank::world]
    bar = None
    if progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="scoring", unit="sample")
    with score_writer(shard) as write:
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            encoded = [scorer.encode(*record_turns(ex, stage)) for ex in part]
            for ex, enc, loss in zip(part, encoded, scorer.losses(encoded), strict=True):
                write(str(ex["id"]), loss, enc.targets)
            if bar is not None:
                bar.update(len(part))
    if bar is not None:
        bar.close()
    if dist is not None:
        dist.barrier()
        if rank == 0:
            shards = [out.with_name(f"{out.stem}.rank{r}{out.suffix}") for r in range(world)]
            merge_score_files(out, shards, [str(ex["id"]) for ex in records])
        dist.barrier()
    return out


def select_dataset(
    records: Sequence[Example],
    beta: float,
    out_dir: str | Path,
    name: str,
    *,
    scores: dict[str, float | None] | None = None,
    model: str | Path | None = None,
    method: str = "loss",
    seed: int = 0,
    stage: str = "cm",
    scores_path: str | Path | None = None,
    **scoring: Any,
) -> tuple[list[Example], list[str]]:
    """The selection hook for any training loop: records + (scores or a model) -> the selected
    records, written as a LLaMA-Factory dataset with its ``dataset_info.json`` entries.

    With ``model`` and no ``scores`` the records are scored first (transformers or vLLM, see
    :func:`make_scorer`; ``scoring`` holds its options) into
    ``scores_path`` (default ``out_dir/<name>_scores.jsonl``, resumed when it exists). Returns the
    selected records and the entry names.

    >>> sel, names = select_dataset(recs, 0.1, "data", "hard", model="saves/sft")  # doctest: +SKIP
    >>> names  # doctest: +SKIP
    ['hard_conll_ner']
    """
    if method == "loss" and scores is None:
        if model is None:
            raise ValueError("loss selection needs scores or a model to compute them")
        path = Path(scores_path or Path(out_dir) / f"{name}_scores.jsonl")
        score_records(records, make_scorer(model, **scoring), path, stage=stage)
        scores = read_scores(path)
    chosen = select(records, beta, method=method, scores=scores, seed=seed)
    return chosen, write_dataset(chosen, out_dir, name, stage)
