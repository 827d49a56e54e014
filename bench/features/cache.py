"""On-disk cache of audio features, so no run, sweep trial or table rebuild embeds a clip twice.

A *space* holds the features one model produces: it is keyed by the backbone (name, class,
``weights_id(skip_heads=True)``: every weight but the projection heads, which features precede) and the preprocessing (sample rate, clip length,
pad mode, autocast precision, this pipeline's version). An *entry* in it is keyed by the
file's content (sha256) and the segment (offset, duration); content hashes are computed once
and found again by (path, size, mtime) afterwards. Any change of weights, preprocessing or
file content therefore misses. Layout under ``cache_dir()/embeddings``::

    <backbone>/<space>/space.json     what produced the space (for `bench cache info`)
    <backbone>/<space>/<shard>.npy    float32 [rows, features], memory-mapped on read
    <backbone>/<space>/<shard>.json   the entry key of every row, unusable entries, checksums
    files/<memo>.json                 content hashes by path, size and mtime

Every file is written under a temporary name (``.*.tmp``, never read) and renamed into place,
and a shard counts only once its ``.json`` exists, which is written after its ``.npy``: a
killed process leaves no half entry. The ``.json`` holds the sha256 of the ``.npy`` and of
itself, so a shard damaged later (flipped bytes, truncated, emptied, lost) is reported once,
naming the file, and removed: its clips are computed again, never read wrong. Writers never
lock (each writes shards under a fresh name), so DDP ranks and sweep workers can share one
cache, also on a network file system.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.runtime.environment import environment
from bench.util import fileio

VERSION = 2  # bump when decoding, resampling or fitting changes what a clip's waveform is, or the shard format
MEMO_FILES_BEFORE_MERGE = 32
log = logging.getLogger(__name__)
_VERIFIED: set[tuple[str, int, int]] = set()  # (.npy path, size, mtime) whose checksum matched in this process


def cache_dir() -> Path:
    """Platform cache directory for bench (``BENCH_CACHE_DIR``, or ``cache_dir`` in the config file, overrides it)."""
    path = environment().cache_dir
    chosen = path is not None
    if path is None:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("bench"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        fix = (
            "point BENCH_CACHE_DIR (or cache_dir in the config file) to a folder you can write"
            if chosen
            else "set BENCH_CACHE_DIR (or cache_dir in bench.toml) to a folder you can write"
        )
        raise fileio.WriteError(f"cannot make the cache folder {path} ({err.strerror or err}); {fix}") from err
    return path


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
        fileio.atomic_write(self.folder / f"{uuid.uuid4().hex}.json", json.dumps(entries).encode())

    def of(self, paths: Sequence[Path]) -> list[str]:
        """Content hashes of ``paths``; a file that cannot be read (:func:`bench.util.fileio.unreadable`)
        hashes to a key of its own, which decoding then skips with the same reason."""
        hashes, fresh = [], {}
        for path in paths:
            name = os.path.realpath(path)
            reason = fileio.unreadable(path)
            if reason is not None:
                hashes.append(f"unreadable:{name}:{reason}")
                continue
            stat = os.stat(name)
            known = self.known.get(name)
            if known and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
                hashes.append(known[2])
                continue
            try:
                entry = [stat.st_size, stat.st_mtime_ns, fileio.sha256(name)]
            except OSError as err:  # became unreadable while being read
                hashes.append(f"unreadable:{name}:unreadable: {err.strerror}")
                continue
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
        """``(key -> (shard, row), key -> reason unusable)`` over every sound shard; damaged
        shards are reported (once, naming the file) and removed, so their clips are recomputed."""
        rows, unusable, damaged = self.scan()
        for meta, reason in damaged:
            log.warning(
                "cache shard %s is damaged (%s): removed, its clips are computed again",
                meta.with_suffix(".npy"),
                reason,
            )
            meta.unlink(missing_ok=True)
            meta.with_suffix(".npy").unlink(missing_ok=True)
        return rows, unusable

    def scan(self) -> tuple[dict[str, tuple[str, int]], dict[str, str], list[tuple[Path, str]]]:
        """What :meth:`index` returns, plus every damaged shard (its ``.json``) and why, touching nothing."""
        rows, unusable, damaged = {}, {}, []
        for meta in sorted(self.path.glob("*.json")) if self.path.is_dir() else []:
            if meta.name == "space.json":
                continue
            shard, reason = _verified(meta)
            if shard is None:
                damaged.append((meta, reason))
                continue
            rows.update({key: (meta.stem, i) for i, key in enumerate(shard["keys"])})
            unusable.update(shard["unusable"])
        return rows, unusable, damaged

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
        meta = {"keys": list(keys), "unusable": unusable, "npy": None}
        if len(keys):
            buffer = _npy_bytes(np.ascontiguousarray(features, dtype=np.float32))
            fileio.atomic_write(self.path / f"{name}.npy", buffer)
            meta["npy"] = {"bytes": len(buffer), "sha256": hashlib.sha256(buffer).hexdigest()}
        meta["sha256"] = _meta_sha256(meta)
        fileio.atomic_write(self.path / f"{name}.json", json.dumps(meta).encode())


def _meta_sha256(meta: dict) -> str:
    return hashlib.sha256(
        json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True).encode()
    ).hexdigest()


def _verified(meta: Path) -> tuple[dict | None, str]:
    """A shard's index when it and its ``.npy`` match their checksums, else None and what is wrong."""
    try:
        shard = json.loads(meta.read_bytes())
    except (OSError, ValueError) as err:
        return None, f"unreadable index {meta.name}: {err}"
    if not isinstance(shard, dict) or shard.get("sha256") != _meta_sha256(shard):
        return None, f"index {meta.name} does not match its checksum"
    if shard["npy"] is None:
        return shard, ""
    npy = meta.with_suffix(".npy")
    try:
        stat = npy.stat()
    except OSError as err:
        return None, f"{npy.name} is missing ({err.strerror})"
    if stat.st_size != shard["npy"]["bytes"]:
        return None, f"{npy.name} holds {stat.st_size} bytes, not {shard['npy']['bytes']}"
    seen = (str(npy), stat.st_size, stat.st_mtime_ns)
    if seen not in _VERIFIED:
        if fileio.sha256(npy) != shard["npy"]["sha256"]:
            return None, f"{npy.name} does not match its checksum"
        _VERIFIED.add(seen)
    return shard, ""


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
        fileio.atomic_write(path / "space.json", json.dumps(described, indent=1).encode())
    return Space(path)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _version(space: Path) -> int | None:
    try:
        return json.loads((space / "space.json").read_text()).get("version")
    except (OSError, ValueError):
        return None


