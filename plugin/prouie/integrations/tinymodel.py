"""Build a tiny Qwen3-architecture causal LM with a locally trained byte-level BPE tokenizer.

Neither the tests nor ``prouie quickstart`` download a model: they build this one (a few hundred
thousand parameters, random weights, fixed seed) and hand its folder to LLaMA-Factory, TRL or
transformers as ``model_name_or_path``, exactly as a real checkpoint's folder. The tokenizer is byte-level BPE, so ``decode(encode(text)) == text`` for any
string, which lets tests compare what a framework trains on with the rendered prompt byte for byte.

>>> from pathlib import Path
>>> path = build_tiny_model(Path("/tmp/tiny"))  # doctest: +SKIP
>>> AutoTokenizer.from_pretrained(path).apply_chat_template(  # doctest: +SKIP
...     [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
'<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n'
"""

from __future__ import annotations

from pathlib import Path

# Qwen chat special tokens, in Qwen3's order (so ``<|endoftext|>`` is the first special id).
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

# A reduced Qwen3 chat template (system / user / assistant turns, ``add_generation_prompt`` and
# ``enable_thinking``) that renders these turns exactly like the released Qwen3 template:
# - the generation prompt is ``<|im_start|>assistant\n``, which is also what LLaMA-Factory's
#   ``qwen3_nothink`` template trains on, so a model fine-tuned with it is prompted the same way
#   at inference;
# - ``enable_thinking=False`` appends an empty ``<think>\n\n</think>\n\n`` block, as Qwen3 does;
# - the final assistant turn (after the last user turn) carries a ``<think>`` block, as Qwen3 does.
CHAT_TEMPLATE = (
    "{%- if messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- set ns = namespace(last_query_index=messages|length - 1) %}"
    "{%- for message in messages[::-1] %}"
    "{%- set index = (messages|length - 1) - loop.index0 %}"
    "{%- if ns.last_query_index == messages|length - 1 and message.role == 'user' %}"
    "{%- set ns.last_query_index = index %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{%- set reasoning = message.reasoning_content if message.reasoning_content is string else '' %}"
    "{%- if loop.index0 > ns.last_query_index and (loop.last or reasoning) %}"
    "{{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n'"
    " + message.content.lstrip('\\n') }}"
    "{%- else %}"
    "{{- '<|im_start|>assistant\\n' + message.content }}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)

# Enough text in the prompts' language that BPE learns useful merges; anything else still
# tokenises (byte fallback is built into byte-level BPE).
DEFAULT_CORPUS = [
    "Please identify the entities in the text and output them in JSON format.",
    "Please extract the relation triples from the text. Output a JSON object keyed by relation.",
    "Please extract the events and their arguments from the text.",
    "Please use concise output with no empty fields.",
    '{"person": "Barack Obama | Michelle Obama", "location": "", "organization": "NASA"}',
    '{"used for": "surface, algorithm | model, translation", "part of": ""}',
    '{"attack": "fired: attacker: troops; target: village | shot: instrument: rifle"}',
    "The quick brown fox jumps over the lazy dog near the river bank in Paris, France.",
    "Entity types: person, location, organization, miscellaneous, adverse event, drug.",
    "Input: John Smith works for Microsoft in Seattle and was born in 1975.",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi!<|im_end|>\n",
]


def build_tiny_model(
    out_dir: Path,
    *,
    vocab_size: int = 512,
    corpus: list[str] | None = None,
    hidden_size: int = 128,
    num_hidden_layers: int = 2,
) -> Path:
    """Write a tiny Qwen3 causal LM and its byte-level BPE tokenizer to ``out_dir``; return it.

    The folder loads offline with ``AutoModelForCausalLM`` / ``AutoTokenizer`` and as
    ``model_name_or_path`` in ``llamafactory-cli train`` (template ``qwen3_nothink``). The model
    size follows the tokenizer's final vocabulary, which is at most ``vocab_size`` (byte-level BPE
    needs at least 256 + the special tokens). ``corpus`` is the text the tokenizer is trained on
    (default: a few lines in the prompts' language). Weights are random with a fixed seed.

    >>> path = build_tiny_model(tmp_path / "tiny", vocab_size=384)  # doctest: +SKIP
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = list(DEFAULT_CORPUS if corpus is None else corpus)

    # No normaliser and a byte-level decoder: decoding is the exact inverse of encoding.
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<think>", "</think>"],
        clean_up_tokenization_spaces=False,
        model_max_length=4096,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out_dir)

    endoftext = tok.token_to_id("<|endoftext|>")
    im_end = tok.token_to_id("<|im_end|>")
    config = Qwen3Config(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden_size // 4,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=endoftext,
        eos_token_id=im_end,
        pad_token_id=endoftext,
    )
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = [im_end, endoftext]
    model.generation_config.pad_token_id = endoftext
    model.save_pretrained(out_dir)
    return out_dir
