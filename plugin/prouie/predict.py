"""Generation for evaluation: prompts from prepared data, outputs from vLLM or transformers.

Prompts are built the way LLaMA-Factory builds them for training, so a fine-tuned model sees at test
time what it saw in training: the user turn is ``instruction + "\\n" + input`` (LLaMA-Factory's
alpaca converter joins the non-empty ones with a newline) wrapped in the chat format of the
``qwen3_nothink`` template, with no system prompt. ``chat_format="tokenizer"`` uses the tokenizer's own
chat template instead (thinking disabled), ``"none"`` sends the bare user turn.

Decoding is greedy unless a temperature above 0 is given. vLLM is used when it is installed and a
GPU is visible; otherwise transformers generates in batches (a CPU works, slowly).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prouie.records import Example, RecordError, iter_rows, validate_example
from prouie.targets import STAGES, instruction_for, render_target

# The chat formats of LLaMA-Factory's registered templates that prouie recipes train with (prefix
# and suffix of one user turn, and the string that ends an answer); kept identical so that generation
# sees the training prompt.
CHAT_FORMATS: dict[str, tuple[str, str, str | None]] = {
    "qwen3_nothink": ("<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>"),
    "qwen": ("<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>"),
    "none": ("", "", None),
}
BACKENDS = ("auto", "vllm", "transformers")


@dataclass(slots=True)
class PromptItem:
    """One generation job: the record (gold), the user turn, and where it came from."""

    where: str
    record: Example
    user: str
    reference: str


def user_turn(instruction: str, text: str) -> str:
    """The user turn LLaMA-Factory's alpaca converter makes: the non-empty parts joined by a newline.

    >>> user_turn("Extract.", "Kevin met Therese.")
    'Extract.\\nKevin met Therese.'
    """
    return "\n".join(x for x in (instruction, text) if x)


def load_prompts(
    data: str | Path,
    records: str | Path | None = None,
    *,
    stage: str = "sa",
    limit: int | None = None,
) -> list[PromptItem]:
    """Generation jobs from canonical records (instruction rendered for ``stage``) or from an alpaca
    file (``instruction``/``input``/``output``) joined to the records it was made from by input text.

    Errors name the file, the line and the field.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    data = Path(data)
    if not data.exists():
        raise FileNotFoundError(f"data file not found: {data}")
    by_text: dict[str, deque[tuple[str, Any]]] | None = None
    if records is not None:
        records = Path(records)
        if not records.exists():
            raise FileNotFoundError(f"records file not found: {records}")
        # Alpaca rows find their record by input text (records sharing a text are taken in file
        # order), so an alpaca file written per dataset/split joins to one records file of them all.
        by_text = {}
        for rwhere, rec in iter_rows(records):
            text = rec.get("text") if isinstance(rec, dict) else None
            if not isinstance(text, str):
                raise RecordError(
                    rwhere, "text", "is missing: the records file must hold canonical records"
                )
            by_text.setdefault(text, deque()).append((rwhere, rec))
    items: list[PromptItem] = []
    for where, row in iter_rows(data):
        if limit is not None and len(items) >= limit:
            break
        if not isinstance(row, dict):
            raise RecordError(where, "<line>", f"must be a JSON object, got {type(row).__name__}")
        if "task" in row and "text" in row:
            ex = validate_example(row, where)
            items.append(
                PromptItem(
                    where,
                    ex,
                    user_turn(instruction_for(ex, stage), ex["text"]),
                    render_target(ex, stage),
                )
            )
            continue
        if "instruction" in row:
            if by_text is None:
                raise RecordError(
                    where,
                    "instruction",
                    "an alpaca row carries no gold schema; pass the canonical records it was made "
                    "from (--records FILE)",
                )
            for key in ("instruction", "input"):
                if not isinstance(row.get(key, ""), str):
                    raise RecordError(
                        where, key, f"must be a string, got {type(row[key]).__name__}"
                    )
            text = row.get("input", "")
            queue = by_text.get(text)
            if not queue:
                raise RecordError(
                    where,
                    "input",
                    f"no record in {records} has this text (or fewer records than rows with it)",
                )
            rwhere, rec = _take(queue, row["instruction"])
            ex = validate_example(rec, rwhere)
            output = row.get("output")
            reference = output if isinstance(output, str) else render_target(ex, stage)
            items.append(PromptItem(where, ex, user_turn(row["instruction"], text), reference))
            continue
        raise RecordError(
            where,
            "task",
            "is missing: expected a canonical record {task, text, labels, ...} or an alpaca row "
            "{instruction, input, output}",
        )
    return items


