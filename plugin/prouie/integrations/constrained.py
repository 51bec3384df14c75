"""JSON-Schema-constrained decoding for transformers through xgrammar's logits processor.

xgrammar is the structured-output engine vLLM and SGLang use by default, so a schema behaves the
same under ``prouie predict --backend transformers`` as under ``vllm``; it ships a ready
``transformers`` logits processor, so nothing here masks logits by hand. Imported only when
``--constrained`` is asked for; xgrammar is the ``constrained`` extra.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


class SchemaConstraint:
    """Compiles JSON Schemas for one tokenizer and hands out logits processors.

    A label schema repeats over a whole data set and compiling it is the costly step, so compiled
    grammars are kept per schema.
    """

    def __init__(
        self, tokenizer: Any, vocab_size: int, stop_token_ids: Sequence[int] | None = None
    ) -> None:
        try:
            import xgrammar as xgr
        except ImportError as exc:
            raise ImportError(
                "--constrained with transformers needs xgrammar: pip install 'prouie[constrained]'"
            ) from exc
        # vocab_size is the model's (it may exceed the tokenizer's through padding); the stop ids
        # end an answer once its object is closed.
        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer,
            vocab_size=vocab_size,
            stop_token_ids=list(stop_token_ids) if stop_token_ids else None,
        )
        self.compiler = xgr.GrammarCompiler(info)
        self.compiled: dict[str, Any] = {}

    def processor(self, schemas: Sequence[dict[str, Any]]) -> Any:
        """A fresh logits processor holding row ``i`` of a batch to ``schemas[i]`` (a processor
        serves one ``generate`` call)."""
        from xgrammar.contrib.hf import LogitsProcessor

        grammars = []
        for schema in schemas:
            key = json.dumps(schema)  # not sorted: the property order is the answer's key order
            if key not in self.compiled:
                # No free whitespace: the targets are json.dumps' ", " / ": " layout, and a model
                # that loops on whitespace would otherwise never close the object.
                self.compiled[key] = self.compiler.compile_json_schema(
                    key, any_whitespace=False, strict_mode=True
                )
            grammars.append(self.compiled[key])
        return LogitsProcessor(grammars)
