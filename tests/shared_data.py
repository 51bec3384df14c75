"""Locating the real data sets in ../shared/data (beside the repository); tests skip without them."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
PAPER = SHARED / "papers" / "prouie-2604.10633.txt"


def shared_file(rel: str) -> Path:
    """A file under ../shared/data, or skip the test with the reason."""
    path = DATA / rel
    if not path.exists():
        pytest.skip(
            f"{path} is absent: the real data sets live in ../shared/data beside the repository"
        )
    return path
