"""Corpus -> waveforms -> audio features, batched, with unusable files skipped with a reason.

Waveforms are decoded by :mod:`bench.audio` in a small thread pool (libsndfile, FFmpeg and
soxr release the GIL), fitted to the backbone's clip length, and encoded in batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from bench import audio
from bench.contracts import Backbone, Utterance
from bench.progress import bar


@dataclass
class AudioFeatures:
    """Features of the usable utterances, row i belonging to ``uids[i]``."""

    uids: list[str]
    features: Tensor
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def rows(self, uids: Sequence[str]) -> list[int]:
        index = {uid: i for i, uid in enumerate(self.uids)}
        return [index[u] for u in uids if u in index]


def waveform(utt: Utterance, backbone: type[Backbone] | Backbone) -> np.ndarray:
    """One clip as the backbone expects it: mono, its rate, its length, never randomly cropped."""
    wave = audio.load(utt.path, backbone.sample_rate, utt.offset, utt.duration)
    return audio.fit_length(wave, int(round(backbone.sample_rate * backbone.clip_seconds)), backbone.pad_mode)


def waveforms(utterances: Sequence[Utterance], backbone: Backbone, pool: ThreadPoolExecutor) -> tuple[list, list]:
    """Decode a batch; returns (kept (uid, wave) pairs, skipped (uid, reason) pairs)."""

    def one(utt: Utterance):
        try:
            return utt.uid, waveform(utt, backbone), None
        except audio.AudioError as err:
            return utt.uid, None, f"{utt.path.name}: {err}"

    kept, skipped = [], []
    for uid, wave, reason in pool.map(one, utterances):
        (skipped.append((uid, reason)) if reason else kept.append((uid, wave)))
    return kept, skipped


@torch.no_grad()
def audio_features(
    backbone: Backbone, utterances: Sequence[Utterance], batch_size: int = 32, label: str = "embedding audio"
) -> AudioFeatures:
    """Frozen-encoder features of every usable utterance, in the order given."""
    device = next(backbone.parameters()).device
    was_training = backbone.training
    backbone.eval()
    uids, chunks, skipped = [], [], []
    with ThreadPoolExecutor(max_workers=2) as pool, bar(label, len(utterances)) as advance:
        for start in range(0, len(utterances), batch_size):
            batch = utterances[start : start + batch_size]
            kept, bad = waveforms(batch, backbone, pool)
            skipped += bad
            if kept:
                waves = torch.from_numpy(np.stack([w for _, w in kept])).to(device)
                chunks.append(backbone.audio_features(waves).float().cpu())
                uids += [uid for uid, _ in kept]
            advance(len(batch))
    backbone.train(was_training)
    features = torch.cat(chunks) if chunks else torch.empty(0)
    return AudioFeatures(uids, features, skipped)
