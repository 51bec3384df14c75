"""SFR settings: the weights of Eqs. 7-10 (defaults: Appendix A.3), the variant and the clipping.

The settings are pydantic models, so a framework's reward kwargs (plain dicts, OmegaConf nodes,
YAML values) are checked in one place; :func:`config_from_kwargs` turns a bad or misspelt key into
one line that names it and suggests the close matches.

>>> config_from_kwargs(variant="fine", ee={"gamma": 1.2}).ee.gamma
1.2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from prouie.settings import describe, suggest

#: A weight: a number (ints are accepted, booleans and strings are not), never negative.
Weight = Annotated[float, Strict(), Field(ge=0)]
#: The exponent on a fine F1 (Eq. 2): a positive number.
Gamma = Annotated[float, Strict(), Field(gt=0)]


class _Settings(BaseModel):
    # Frozen (hashable, safe to share between rollouts), strict about unknown keys.
    model_config = ConfigDict(frozen=True, extra="forbid")


class NERWeights(_Settings):
    """Eq. (7) weights; defaults are Appendix A.3."""

    w_t: Weight = 0.2  # entity-type coverage
    w_p: Weight = 0.8  # (type, entity) F1
    gamma: Gamma = 1.5  # power on the pair F1
    lambda_t: Weight = 0.6  # Delta on entity types
    lambda_p: Weight = 0.2  # Delta on (type, entity) pairs


class REWeights(_Settings):
    """Eq. (8) weights; defaults are Appendix A.3."""

    w_t: Weight = 0.05  # relation-type coverage
    w_h: Weight = 0.10  # (type, head) F1
    w_a: Weight = 0.10  # (type, tail) F1
    w_r: Weight = 0.75  # (type, head, tail) F1
    gamma: Gamma = 1.3  # power on the triple F1
    lambda_t: Weight = 0.15  # Jaccard distance on relation types
    lambda_r: Weight = 0.25  # Jaccard distance on triples


class EEWeights(_Settings):
    """Eqs. (9)-(10) weights; defaults are Appendix A.3 except ``gamma``.

    A.3 gives no gamma_EE. 1.0 (no stretching) is the only value that adds nothing the paper does
    not state; the paper's other exponents fall with task difficulty (NER 1.5 > RE 1.3), and EE has
    the lowest F1, where a larger exponent would flatten the reward of partly right outputs.
    """

    w_e: Weight = 0.05  # event-type coverage
    w_t: Weight = 0.15  # (event type, trigger) coverage
    w_f: Weight = 0.8  # aligned role-argument F1 (F_full), stretched by gamma
    gamma: Gamma = 1.0  # not given in A.3 (see the class docstring)
    lambda_e: Weight = 1.0  # event-type mismatch (delta_E > 0)
    lambda_t: Weight = 0.5  # trigger mismatch (delta_E = 0, delta_T > 0)
    lambda_f: Weight = 0.3  # residual fine error (1 - F_full)


WEIGHT_CLASSES: dict[str, type[_Settings]] = {"ner": NERWeights, "re": REWeights, "ee": EEWeights}

# Variant name -> what it keeps. Aliases map onto these three names.
VARIANTS: dict[str, str] = {
    "sfr": "coarse and fine terms with every penalty (Eqs. 7-10, the paper's reward)",
    "coarse": "coarse terms (type / trigger coverage) and the coarse penalties only",
    "fine": "fine terms (pair / head / tail / triple / argument F1) and the fine penalties only",
}
_ALIASES = {
    "sfr": "sfr",
    "full": "sfr",
    "coarse_to_fine": "sfr",
    "coarse": "coarse",
    "coarse_only": "coarse",
    "fine": "fine",
    "fine_only": "fine",
}


def resolve_variant(name: str) -> str:
    """Canonical variant name (``sfr``, ``coarse``, ``fine``) for a name or alias.

    >>> resolve_variant("Coarse-only")
    'coarse'
    """
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _ALIASES:
        raise ValueError(
            f"unknown SFR variant {name!r}; expected one of {', '.join(VARIANTS)}"
            + suggest(key, _ALIASES)
        )
    return _ALIASES[key]


class SFRConfig(_Settings):
    """All SFR settings; the defaults reproduce the paper (A.3 weights, clipping to [0, 1]).

    - ``variant``: ``sfr`` | ``coarse`` | ``fine`` (Table 7), aliases accepted.
    - ``clip``: clip the reward to ``clip_range`` (the paper's optional clipping, on by default).
    - ``unparseable_score``: reward of an output without a JSON object; ``None`` means the minimum:
      ``clip_range[0]`` when clipping, otherwise the task's empty-answer floor (see ``docs/de.md``).
    - ``perfect_empty``: when True a term whose gold and predicted sets are both empty takes its best
      value (cov 1, Delta 0, Djac 0), so that a right empty answer scores 1.0. The paper's formulas
      (False, default) give cov(empty, empty) = 0 and Djac(empty, empty) = 1.
    """

    ner: NERWeights = NERWeights()
    re: REWeights = REWeights()
    ee: EEWeights = EEWeights()
    variant: str = "sfr"
    clip: Annotated[bool, Strict()] = True
    clip_range: tuple[float, float] = (0.0, 1.0)
    unparseable_score: Annotated[float, Strict()] | None = None
    perfect_empty: Annotated[bool, Strict()] = False

    @field_validator("variant")
    @classmethod
    def _variant(cls, value: str) -> str:
        return resolve_variant(value)

    @field_validator("clip_range")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError(f"clip_range must have low < high, got {value!r}")
        return value

    def weights(self, task: str) -> Any:
        """The weights of ``task`` (``ner``, ``re``, ``ee``)."""
        return getattr(self, task)


DEFAULT_CONFIG = SFRConfig()


def plain(value: Any) -> Any:
    """Mappings (OmegaConf's too) to dicts and sequences to lists, as JSON would read them."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value


def config_from_kwargs(**kwargs: Any) -> SFRConfig:
    """An :class:`SFRConfig` from flat keyword arguments, as a framework's reward kwargs pass them.

    Weight overrides go in a mapping per task (``ner={"gamma": 2.0}``) or as ``ner_gamma=2.0`` /
    ``ner.gamma=2.0``. A bad value or an unknown name raises a ``ValueError`` naming the key (with
    close matches), because a typo would otherwise train silently with the default.

    >>> config_from_kwargs(re_gamma=1.0).re.gamma
    1.0
    >>> config_from_kwargs(ner={"gama": 2})
    Traceback (most recent call last):
    ...
    ValueError: unknown SFR option 'ner.gama'; did you mean 'ner.gamma'?
    """
    nested: dict[str, Any] = {}
    for name, value in plain(kwargs).items():
        task, sep, rest = name.replace(".", "_").partition("_")
        if sep and task in WEIGHT_CLASSES and name not in SFRConfig.model_fields:
            nested.setdefault(task, {})[rest] = value
        elif name in WEIGHT_CLASSES and isinstance(value, dict):
            nested.setdefault(name, {}).update(value)
        else:
            nested[name] = value
    try:
        return SFRConfig.model_validate(nested)
    except ValidationError as exc:
        raise ValueError(describe(exc, SFRConfig, "SFR option")) from None
