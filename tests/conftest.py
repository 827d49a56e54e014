"""Shared fixtures."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

# Rich fixes a console's width when it is made if COLUMNS is set; the tests give each command
# its own width (CliRunner's env), so the width of the terminal running pytest must not be
# baked into bench's consoles first.
os.environ.pop("COLUMNS", None)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test (weights come from local files)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def bench_cache(tmp_path_factory):
    """One cache directory per test session: synth renders once, nothing touches ~/.cache."""
    path = tmp_path_factory.mktemp("bench-cache")
    previous = os.environ.get("BENCH_CACHE_DIR")
    os.environ["BENCH_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("BENCH_CACHE_DIR", None)
    else:
        os.environ["BENCH_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def emodb_root():
    root = os.environ.get("BENCH_SHARED_DATA")
    folder = (Path(root) if root else SHARED_DATA) / "emodb"
    if not folder.is_dir():
        pytest.skip(f"real EmoDB audio not found at {folder} (set BENCH_SHARED_DATA)")
    return folder
