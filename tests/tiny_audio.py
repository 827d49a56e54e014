"""A tiny backbone and a few audio files: cache, pipeline and DDP tests in milliseconds."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import Tensor, nn

from bench.api import Backbone, Utterance

FRAMES = 64


class TinyAudio(Backbone):
    """Frame energies -> linear encoder; counts the clips its encoder sees."""

    name = "tiny-audio"
    sample_rate = 8000
    clip_seconds = 0.512  # 4096 samples, 64 frames of 64
    embed_dim = 4
    pad_mode = "zero"

    def __init__(self, train_encoder: bool = False) -> None:
        super().__init__()
        self.train_encoder = train_encoder
        self.encoder = nn.Linear(FRAMES, 6)
        self.audio_head = nn.Linear(6, self.embed_dim)
        self.text_head = nn.Linear(3, self.embed_dim)
        self.clips_encoded = 0

    def audio_features(self, waveforms: Tensor) -> Tensor:
        self.clips_encoded += len(waveforms)
        energies = waveforms.reshape(len(waveforms), FRAMES, -1).pow(2).mean(-1)
        return torch.tanh(self.encoder(energies))

    def project_audio(self, features: Tensor) -> Tensor:
        return self.audio_head(features)

    def text_features(self, texts: Sequence[str]) -> Tensor:
        seeds = [zlib.crc32(t.encode()) for t in texts]
        return torch.stack([torch.randn(3, generator=torch.Generator().manual_seed(s)) for s in seeds])

    def project_text(self, features: Tensor) -> Tensor:
        return self.text_head(features)

    @property
    def context_width(self) -> int:
        return 3

    def prompt_features(self, context: Tensor, texts: Sequence[str]) -> Tensor:
        return self.text_features(texts)[None] + context.mean(1)[:, None]

    def parameter_groups(self):
        encoder = list(self.encoder.parameters()) if self.train_encoder else []
        return {"audio_encoder": encoder, "heads": [*self.audio_head.parameters(), *self.text_head.parameters()]}


def tiny(seed: int = 0, **options) -> TinyAudio:
    torch.manual_seed(seed)
    return TinyAudio(**options).eval()


def write_clips(folder: Path, n: int) -> list[Utterance]:
    """``n`` noise clips at assorted rates, lengths and channel counts (so resampling and
    down-mixing run), as utterances."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rates = (8000, 16000, 22050, 44100)
    utterances = []
    for i in range(n):
        rate = rates[i % len(rates)]
        channels = 1 + i % 2
        samples = (rng.standard_normal((int(rate * (0.3 + 0.1 * (i % 4))), channels)) * 0.1).astype(np.float32)
        path = folder / f"clip{i:03d}.wav"
        sf.write(path, samples, rate)
        utterances.append(Utterance(f"u{i:03d}", path, "neutral"))
    return utterances
