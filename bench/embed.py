"""Corpus -> waveforms -> audio features, cached, batched, with unusable files skipped with a reason.

Clips already in the embedding cache (:mod:`bench.cache`) are read back, never recomputed.
The others are decoded in worker processes (:mod:`bench.decoding`) and stream through the
encoder batch by batch, on the GPU under autocast where that is safe (:mod:`bench.precision`)
from pinned memory, with the batch halved whenever it does not fit. Under ``torchrun`` each
process embeds its part of the misses and all processes end with every feature.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from bench import audio, cache, decoding, distributed, precision
from bench.contracts import Backbone, Utterance
from bench.progress import bar

SHARD_ROWS = 4096  # features written to the cache at least this often (a killed run keeps them)


@dataclass
class AudioFeatures:
    """Features of the usable utterances, row i belonging to ``uids[i]``."""

    uids: list[str]
    features: Tensor
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def rows(self, uids: Sequence[str]) -> list[int]:
        index = {uid: i for i, uid in enumerate(self.uids)}
        return [index[u] for u in uids if u in index]


def preprocessing(backbone: type[Backbone] | Backbone) -> decoding.Preprocessing:
    n_samples = int(round(backbone.sample_rate * backbone.clip_seconds))
    return decoding.Preprocessing(backbone.sample_rate, n_samples, backbone.pad_mode)


def waveform(utt: Utterance, backbone: type[Backbone] | Backbone) -> np.ndarray:
    """One clip as the backbone expects it: mono, its rate, its length, never randomly cropped."""
    prep = preprocessing(backbone)
    wave = audio.load(utt.path, prep.sample_rate, utt.offset, utt.duration)
    return audio.fit_length(wave, prep.n_samples, prep.pad_mode)


class FittingEncoder:
    """Encoder calls in chunks of at most ``limit`` clips; CUDA out-of-memory halves the limit."""

    def __init__(self, backbone: Backbone, limit: int) -> None:
        self.backbone, self.limit = backbone, limit
        self.device = next(backbone.parameters()).device
        self.dtype = precision.autocast_dtype(self.device)

    def __call__(self, waves: np.ndarray) -> np.ndarray:
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


def _batches(utterances: Sequence[Utterance], size: int) -> Iterator[list[decoding.Clip]]:
    for start in range(0, len(utterances), size):
        yield [decoding.Clip(str(u.path), u.offset, u.duration) for u in utterances[start : start + size]]


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
    into it otherwise (``use_cache=False``: neither). ``workers``: decoding processes (default
    :func:`bench.decoding.default_workers`; 0 decodes in this process, as do misses that fit
    in one batch).
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
        space = cache.space_for(backbone, backbone.weights_id(skip_heads=True), precision.name(encoder.dtype))
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
    encoder: FittingEncoder, space: cache.Space | None, missing: Sequence[tuple[str, Utterance]],
    batch_size: int, label: str, workers: int | None,
) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Decode and encode ``(key, utterance)`` pairs, the cores split between decoding and encoding."""
    workers = decoding.default_workers() if workers is None else workers
    if len(missing) <= batch_size:
        workers = 0  # starting processes costs more than decoding one batch here
    threads = torch.get_num_threads()
    if encoder.device.type == "cpu" and workers:
        torch.set_num_threads(min(threads, decoding.encoder_threads(workers)))
    try:
        return _encode_all(encoder, space, missing, batch_size, label, workers)
    finally:
        torch.set_num_threads(threads)


def _encode_all(
    encoder: FittingEncoder, space: cache.Space | None, missing: Sequence[tuple[str, Utterance]],
    batch_size: int, label: str, workers: int,
) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """The encoder loop: one decoded batch in, one encoder call, a cache shard every SHARD_ROWS rows."""
    keys, chunks, unusable = [], [], {}
    shard_keys, shard_chunks, shard_unusable = [], [], {}
    decoded = decoding.stream(_batches([u for _, u in missing], batch_size), preprocessing(encoder.backbone), workers)
    with bar(label, len(missing)) as advance:
        for start, (waves, reasons) in zip(range(0, len(missing), batch_size), decoded):
            batch_keys = [k for k, _ in missing[start : start + batch_size]]
            shard_keys += [k for k, reason in zip(batch_keys, reasons) if reason is None]
            shard_unusable.update({k: reason for k, reason in zip(batch_keys, reasons) if reason is not None})
            if len(waves):
                shard_chunks.append(encoder(waves))
            if len(shard_keys) >= SHARD_ROWS or start + batch_size >= len(missing):
                rows = np.concatenate(shard_chunks) if shard_chunks else np.empty((0, 0), np.float32)
                if space is not None:
                    space.write(shard_keys, rows, shard_unusable)
                keys += shard_keys
                chunks.append(rows)
                unusable.update(shard_unusable)
                shard_keys, shard_chunks, shard_unusable = [], [], {}
            advance(len(batch_keys))
    rows = np.concatenate([c for c in chunks if len(c)]) if keys else np.empty((0, 0), np.float32)
    return keys, rows, unusable