def _take(queue: deque[tuple[str, Any]], instruction: str) -> tuple[str, Any]:
    """The first record of a same-text queue whose instruction (any stage) is the row's; else the
    first one. One sentence often sits in several datasets (NER and RE of one corpus)."""
    for i, (rwhere, rec) in enumerate(queue):
        try:
            ex = validate_example(dict(rec), rwhere)
            hit = any(instruction_for(ex, stage) == instruction for stage in STAGES)
        except (RecordError, KeyError, ValueError):
            hit = False
        if hit:
            del queue[i]
            return rwhere, rec
    return queue.popleft()


def format_prompt(user: str, chat_format: str = "qwen3_nothink", tokenizer: Any = None) -> str:
    """The full prompt string of one user turn in ``chat_format`` (see :data:`CHAT_FORMATS`;
    ``"tokenizer"`` applies the tokenizer's chat template with thinking disabled).

    >>> format_prompt("Hi")
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    if chat_format == "tokenizer":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("chat format 'tokenizer' needs a tokenizer that has a chat template")
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": user}],
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=False,
        )
    if chat_format not in CHAT_FORMATS:
        raise ValueError(
            f"unknown chat format {chat_format!r}; expected one of {', '.join([*CHAT_FORMATS, 'tokenizer'])}"
        )
    prefix, suffix, _ = CHAT_FORMATS[chat_format]
    return prefix + user + suffix


def stop_strings(chat_format: str, tokenizer: Any = None) -> list[str]:
    """Strings that end an answer in ``chat_format``."""
    if chat_format == "tokenizer":
        eos = getattr(tokenizer, "eos_token", None)
        return [eos] if eos else []
    stop = CHAT_FORMATS.get(chat_format, ("", "", None))[2]
    return [stop] if stop else []


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The answer up to the first stop string (a model that does not know it as one token writes it
    out as text).

    >>> cut_at_stop('{"a": "b"}<|im_end|>\\nmore', ["<|im_end|>"])
    '{"a": "b"}'
    """
    for s in stops:
        i = text.find(s)
        if i >= 0:
            text = text[:i]
    return text


@dataclass(slots=True)
class GenerationConfig:
    """Decoding settings shared by both backends."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    batch_size: int = 8
    seed: int = 0


def choose_backend(backend: str = "auto") -> str:
    """``auto``: vLLM when it is installed and a GPU is visible, else transformers."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return "transformers"
    try:
        import torch
    except ImportError:
        return "transformers"
    return "vllm" if torch.cuda.is_available() else "transformers"


