"""Corpus -> waveforms -> audio features, cached, batched, with unusable files skipped with a reason.

Clips already in the embedding cache (:mod:`bench.features.cache`) are read back, never recomputed.
The others are decoded in worker processes (:mod:`bench.audio.decoding`) and stream through the
encoder batch by batch, on the GPU under autocast where that is safe (:mod:`bench.runtime.precision`)
from pinned memory, with the batch halved whenever it does not fit. Under ``torchrun`` each
process embeds its part of the misses and all processes end with every feature.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from bench.api import Backbone, FrontEnd, Utterance
from bench.audio import decoding, frontend
from bench.features import cache
from bench.runtime import distributed, precision
from bench.util import identity
from bench.util.progress import bar

SHARD_ROWS = 4096  # features written to the cache at least every this many rows
SHARD_SECONDS = 30.0  # ... and this often, so a killed run loses under a minute of embedding


@dataclass
class AudioFeatures:
    """Features of the usable utterances, row i belonging to ``uids[i]``."""

    uids: list[str]
    features: Tensor
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def rows(self, uids: Sequence[str]) -> list[int]:
        index = {uid: i for i, uid in enumerate(self.uids)}
        return [index[u] for u in uids if u in index]


def preprocessing(backbone: type[Backbone] | Backbone) -> FrontEnd:
    """The backbone's chosen front-end (a class: its official one): what the cache key and the
    decoding workers follow."""
    return backbone.front_ends()["official"] if isinstance(backbone, type) else backbone.front_end


def waveform(utt: Utterance, backbone: type[Backbone] | Backbone) -> np.ndarray:
    """One clip as the backbone's front-end prepares it, never randomly cropped.

    A training batch needs one length, so a front-end that keeps each clip's own length is
    cut or padded to ``clip_seconds`` here (embeddings keep the whole clip).
    """
    fixed = preprocessing(backbone).fitted(int(round(backbone.sample_rate * backbone.clip_seconds)))
    return frontend.prepare(utt.path, fixed, utt.offset, utt.duration)


class FittingEncoder:
    """Encoder calls in chunks of at most ``limit`` clips; CUDA out-of-memory halves the limit.

    Not accelerate's ``find_executable_batch_size``: that reruns a whole function from its top
    with a smaller batch, where here the limit found stays for every later call of the run, so
    one out-of-memory costs one chunk again, not the embedding pass.
    """

    def __init__(self, backbone: Backbone, limit: int) -> None:
        self.backbone, self.limit = backbone, limit
        self.device = next(backbone.parameters()).device
        self.dtype = precision.autocast_dtype(self.device)

    def __call__(self, waves: np.ndarray | list[np.ndarray]) -> np.ndarray:
        if isinstance(waves, list):  # clips of their own lengths (see bench.api.frontend): a batch per length
            rows: list[np.ndarray] = [np.empty(0)] * len(waves)
            by_length: dict[int, list[int]] = {}
            for i, wave in enumerate(waves):
                by_length.setdefault(len(wave), []).append(i)
            for indices in by_length.values():
                for i, row in zip(indices, self(np.stack([waves[i] for i in indices]))):
                    rows[i] = row
            return np.stack(rows)
        done, out = 0, []
        while done < len(waves):
            chunk = torch.from_numpy(waves[done : done + self.limit])
            try:
                out.append(self._encode(chunk))
            except torch.cuda.OutOfMemoryError:
                if self.limit == 1:
                    raise
                torch.cuda.empty_cache()
                self.limit //= 2
                continue
            done += len(chunk)
        return np.concatenate(out)

    def _encode(self, chunk: Tensor) -> np.ndarray:
        if self.device.type == "cuda":
            chunk = chunk.pin_memory()
        chunk = chunk.to(self.device, non_blocking=True)
        with precision.autocast(self.device, self.dtype):
            features = self.backbone.audio_features(chunk)
        return features.float().cpu().numpy()


@torch.no_grad()
def audio_features(
    backbone: Backbone,
    utterances: Sequence[Utterance],
    batch_size: int = 32,
    label: str = "embedding audio",
    *,
    use_cache: bool = True,
    workers: int | None = None,
) -> AudioFeatures:
    """Audio-encoder features (before the projection) of every usable utterance, in the order given.

    Features of the backbone's current weights come from the cache where it has them and go
    into it otherwise (``use_cache=False``: neither). ``workers``: decoding processes (0: in
    this process; default: measured, see :func:`_compute`).
    """
    utterances = list(utterances)
    was_training = backbone.training
    backbone.eval()
    encoder = FittingEncoder(backbone, batch_size)
    keys = [str(i) for i in range(len(utterances))]
    located: dict[str, tuple[str, int]] = {}
    unusable: dict[str, str] = {}
    space = None
    if use_cache:
        # the space is keyed by the encoder's weights, the code that computes features and the front-end
        state = f"{backbone.weights_id(skip_heads=True)}:{identity.feature_code(type(backbone))}"
        space = cache.space_for(backbone, state, precision.name(encoder.dtype), preprocessing(backbone))
        contents = cache.ContentHashes().of([u.path for u in utterances])
        keys = [cache.entry_key(c, u.offset, u.duration) for c, u in zip(contents, utterances)]
        located, unusable = space.index()
    missing = list({k: u for k, u in zip(keys, utterances) if k not in located and k not in unusable}.items())
    computed = _compute(encoder, space, distributed.part(missing), batch_size, label, workers)
    fresh: dict[str, np.ndarray] = {}
    for part_keys, part_rows, part_unusable in distributed.gather_objects(computed):
        fresh.update(zip(part_keys, part_rows))
        unusable.update(part_unusable)
    backbone.train(was_training)

    usable = [(u.uid, k) for u, k in zip(utterances, keys) if k in fresh or k in located]
    skipped = [(u.uid, unusable[k]) for u, k in zip(utterances, keys) if k in unusable]
    in_memory = [i for i, (_, k) in enumerate(usable) if k in fresh]
    on_disk = [i for i, (_, k) in enumerate(usable) if k not in fresh]
    stored = space.read([located[usable[i][1]] for i in on_disk]) if on_disk else None
    width = stored.shape[1] if stored is not None else next(iter(fresh.values())).shape[0] if fresh else 0
    features = np.empty((len(usable), width), np.float32)
    if in_memory:
        features[in_memory] = np.stack([fresh[usable[i][1]] for i in in_memory])
    if on_disk:
        features[on_disk] = stored
    return AudioFeatures([uid for uid, _ in usable], torch.from_numpy(features), skipped)


def _compute(
    encoder: FittingEncoder,
    space: cache.Space | None,
    missing: Sequence[tuple[str, Utterance]],
    batch_size: int,
    label: str,
    workers: int | None,
) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Decode and encode ``(key, utterance)`` pairs batch by batch.

    Unless ``workers`` or ``BENCH_DECODE_WORKERS`` fixes it, the first batch is decoded and
    encoded here, timed, and :func:`bench.audio.decoding.choose_workers` decides whether the rest
    is decoded in worker processes. That is all workers change: decoding gives the same samples
    in any process, while the encoder's thread count changes the last bits of its features
    (measured: 1.2e-7 between 1 and 2 threads), so the encoder keeps the configured threads
    whatever the workers.
    """
    workers = decoding.configured_workers() if workers is None else workers
    prep = preprocessing(encoder.backbone)
    batches = [missing[start : start + batch_size] for start in range(0, len(missing), batch_size)]
    shards = _Shards(space)
    with bar(label, len(missing)) as advance:

        def encode(batch: Sequence[tuple[str, Utterance]], waves: np.ndarray, reasons: list[str | None]) -> None:
            shards.add([key for key, _ in batch], reasons, encoder(waves) if len(waves) else None)
            advance(len(batch))

        if workers is None and batches:
            started = time.perf_counter()
            waves, reasons = decoding.decode_batch(_clips(batches[0]), prep)
            decoded = time.perf_counter()
            encode(batches[0], waves, reasons)
            workers = decoding.choose_workers(
                decoded - started, time.perf_counter() - decoded, len(batches) - 1, encoder.device.type == "cpu"
            )
            batches = batches[1:]
        for batch, (waves, reasons) in zip(batches, decoding.stream(map(_clips, batches), prep, workers)):
            encode(batch, waves, reasons)
    return shards.finish()


