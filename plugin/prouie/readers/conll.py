"""CoNLL BIO files (IOB1 or IOB2) as NER records with character offsets.

The token is the first column and the tag the last, so 2-column and CoNLL-2003 4-column files both
read. Tokens are joined with single spaces (as the paper's inputs) or by punctuation rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prouie.readers.base import (
    DATASET,
    Format,
    Option,
    ReadStats,
    guarded,
    load_yaml,
    natural_label,
    register,
)
from prouie.records import Example, RecordError, need, new_example, text_lines

# CoNLL-2003 style tag names -> the label words InstructUIE and the paper's Figure 4 use.
CONLL_LABELS = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "miscellaneous"}
_CONLL_ORDER = ("location", "person", "organization", "miscellaneous")


def load_label_map(path: str | Path | None) -> dict[str, str]:
    """A JSON or YAML mapping from source labels to the label words to use."""
    if not path:
        return {}
    data = load_yaml(Path(path))
    if not isinstance(data, dict):
        raise RecordError(str(path), "<mapping>", "a label map must map source labels to strings")
    for key in data:
        need(data, key, str, str(path), str(key))
    return {str(k): v for k, v in data.items()}


# Tokens glued to their left / right neighbour when ``detokenize="rules"``.
_NO_SPACE_BEFORE = frozenset(
    {
        ",",
        ".",
        ";",
        ":",
        "!",
        "?",
        ")",
        "]",
        "}",
        "%",
        "'s",
        "'S",
        "n't",
        "'re",
        "'ve",
        "'ll",
        "'d",
        "'m",
        "''",
    }
)
_NO_SPACE_AFTER = frozenset({"(", "[", "{", "$", "``", "#"})


def conll_sentences(path: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """(where, tokens, tags) per sentence; blank lines separate sentences, -DOCSTART- lines are dropped.

    The token is the first column and the tag the last, so 2-column and CoNLL-2003 4-column files
    both read.
    """
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for lineno, line in text_lines(path):
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            if tokens:
                yield f"{path}:{start}", tokens, tags
                tokens, tags = [], []
            continue
        if len(cols) < 2:
            raise RecordError(
                f"{path}:{lineno}", "tag", f"line {line.rstrip()!r} has no tag column"
            )
        if not tokens:
            start = lineno
        tokens.append(cols[0])
        tags.append(cols[-1])
    if tokens:
        yield f"{path}:{start}", tokens, tags


def bio_chunks(tags: list[str], where: str = "") -> list[tuple[str, int, int]]:
    """(type, first token, last token + 1) chunks of a BIO sequence, IOB1 or IOB2.

    A chunk starts at ``B-X``, or at ``I-X`` when the previous token is not of type X (IOB1, and
    IOB2 written loosely); it continues over ``I-X``.

    >>> bio_chunks(["I-PER", "I-PER", "B-PER", "O", "I-LOC"])
    [('PER', 0, 2), ('PER', 2, 3), ('LOC', 4, 5)]
    """
    chunks: list[tuple[str, int, int]] = []
    cur: str | None = None
    begin = 0
    for i, tag in enumerate(tags):
        if tag == "O":
            prefix, typ = "O", None
        else:
            prefix, _, typ = tag.partition("-")
            if prefix not in ("B", "I") or not typ:
                raise RecordError(where, f"tags[{i}]", f"{tag!r} is not a BIO tag (O, B-X or I-X)")
        if cur is not None and (typ != cur or prefix == "B"):
            chunks.append((cur, begin, i))
            cur = None
        if typ is not None and cur is None:
            cur, begin = typ, i
    if cur is not None:
        chunks.append((cur, begin, len(tags)))
    return chunks


def join_tokens(tokens: list[str], detokenize: str = "space") -> tuple[str, list[int]]:
    """Text and the start offset of every token.

    ``space`` joins with single spaces (the inputs of the paper's Figures 4-5 look like this);
    ``rules`` glues punctuation to its neighbour for natural-looking text.
    """
    starts: list[int] = []
    parts: list[str] = []
    length = 0
    prev = None
    for tok in tokens:
        if prev is not None and not (
            detokenize == "rules" and (tok in _NO_SPACE_BEFORE or prev in _NO_SPACE_AFTER)
        ):
            parts.append(" ")
            length += 1
        starts.append(length)
        parts.append(tok)
        length += len(tok)
        prev = tok
    return "".join(parts), starts


def read_conll(
    path: str | Path,
    *,
    dataset: str | None = None,
    label_map: dict[str, str] | None = None,
    detokenize: str = "space",
    stats: ReadStats | None = None,
    on_error: str = "raise",
) -> Iterator[Example]:
    """Read a CoNLL BIO file (IOB1 or IOB2) as NER records with character offsets."""
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    mapping = {**CONLL_LABELS, **(label_map or {})}
    ds = dataset or path.stem.split(".")[0]
    labels: dict[str, None] = {}
    for _where, _, tags in conll_sentences(path):
        for tag in tags:
            if tag != "O":
                typ = tag.partition("-")[2]
                labels.setdefault(mapping.get(typ, natural_label(typ)))
    # The CoNLL-2003 words in Figure 4's order first, then any other label in order of appearance.
    label_list = [w for w in _CONLL_ORDER if w in labels] + [
        w for w in labels if w not in _CONLL_ORDER
    ]

    def build(where: str, raw: Any, i: int) -> Example:
        tokens, tags = raw
        text, starts = join_tokens(tokens, detokenize)
        ex = new_example(id=f"{ds}-{i}", dataset=ds, task="ner", text=text, labels=label_list)
        for typ, b, e in bio_chunks(tags, where):
            s, end = starts[b], starts[e - 1] + len(tokens[e - 1])
            ex["entities"].append(
                {
                    "type": mapping.get(typ, natural_label(typ)),
                    "text": text[s:end],
                    "start": s,
                    "end": end,
                }
            )
        return ex

    items = ((where, (tokens, tags)) for where, tokens, tags in conll_sentences(path))
    yield from guarded(items, build, stats, on_error)


register(
    Format(
        "conll",
        read_conll,
        "CoNLL BIO (IOB1 or IOB2) token-per-line NER files",
        (
            DATASET,
            Option(
                "label_map",
                "JSON/YAML mapping from source labels to label words",
                parse=load_label_map,
            ),
            Option(
                "detokenize",
                "join tokens with spaces (as the paper's inputs) or glue punctuation (rules)",
                choices=("space", "rules"),
            ),
        ),
    )
)
