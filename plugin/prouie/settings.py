"""One-line messages for invalid settings (SFR options, DE recipes), from pydantic's errors.

pydantic checks the settings; this module only turns its first error into one line that names
the key as the user spelt it (``phases[0].task``, ``ner.gamma``) and, for an unknown key, suggests
the close matches among the keys valid at that place.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # suggest() is used where pydantic is not otherwise loaded
    from pydantic import ValidationError


def suggest(name: str, choices: Iterable[str], prefix: str = "") -> str:
    """``"; did you mean 'x', 'y'?"`` for the close matches of ``name`` (empty when none), each
    shown after ``prefix``.

    >>> suggest("gama", ["gamma", "w_t"], prefix="ner.")
    "; did you mean 'ner.gamma'?"
    """
    close = [prefix + c for c in difflib.get_close_matches(str(name), list(choices), n=3)]
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def key_path(loc: Iterable[Any]) -> str:
    """A pydantic error location as a key path: ``("phases", 0, "task")`` -> ``phases[0].task``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _fields_at(cls: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model (or pydantic dataclass) that ``loc`` leads into."""
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(cls, "__pydantic_fields__", {})
        if part not in fields:
            return []
        annotation = fields[part].annotation
        nested = [
            a
            for a in (annotation, *typing.get_args(annotation))
            if hasattr(a, "__pydantic_fields__")
        ]
        if not nested:
            return []
        cls = nested[0]
    return list(getattr(cls, "__pydantic_fields__", {}))


def describe(exc: ValidationError, cls: Any, what: str) -> str:
    """The first error of ``exc`` (raised validating ``cls``) as one line about ``what``.

    >>> from pydantic import BaseModel, ConfigDict, ValidationError
    >>> class Opts(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     gamma: float = 1.0
    >>> try:
    ...     Opts(gama=2)
    ... except ValidationError as exc:
    ...     print(describe(exc, Opts, "option"))
    unknown option 'gama'; did you mean 'gamma'?
    """
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    key = key_path(loc)
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        parent = key_path(loc[:-1])
        prefix = f"{parent}." if parent else ""
        return f"unknown {what} {key!r}" + suggest(str(loc[-1]), _fields_at(cls, loc[:-1]), prefix)
    if error["type"] in ("model_type", "model_attributes_type", "dataclass_type"):
        if not key:
            return f"{what}s must form a mapping, got {type(error['input']).__name__}"
        return f"{what} {key!r} must be a mapping, got {error['input']!r}"
    message = error["msg"].removeprefix("Value error, ")
    if not key:
        return f"{what}s: {message}"
    return f"{what} {key!r}: {message} (got {error['input']!r})"
