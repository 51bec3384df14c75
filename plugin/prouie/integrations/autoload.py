"""Registers prouie's converters inside LLaMA-Factory, lazily, in every Python process.

LLaMA-Factory discovers no plugins and re-launches itself under ``torchrun`` on machines with
several devices, so nothing the user runs before ``llamafactory-cli train`` reaches the worker
processes. Installing prouie therefore puts ``prouie-autoload.pth`` into site-packages; Python
runs its one line at every start-up, and that line calls :func:`install`.

:func:`install` must cost next to nothing, because it runs in every Python process of the
environment: it imports no ML framework and only puts a finder at the front of
``sys.meta_path``. When (and only when) a process imports one of the LLaMA-Factory modules in
:data:`HOOKS`, the finder lets the module load normally and then calls the matching function of
:mod:`prouie.integrations.llamafactory`, which registers the ``prouie_*`` converters.

``PROUIE_NO_AUTOLOAD=1`` switches all of this off (the ``.pth`` line checks it before importing
anything); call :func:`prouie.integrations.llamafactory.register` yourself then.

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


def _run_hook(module_name: str) -> None:
    import importlib

    func = HOOKS[module_name]
    try:
        getattr(importlib.import_module("prouie.integrations.llamafactory"), func)()
    except Exception as exc:
        raise ImportError(
            f"prouie could not register its dataset converters with {module_name} ({exc!r}). "
            f"Set {ENV_DISABLE}=1 to run LLaMA-Factory without prouie."
        ) from exc


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

    Returns False when ``PROUIE_NO_AUTOLOAD`` is set (nothing is installed).
    """
    if disabled():
        return False
    if not any(isinstance(f, PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, PostImportFinder())
    for name in HOOKS:
        if name in sys.modules:
            _run_hook(name)
    return True
