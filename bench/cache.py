"""On-disk cache of audio features, so no run, sweep trial or table rebuild embeds a clip twice.

A *space* holds the features one model produces: it is keyed by the backbone (name, class,
``weights_id(skip_heads=True)``: every weight but the projection heads, which features precede) and the preprocessing (sample rate, clip length,
pad mode, autocast precision, this pipeline's version). An *entry* in it is keyed by the
file's content (sha256) and the segment (offset, duration); content hashes are computed once
and found again by (path, size, mtime) afterwards. Any change of weights, preprocessing or
file content therefore misses. Layout under ``cache_dir()/embeddings``::

    <backbone>/<space>/space.json     what produced the space (for `bench cache info`)
    <backbone>/<space>/<shard>.npy    float32 [rows, features], memory-mapped on read
    <backbone>/<space>/<shard>.json   the entry key of every row, and unusable entries
    files/<memo>.json                 content hashes by path, size and mtime

Every file is written under a temporary name (``.*.tmp``, never read) and renamed into place,
and a shard counts only once its ``.json`` exists, which is written after its ``.npy``: a
killed process leaves no half entry. Writers never lock (each writes shards under a fresh
name), so DDP ranks and sweep workers can share one cache, also on a network file system.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.records import atomic_write_bytes, file_sha256
from bench.roots import cache_dir

VERSION = 1  # bump when decoding, resampling or fitting changes what a clip's waveform is
MEMO_FILES_BEFORE_MERGE = 32


def root() -> Path:
    return cache_dir() / "embeddings"


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class ContentHashes:
    """sha256 of file contents, computed once per (path, size, mtime) and remembered on disk."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or root() / "files"
        self.known: dict[str, list] = {}
        memos = sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []
        for memo in memos:
            try:
                self.known.update(json.loads(memo.read_text()))
            except (OSError, ValueError):
                continue  # removed by a concurrent merge; its content is in the merged file
        if len(memos) > MEMO_FILES_BEFORE_MERGE:
            self._save(self.known)
            for memo in memos:
                memo.unlink(missing_ok=True)

    def _save(self, entries: dict[str, list]) -> None:
        atomic_write_bytes(self.folder / f"{uuid.uuid4().hex}.json", json.dumps(entries).encode())

    def of(self, paths: Sequence[Path]) -> list[str]:
        """Content hashes of ``paths`` (unreadable files hash to a key of their own error)."""
        hashes, fresh = [], {}
        for path in paths:
            name = str(Path(path).resolve())
            try:
                stat = os.stat(name)
            except OSError as err:
                hashes.append(f"unreadable:{name}:{err.strerror}")
                continue
            known = self.known.get(name)
            if known and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
                hashes.append(known[2])
                continue
            entry = [stat.st_size, stat.st_mtime_ns, file_sha256(name)]
            self.known[name] = fresh[name] = entry
            hashes.append(entry[2])
        if fresh:
            self._save(fresh)
        return hashes


def entry_key(content: str, offset: float, duration: float | None) -> str:
    return _digest(content, float(offset), None if duration is None else float(duration))


@dataclass
class Space:
    """The cached features of one backbone state under one preprocessing."""

    path: Path

    def index(self) -> tuple[dict[str, tuple[str, int]], dict[str, str]]:
        """``(key -> (shard, row), key -> reason unusable)`` over every complete shard."""
        rows, unusable = {}, {}
        for meta in sorted(self.path.glob("*.json")) if self.path.is_dir() else []:
            if meta.name == "space.json":
                continue
            shard = json.loads(meta.read_text())
            rows.update({key: (meta.stem, i) for i, key in enumerate(shard["keys"])})
            unusable.update(shard["unusable"])
        return rows, unusable

    def read(self, located: Sequence[tuple[str, int]]) -> np.ndarray:
        """The rows at ``(shard, row)`` locations, in that order (shards memory-mapped)."""
        by_shard: dict[str, list[int]] = {}
        for i, (shard, _) in enumerate(located):
            by_shard.setdefault(shard, []).append(i)
        out = None
        for shard, positions in by_shard.items():
            array = np.load(self.path / f"{shard}.npy", mmap_mode="r")
            if out is None:
                out = np.empty((len(located), array.shape[1]), np.float32)
            out[positions] = array[[located[i][1] for i in positions]]
        return out if out is not None else np.empty((0, 0), np.float32)

    def write(self, keys: Sequence[str], features: np.ndarray, unusable: dict[str, str]) -> None:
        """Add one shard: ``features[i]`` belongs to ``keys[i]``."""
        if not len(keys) and not unusable:
            return
        name = uuid.uuid4().hex
        if len(keys):
            buffer = _npy_bytes(np.ascontiguousarray(features, dtype=np.float32))
            atomic_write_bytes(self.path / f"{name}.npy", buffer)
        meta = {"keys": list(keys), "unusable": unusable}
        atomic_write_bytes(self.path / f"{name}.json", json.dumps(meta).encode())


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def space_for(backbone, weights_id: str, precision: str, front_end=None, folder: Path | None = None) -> Space:
    """The space of this backbone state and preprocessing (created with its description)."""
    described = {
        **({"front_end": dataclasses.asdict(front_end)} if front_end is not None else {}),
        "backbone": backbone.name,
        "class": f"{type(backbone).__module__}.{type(backbone).__qualname__}",
        "weights_id": weights_id,
        "sample_rate": backbone.sample_rate,
        "clip_seconds": float(backbone.clip_seconds),
        "pad_mode": backbone.pad_mode,
        "precision": precision,
        "version": VERSION,
    }
    path = (folder or root()) / _safe(backbone.name) / _digest(described)[:16]
    if not (path / "space.json").exists():
        atomic_write_bytes(path / "space.json", json.dumps(described, indent=1).encode())
    return Space(path)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _version(space: Path) -> int | None:
    try:
        return json.loads((space / "space.json").read_text()).get("version")
    except (OSError, ValueError):
        return None


def info(folder: Path | None = None) -> list[dict]:
    """Per backbone: spaces (weight states x preprocessings), entries, bytes on disk, and the
    stale spaces written by another pipeline version (never read again: their key differs)."""
    folder = folder or root()
    rows = []
    for backbone in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "files") if folder.is_dir() else []:
        spaces = [s for s in backbone.iterdir() if s.is_dir()]
        entries = sum(len(Space(s).index()[0]) for s in spaces)
        size = sum(f.stat().st_size for f in backbone.rglob("*") if f.is_file())
        stale = sum(_version(s) != VERSION for s in spaces)
        rows.append({"backbone": backbone.name, "spaces": len(spaces), "entries": entries, "bytes": size, "stale": stale})
    return rows


def clear(backbone: str | None = None, folder: Path | None = None) -> int:
    """Remove one backbone's features, or everything (content hashes included); returns bytes freed."""
    folder = folder or root()
    target = folder / _safe(backbone) if backbone else folder
    if backbone and not target.is_dir():
        cached = ", ".join(row["backbone"] for row in info(folder)) or "nothing"
        raise ValueError(f"the cache holds no features of {backbone!r} (it holds: {cached})")
    if not target.exists():
        return 0
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    shutil.rmtree(target)
    return size