class TransformersGenerator:
    """Batched generation with transformers (left padding, greedy unless sampling is asked for)."""

    def __init__(
        self,
        model: str,
        *,
        adapter: str | None = None,
        dtype: str = "auto",
        device: str | None = None,
        chat_format: str = "qwen3_nothink",
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype)
        if adapter:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, adapter)
        self.model.to(self.device).eval()
        self.chat_format = chat_format
        self.stops = stop_strings(chat_format, self.tokenizer)
        # End generation on the stop string when the vocabulary has it as one token.
        eos = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        for s in self.stops:
            tid = self.tokenizer.convert_tokens_to_ids(s)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id and tid not in eos:
                eos.append(tid)
        self.eos_ids = eos

    def prompt(self, user: str) -> str:
        return format_prompt(user, self.chat_format, self.tokenizer)

    def generate(self, prompts: Sequence[str], cfg: GenerationConfig) -> list[str]:
        """Answers for ``prompts`` (one batch; the caller batches)."""
        torch = self.torch
        enc = self.tokenizer(
            list(prompts), return_tensors="pt", padding=True, add_special_tokens=False
        )
        enc = {k: v.to(self.device) for k, v in enc.items()}
        kwargs: dict[str, Any] = {
            "max_new_tokens": cfg.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.eos_ids or None,
        }
        if cfg.temperature > 0:
            torch.manual_seed(cfg.seed)
            kwargs.update(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        # A stop string that is a special token ended generation and was skipped; one the vocabulary
        # spells out as plain text is cut here.
        return [cut_at_stop(t, self.stops) for t in texts]


class VllmGenerator:
    """Generation with vLLM (GPU); the whole list goes to the engine, which schedules its batches."""

    def __init__(
        self,
        model: str,
        *,
        adapter: str | None = None,
        dtype: str = "auto",
        chat_format: str = "qwen3_nothink",
        max_model_len: int | None = None,
        seed: int = 0,
        gpu_memory_utilization: float = 0.9,
    ) -> None:
        from vllm import LLM

        kwargs: dict[str, Any] = {
            "model": model,
            "dtype": dtype,
            "seed": seed,
            "enable_lora": adapter is not None,
            "gpu_memory_utilization": gpu_memory_utilization,
        }
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.adapter = adapter
        self.chat_format = chat_format
        self.stops = stop_strings(chat_format, self.tokenizer)

    def prompt(self, user: str) -> str:
        return format_prompt(user, self.chat_format, self.tokenizer)

    def generate(self, prompts: Sequence[str], cfg: GenerationConfig) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(
            temperature=cfg.temperature,
            top_p=cfg.top_p if cfg.temperature > 0 else 1.0,
            max_tokens=cfg.max_new_tokens,
            stop=list(self.stops) or None,
            seed=cfg.seed,
        )
        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.adapter)
        # Token ids, not text: the chat format already holds every special token, and a text prompt
        # would get the tokenizer's BOS added again.
        inputs = [
            {"prompt_token_ids": self.tokenizer.encode(p, add_special_tokens=False)}
            for p in prompts
        ]
        results = self.llm.generate(inputs, params, lora_request=lora, use_tqdm=False)
        return [r.outputs[0].text for r in results]


def predict(
    items: Sequence[PromptItem],
    generator: Any,
    out: str | Path,
    cfg: GenerationConfig,
    *,
    progress: bool = True,
    chunk: int | None = None,
) -> Path:
    """Generate an answer for every item and write the predictions jsonl (``prouie evaluate``'s
    input): ``id``, ``dataset``, ``task``, ``prompt``, ``prediction``, ``reference`` (the gold target
    text) and ``record`` (the canonical record, gold annotations and schema included).

    Lines are written after every chunk (``chunk`` prompts; default: the batch size), so a long run
    leaves what it finished. Prompts are sorted by length inside the run to pad less; the file keeps
    the input order.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    prompts = [generator.prompt(it.user) for it in items]
    step = chunk or max(cfg.batch_size, 1)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc="generating", unit="prompt")
    with out.open("w", encoding="utf-8") as fh:
        for start in range(0, len(items), step):
            idx = list(range(start, min(start + step, len(items))))
            # Inside a chunk, similar lengths share a batch (less padding); output order is kept.
            order = sorted(idx, key=lambda i: len(prompts[i]))
            answers: dict[int, str] = {}
            for b in range(0, len(order), max(cfg.batch_size, 1)):
                batch = order[b : b + max(cfg.batch_size, 1)]
                for i, ans in zip(
                    batch, generator.generate([prompts[i] for i in batch], cfg), strict=True
                ):
                    answers[i] = ans
            for i in idx:
                rec = items[i].record
                row = {
                    "id": rec.get("id"),
                    "dataset": rec.get("dataset", ""),
                    "task": rec["task"],
                    "prompt": prompts[i],
                    "prediction": answers[i],
                    "reference": items[i].reference,
                    "record": rec,
                }
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            if bar is not None:
                bar.update(len(idx))
    if bar is not None:
        bar.close()
    return out