def _clips(batch: Sequence[tuple[str, Utterance]]) -> list[decoding.Clip]:
    return [decoding.Clip(str(u.path), u.offset, u.duration) for _, u in batch]


class _Shards:
    """Encoded rows collected batch by batch, written to the cache every ``SHARD_ROWS`` rows
    or ``SHARD_SECONDS`` seconds, whichever comes first (a killed run keeps what it wrote)."""

    def __init__(self, space: cache.Space | None) -> None:
        self.space = space
        self.flushed = time.monotonic()
        self.keys: list[str] = []
        self.chunks: list[np.ndarray] = []
        self.unusable: dict[str, str] = {}
        self.pending: tuple[list[str], list[np.ndarray], dict[str, str]] = ([], [], {})

    def add(self, keys: list[str], reasons: list[str | None], rows: np.ndarray | None) -> None:
        pending_keys, pending_rows, pending_unusable = self.pending
        pending_keys += [key for key, reason in zip(keys, reasons) if reason is None]
        pending_unusable.update({key: reason for key, reason in zip(keys, reasons) if reason is not None})
        if rows is not None:
            pending_rows.append(rows)
        if len(pending_keys) >= SHARD_ROWS or time.monotonic() - self.flushed >= SHARD_SECONDS:
            self.flush()

    def flush(self) -> None:
        keys, chunks, unusable = self.pending
        if keys or unusable:
            rows = np.concatenate(chunks) if chunks else np.empty((0, 0), np.float32)
            if self.space is not None:
                self.space.write(keys, rows, unusable)
            self.keys += keys
            self.chunks.append(rows)
            self.unusable.update(unusable)
        self.pending = ([], [], {})
        self.flushed = time.monotonic()

    def finish(self) -> tuple[list[str], np.ndarray, dict[str, str]]:
        self.flush()
        rows = np.concatenate([c for c in self.chunks if len(c)]) if self.keys else np.empty((0, 0), np.float32)
        return self.keys, rows, self.unusable
