"""What ``prouie doctor`` checks: the framework versions that matter, whether LLaMA-Factory sees
prouie's converters, and the known incompatibilities between the frameworks, each with its fix.

Nothing here imports an ML framework except :func:`converters_registered`, which imports
LLaMA-Factory's converter module on purpose (that is what the autoload hook reacts to).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

#: distribution names, in the order the report lists them.
DISTRIBUTIONS = {
    "LLaMA-Factory": "llamafactory",
    "transformers": "transformers",
    "torch": "torch",
    "TRL": "trl",
    "verl": "verl",
    "vLLM": "vllm",
    "omegaconf": "omegaconf",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One known incompatibility: whether it applies here, what goes wrong, and the fix."""

    applies: bool
    problem: str
    fix: str


def versions() -> dict[str, str | None]:
    """Installed version of every distribution of :data:`DISTRIBUTIONS` (None: not installed).

    EasyR1 installs itself as a distribution named ``verl``; its reward manager module
    (``verl/workers/reward/function.py``) tells it apart, and it is reported as ``EasyR1``.
    """
    found: dict[str, str | None] = {}
    for name, dist in DISTRIBUTIONS.items():
        try:
            found[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[name] = None
    if found["verl"] is not None and _is_easyr1():
        found["EasyR1"], found["verl"] = found["verl"], None
    else:
        found["EasyR1"] = None
    return found


def _installed(*dists: str) -> bool:
    try:
        for dist in dists:
            metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def _is_easyr1() -> bool:
    import importlib.util

    spec = importlib.util.find_spec("verl")
    roots = spec.submodule_search_locations if spec is not None else None
    return any((Path(r) / "workers" / "reward" / "function.py").is_file() for r in roots or ())


def _release(version: str | None) -> tuple[int, ...]:
    """``"5.5.3"`` -> ``(5, 5, 3)``; pre-release and local parts are dropped."""
    parts = []
    for piece in (version or "").split("+")[0].split("."):
        digits = "".join(c for c in piece if c.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def easyr1_reward_path() -> str:
    """The ``worker.reward.reward_function`` value for EasyR1 users of a pip install: the wheel
    ships no ``rewards/`` folder, but the installed module declares the same reward."""
    from prouie.integrations import easyr1

    return f"{Path(easyr1.__file__).resolve()}:compute_score"


def findings(v: dict[str, str | None]) -> list[Finding]:
    """The known incompatibilities, each marked as applying or not to versions ``v``."""
    omegaconf = _release(v.get("omegaconf"))
    transformers = _release(v.get("transformers"))
    both = v.get("verl") is not None and v.get("LLaMA-Factory") is not None
    return [
        Finding(
            v.get("EasyR1") is not None and omegaconf >= (2, 4),
            "EasyR1 fails at start-up with omegaconf 2.4 (its logger field is typed Tuple[str])",
            "pip install 'omegaconf<2.4'",
        ),
        Finding(
            both and transformers[:2] != (5, 5),
            "verl 0.9.1 wants transformers >= 5.5.3 and != 5.6.0, LLaMA-Factory 0.9.5 <= 5.6.0: "
            "they share an environment only on transformers 5.5.x",
            "pip install 'transformers>=5.5.3,<5.6' (or keep verl and LLaMA-Factory in two "
            "environments)",
        ),
        Finding(
            v.get("LLaMA-Factory") is not None and not _installed("jieba", "nltk", "rouge-chinese"),
            "LLaMA-Factory's do_predict (recipes/predict.yaml) stops at start-up without its "
            "metric packages jieba, nltk and rouge-chinese",
            "pip install 'prouie[predict]'",
        ),
        Finding(
            v.get("EasyR1") is not None,
            "the rewards/ folder is not in the wheel, so ./rewards/sfr_easyr1.py exists only in "
            "a clone",
            f"worker.reward.reward_function={easyr1_reward_path()}",
        ),
    ]


def converters_registered() -> tuple[bool, str]:
    """Whether importing LLaMA-Factory's converter module in this interpreter registers prouie's
    formattings (what the autoload hook does), and a word on why not."""
    from prouie.integrations.llamafactory import FORMATTINGS

    try:
        from llamafactory.data.converter import DATASET_CONVERTERS
    except ImportError as exc:
        return False, f"LLaMA-Factory cannot be imported ({exc})"
    missing = sorted(set(FORMATTINGS) - set(DATASET_CONVERTERS))
    if missing:
        return False, (
            f"{len(missing)} of {len(FORMATTINGS)} formattings missing (autoload off? "
            "PROUIE_NO_AUTOLOAD, or the .pth file not installed): call "
            "prouie.integrations.llamafactory.register() or use `prouie prepare` files"
        )
    return True, f"all {len(FORMATTINGS)} formattings ({', '.join(sorted(FORMATTINGS)[:2])}, ...)"
