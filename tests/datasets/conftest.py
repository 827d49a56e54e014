"""Fixtures for the dataset tests: file writers and the real audio of ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from corpus_files import REPO, Files


@pytest.fixture
def files() -> Files:
    return Files()


@pytest.fixture
def shared_data() -> Path:
    """The real corpora of ../shared/data (or $BENCH_SHARED_DATA); skips when absent."""
    root = Path(os.environ.get("BENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not root.is_dir():
        pytest.skip(f"real audio not found at {root} (set BENCH_SHARED_DATA)")
    return root
