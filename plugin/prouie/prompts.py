"""Reading prouie's prompts back: task, label list, roles and input text from a rendered prompt.

LLaMA-Factory's ``generated_predictions.jsonl`` keeps only ``prompt``, ``predict`` and ``label``.
When the prompt was rendered from one of prouie's CM or SA templates (built-in or from
``$PROUIE_TEMPLATE_DIR``), the template says where the label list, the roles and the input sit, so
the prompt alone gives everything scoring needs.

Each template is turned into a regular expression by rendering it once with *probes* in place of
its variables: ``labels|join(', ')`` renders a marker that becomes a capture group, ``labels|length``
one that becomes ``\\d+``, and a loop over the labels (slot definitions) a wildcard. The literal
text around them must match word for word. A template may use its variables only through
``join``, ``length`` and ``for`` loops for this to work; the built-in ones do.

Two limits, both documented in docs/evaluation.md: a label that itself contains ``", "`` cannot be
told apart from two labels, and the NER and slot templates are the same words (paper Figure 4), so
a prompt of that shape is NER unless the caller says ``slot``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from prouie.generation import CHAT_FORMATS
from prouie.records import TASKS
from prouie.targets import STAGES, make_env, template_dirs

_JOIN_LABELS, _JOIN_ROLES = "\x00JL\x00", "\x00JR\x00"
_LEN_LABELS, _LEN_ROLES = "\x00NL\x00", "\x00NR\x00"
_ANY = "\x00AN\x00"
_MARKERS = re.compile("(\x00[A-Z]{2}\x00)")


@dataclass(frozen=True, slots=True)
class PromptSchema:
    """What a prompt says: its task and stage, the label list, the roles (EE) and the input text."""

    task: str
    stage: str
    labels: tuple[str, ...]
    roles: tuple[str, ...]
    text: str


class _Probe(list):
    """Stands for ``labels`` or ``roles`` while a template is rendered into a pattern."""

    def __init__(self, join: str, length: str) -> None:
        super().__init__([_ANY])
        self.join, self.length = join, length


class _AnyDict(dict):
    """Stands for ``definitions``: truthy, and every lookup renders the wildcard."""

    def __init__(self) -> None:
        super().__init__({_ANY: _ANY})

    def get(self, key: Any, default: Any = None) -> str:
        return _ANY

    def __getitem__(self, key: Any) -> str:
        return _ANY


def _probe_env(dirs: tuple[str, ...]) -> Any:
    import jinja2

    env = make_env(dirs)  # a fresh one: the probe filters below must not reach the shared one
    join, length = env.filters["join"], env.filters["length"]

    @jinja2.pass_eval_context
    def probe_join(ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        return value.join if isinstance(value, _Probe) else join(ctx, value, d, attribute)

    def probe_length(value: Any) -> Any:
        return value.length if isinstance(value, _Probe) else length(value)

    env.filters.update(join=probe_join, length=probe_length, count=probe_length)
    return env


def _pattern(skeleton: str) -> str:
    """A probe rendering as a regular expression: markers become groups, the rest is literal."""
    out, seen = [], set()
    for piece in _MARKERS.split(skeleton):
        if piece in (_JOIN_LABELS, _JOIN_ROLES, _LEN_LABELS, _LEN_ROLES):
            name = {
                _JOIN_LABELS: "labels",
                _JOIN_ROLES: "roles",
                _LEN_LABELS: "nlabels",
                _LEN_ROLES: "nroles",
            }[piece]
            body = r"\d+" if name.startswith("n") else ".*?"
            out.append(f"(?P={name})" if name in seen else f"(?P<{name}>{body})")
            seen.add(name)
        elif piece == _ANY:
            out.append(".*?")
        else:
            out.append(re.escape(piece))
    return "".join(out)


@dataclass(slots=True)
class _Template:
    """One template's pattern and the (task, stage) pairs whose templates render these words (the
    NER and the slot template are the same words)."""

    regex: re.Pattern[str]
    sources: list[tuple[str, str]]


@lru_cache(maxsize=4)
def _patterns(dirs: tuple[str, ...]) -> list[_Template]:
    """A pattern for every template found in ``dirs``; a prompt is the rendered instruction, a
    newline, the input text (LLaMA-Factory's alpaca user turn)."""
    import jinja2

    env = _probe_env(dirs)
    found: dict[str, _Template] = {}
    for task in TASKS:
        for stage in STAGES:
            try:
                template = env.get_template(f"{stage}_{task}.jinja")
            except jinja2.TemplateNotFound:
                continue
            labels, roles = _Probe(_JOIN_LABELS, _LEN_LABELS), _Probe(_JOIN_ROLES, _LEN_ROLES)
            skeletons = {
                template.render(labels=labels, roles=roles, definitions=defs)
                for defs in ({}, _AnyDict())
            }
            for skeleton in sorted(skeletons, key=len):
                source = _pattern(skeleton) + r"\n(?P<text>.*)\Z"
                if source not in found:
                    found[source] = _Template(re.compile(source, re.DOTALL), [])
                found[source].sources.append((task, stage))
    return list(found.values())


def _chat_suffixes() -> tuple[str, ...]:
    """Ends of a prompt after the input text: the chat formats' assistant openings (with the empty
    think block a thinking-off tokenizer template adds), also with special tokens decoded away,
    as ``scripts/vllm_infer.py`` writes them by default."""
    ends = set()
    for _, suffix, _ in CHAT_FORMATS.values():
        for end in (suffix, suffix + "<think>\n\n</think>\n\n"):
            ends.add(end)
            ends.add(re.sub(r"<\|[^|>]*\|>", "", end))
    return tuple(sorted((e for e in ends if e), key=len, reverse=True))


_SUFFIXES = _chat_suffixes()


class PromptReader:
    """:func:`read_prompt` for a stream of prompts, with a memory of the instructions it has read.

    A predictions file repeats a handful of instructions (one per label schema) before ever-new
    inputs, so once an instruction has been matched its words are looked up instead of matched
    again: the chat prefix and the newline that follows the instruction locate it in the next
    prompt. This keeps reading a 100,000-line file within the ``benchmarks/evaluate_cli.py``
    target (at most twice the scoring time).
    """

    def __init__(self, shared_task: str = "ner") -> None:
        self.shared_task = shared_task
        self.known: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {}
        self.prefix: str | None = None
        # How many newlines the instructions seen hold (none, for the built-in templates): the
        # instruction of a prompt ends at the newline after them.
        self.newlines: dict[int, None] = {}

    def read(self, prompt: str) -> PromptSchema | None:
        """The schema of ``prompt`` (see :func:`read_prompt`)."""
        if self.prefix is not None and prompt.startswith(self.prefix):
            start = len(self.prefix)
            for n in self.newlines:
                cut = start - 1
                for _ in range(n + 1):
                    cut = prompt.find("\n", cut + 1)
                hit = self.known.get(prompt[start:cut]) if cut >= 0 else None
                if hit is not None:
                    return PromptSchema(*hit, _strip_chat_end(prompt[cut + 1 :]))
        return self._match(prompt)

    def _match(self, prompt: str) -> PromptSchema | None:
        templates = _patterns(template_dirs())
        for i, template in enumerate(templates):
            m = template.regex.search(prompt)
            if m is None:
                continue
            got = m.groupdict()
            labels = tuple(got["labels"].split(", ")) if got.get("labels") else ()
            if got.get("nlabels") and int(got["nlabels"]) != len(labels):
                continue
            roles = tuple(got["roles"].split(", ")) if got.get("roles") else ()
            if i:
                # Prompts come in runs of one template: try the last one that matched first.
                templates.insert(0, templates.pop(i))
            sources = template.sources
            task, stage = next(((t, s) for t, s in sources if t == self.shared_task), sources[0])
            if len(self.known) > 10_000:  # a file of ever-new schemas: keep memory bounded
                self.known.clear()
            instruction = prompt[m.start() : m.start("text") - 1]
            self.known[instruction] = (task, stage, labels, roles)
            self.prefix = prompt[: m.start()]
            self.newlines[instruction.count("\n")] = None
            return PromptSchema(task, stage, labels, roles, _strip_chat_end(got["text"]))
        return None


def read_prompt(prompt: str, *, shared_task: str = "ner") -> PromptSchema | None:
    """The task, stage, labels, roles and input text of a prompt rendered from one of prouie's
    templates, or None when it matches none of them. ``shared_task`` (``"ner"`` or ``"slot"``)
    decides a prompt whose words both the NER and the slot template produce.

    >>> from prouie.targets import render_instruction
    >>> p = render_instruction("re", "sa", ["born in"]) + "\\nAnn was born in Rome"
    >>> read_prompt("<|im_start|>user\\n" + p + "<|im_end|>\\n<|im_start|>assistant\\n")
    PromptSchema(task='re', stage='sa', labels=('born in',), roles=(), text='Ann was born in Rome')
    """
    return PromptReader(shared_task).read(prompt)


def _strip_chat_end(text: str) -> str:
    for end in _SUFFIXES:
        if text.endswith(end):
            return text[: -len(end)]
    return text
