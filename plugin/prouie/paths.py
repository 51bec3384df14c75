"""Path checks made before any work, and writes that never leave a half-written output.

Every command that writes goes through :class:`AtomicFiles` (or :func:`atomic_path` for a library
that writes a path itself, such as pyarrow): the data goes to a temporary file in the destination
folder, which replaces the old output only when the whole input has been read. A failed run
leaves every existing output byte-identical.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class PathError(ValueError):
    """A path that cannot be used as given; the message names it and says why."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


def check_input(path: str | Path, *, folder: bool = False, what: str = "input") -> Path:
    """``path`` exists and is a file (or, with ``folder=True``, a file or a folder)."""
    path = Path(path)
    if not path.exists():
        raise PathError(path, f"no such file or folder ({what})")
    if path.is_dir() and not folder:
        raise PathError(path, f"is a folder; the {what} must be a file")
    return path


def _check_parents(path: Path) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise PathError(path, f"cannot be written: {parent} is a file, not a folder")
            return


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    path: str | Path, inputs: Iterable[str | Path] = (), *, folder: bool = False
) -> Path:
    """``path`` can be written as an output file (or, with ``folder=True``, an output folder):
    not the other kind of thing already, not under a file, not one of ``inputs``."""
    path = Path(path)
    kind = "folder" if folder else "file"
    if path.exists() and path.is_dir() != folder:
        raise PathError(path, f"is a {'file' if folder else 'folder'}; the output must be a {kind}")
    _check_parents(path)
    for inp in inputs:
        if _same(path, Path(inp)):
            raise PathError(path, f"is also an input; write the output to another {kind}")
    return path


def check_output_file(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """:func:`check_output` for an output file."""
    return check_output(path, inputs)


def check_output_dir(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """:func:`check_output` for an output folder."""
    return check_output(path, inputs, folder=True)


class AtomicFiles:
    """Temporary files in one folder, promoted together on success and removed on failure."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.handles: dict[str, IO[str]] = {}
        self.paths: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        """A fresh temporary path in the folder for ``name``, for writers that take a path."""
        if name not in self.paths:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            # Named by process id (not mkstemp) so the output gets the usual umask permissions.
            # The suffix is kept last: some writers (matplotlib) choose the format from it.
            stem, dot, suffix = name.rpartition(".")
            tmp = f".{stem}.{os.getpid()}.tmp.{suffix}" if dot else f".{name}.{os.getpid()}.tmp"
            self.paths[name] = self.out_dir / tmp
        return self.paths[name]

    def get(self, name: str) -> IO[str]:
        """An open UTF-8 text handle on the temporary file for ``name``."""
        fh = self.handles.get(name)
        if fh is None:
            fh = self.handles[name] = self.path(name).open("w", encoding="utf-8")
        return fh

    def commit(self) -> None:
        for fh in self.handles.values():
            fh.close()
        for name, tmp in self.paths.items():
            os.replace(tmp, self.out_dir / name)

    def abort(self) -> None:
        for fh in self.handles.values():
            fh.close()
        for tmp in self.paths.values():
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_files(out_dir: str | Path) -> Iterator[AtomicFiles]:
    """:class:`AtomicFiles` committed when the block ends normally, removed when it raises."""
    outs = AtomicFiles(out_dir)
    try:
        yield outs
    except BaseException:
        outs.abort()
        raise
    outs.commit()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it when the block ends normally.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    path = Path(path)
    with atomic_files(path.parent) as outs:
        yield outs.path(path.name)


@contextmanager
def atomic_open(path: str | Path) -> Iterator[IO[str]]:
    """A UTF-8 text handle whose content replaces ``path`` when the block ends normally."""
    path = Path(path)
    with atomic_files(path.parent) as outs:
        yield outs.get(path.name)


def repair_tail(path: Path) -> bool:
    """Cut a torn last line off an appended file (a run killed while writing it); True when
    something was cut. Every resumable output (predictions, perturbations, LDA scores) calls it
    before it reads or appends."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return False
        fh.seek(0)
        data = fh.read()
        fh.truncate(data.rfind(b"\n") + 1)
    return True


def recipes_dir() -> Path:
    """The recipes folder shipped with prouie: ``prouie/recipes`` in an installed wheel, the
    repository's top-level ``recipes/`` in a clone or an editable install."""
    installed = Path(__file__).resolve().parent / "recipes"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "recipes"
