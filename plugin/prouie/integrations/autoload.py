"""Registers prouie's converters inside LLaMA-Factory, lazily, in every Python process.

LLaMA-Factory discovers no plugins and re-launches itself under ``torchrun`` on machines with
several devices, so nothing the user runs before ``llamafactory-cli train`` reaches the worker
processes. Installing prouie therefore puts two start-up files into site-packages, and every
Python from 3.10 on calls :func:`install` exactly once at start-up:

- ``prouie-autoload.pth``: its ``import`` line calls :func:`install` on Python < 3.15;
- ``prouie-autoload.start`` (PEP 829): the entry point ``prouie.integrations.autoload:install``,
  which Python 3.15+ calls. Under PEP 829 a ``.start`` file beside a ``.pth`` of the same name
  disables the ``.pth``'s import lines (and 3.18+ ignores them altogether); the ``.pth`` line also
  checks the version itself, so no Python runs the hook twice.

:func:`install` must cost next to nothing, because it runs in every Python process of the
environment: it imports no ML framework and only puts a finder at the front of
``sys.meta_path``. When (and only when) a process imports one of the LLaMA-Factory modules in
:data:`HOOKS`, the finder lets the module load normally and then calls the matching function of
:mod:`prouie.integrations.llamafactory`, which registers the ``prouie_*`` converters.

If registering fails (prouie or one of its dependencies is broken), LLaMA-Factory carries on with
its own formats and the process prints one warning that says what failed and what to do.

``PROUIE_NO_AUTOLOAD=1`` switches all of this off (the ``.pth`` line checks it before importing
anything); call :func:`prouie.integrations.llamafactory.register` yourself then. Files written by
``prouie prepare`` (alpaca files and ``dataset_info.json``) need no hook at all.

Only ``os`` and ``sys`` are imported here (``typing`` alone would add ~10 ms to every start-up).
"""

from __future__ import annotations

import os
import sys

ENV_DISABLE = "PROUIE_NO_AUTOLOAD"

#: module LLaMA-Factory imports -> function of prouie.integrations.llamafactory to call after it.
HOOKS = {
    "llamafactory.data.converter": "register",
    "llamafactory.v1.plugins.data_plugins.converter": "register_v1",
}


def disabled() -> bool:
    """Whether ``PROUIE_NO_AUTOLOAD`` asks to leave LLaMA-Factory alone."""
    return os.environ.get(ENV_DISABLE, "").strip().lower() not in ("", "0", "false", "no")


class AutoloadWarning(RuntimeWarning):
    """prouie could not register its converters; LLaMA-Factory runs without them."""


_warned = False  # one warning per process, however many hooks fail


def _run_hook(module_name: str) -> None:
    """Register prouie's converters after ``module_name`` loaded; never break LLaMA-Factory."""
    global _warned
    import importlib

    try:
        getattr(importlib.import_module("prouie.integrations.llamafactory"), HOOKS[module_name])()
    except Exception as exc:
        # This runs inside LLaMA-Factory's own import: raising would stop training on every
        # format, LLaMA-Factory's own included, because of a fault in prouie.
        if not _warned:
            _warned = True
            import warnings

            warnings.warn(
                f"prouie could not register its LLaMA-Factory dataset converters "
                f"({type(exc).__name__}: {exc}); LLaMA-Factory runs without the prouie_* "
                f"formattings. Files written by `prouie prepare` need no converter; set "
                f"{ENV_DISABLE}=1 to skip this hook.",
                AutoloadWarning,
                stacklevel=2,
            )


class _HookedLoader:
    """Wraps a module's loader: loads the module as usual, then runs its hook."""

    def __init__(self, loader: object, name: str) -> None:
        self.loader = loader
        self.name = name

    def create_module(self, spec: object) -> object:
        return self.loader.create_module(spec)

    def exec_module(self, module: object) -> None:
        # Hand the module its real loader so that introspection (inspect, pickle, reload) sees
        # exactly what it would without prouie.
        module.__loader__ = self.loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        _run_hook(self.name)

    def __getattr__(self, attr: str) -> object:
        return getattr(self.loader, attr)


class PostImportFinder:
    """A ``sys.meta_path`` finder that answers only for the modules in :data:`HOOKS`."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        if fullname not in HOOKS:
            return None
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, PostImportFinder):
                continue
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _HookedLoader(spec.loader, fullname)
        return spec


def install() -> bool:
    """Put the finder on ``sys.meta_path`` once; run hooks for modules already imported.

    The start-up entry point of both files (see the module docstring). Returns False when
    ``PROUIE_NO_AUTOLOAD`` is set (nothing is installed).
    """
    if disabled():
        return False
    if not any(isinstance(f, PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, PostImportFinder())
    for name in HOOKS:
        if name in sys.modules:
            _run_hook(name)
    return True