def info(folder: Path | None = None) -> list[dict]:
    """Per backbone: spaces (weight states x preprocessings), entries, bytes on disk, the
    stale spaces written by another pipeline version (never read again: their key differs),
    and the damaged shards (``(file, reason)``: removed and recomputed by the next run)."""
    folder = folder or root()
    rows = []
    for backbone in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "files") if folder.is_dir() else []:
        spaces = [s for s in backbone.iterdir() if s.is_dir()]
        scans = [Space(s).scan() for s in spaces]
        damaged = [(str(meta.with_suffix(".npy")), reason) for _, _, bad in scans for meta, reason in bad]
        rows.append(
            {
                "backbone": backbone.name,
                "spaces": len(spaces),
                "entries": sum(len(r) for r, _, _ in scans),
                "bytes": size_of(backbone),
                "stale": sum(_version(s) != VERSION for s in spaces),
                "damaged": damaged,
            }
        )
    return rows


def size_of(folder: Path) -> int:
    """Bytes of the files under ``folder`` (a file removed meanwhile counts nothing)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:
            continue
    return total


def clear(backbone: str | None = None, folder: Path | None = None) -> int:
    """Remove one backbone's features, or everything (content hashes included); returns bytes freed."""
    folder = folder or root()
    target = folder / _safe(backbone) if backbone else folder
    if backbone and not target.is_dir():
        cached = ", ".join(row["backbone"] for row in info(folder)) or "nothing"
        raise ValueError(f"the cache holds no features of {backbone!r} (it holds: {cached})")
    if not target.exists():
        return 0
    return remove(target)


def remove(folder: Path) -> int:
    """Delete ``folder`` and everything under it; returns the bytes freed."""
    size = size_of(folder)
    shutil.rmtree(folder)
    return size
