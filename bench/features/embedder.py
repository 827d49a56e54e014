"""The features the stages share: audio embeddings of the current weights and frozen text features."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from bench.api import Backbone, Utterance
from bench.features.embed import AudioFeatures, audio_features, waveform


class Embedder:
    """Audio embeddings for the current weights; frozen-encoder features are computed once,
    on first use (a resumed run whose units are all done embeds nothing)."""

    def __init__(self, backbone: Backbone, utterances: Sequence[Utterance], frozen: bool) -> None:
        self.backbone, self.frozen = backbone, frozen
        self.by_uid = {u.uid: u for u in utterances}
        self._cached: AudioFeatures | None = None

    def prepare(self) -> None:
        """Embed every clip now when the encoder is frozen (once; later calls do nothing)."""
        if self.frozen and self._cached is None:
            self._cached = audio_features(self.backbone, list(self.by_uid.values()))

    @property
    def cached(self) -> AudioFeatures | None:
        self.prepare()
        return self._cached

    def features(self, uids: Sequence[str]) -> tuple[list[str], Tensor]:
        """Features of the usable clips among ``uids`` (skipped files drop out)."""
        if self.cached is None:
            fresh = audio_features(self.backbone, [self.by_uid[u] for u in uids])
            return fresh.uids, fresh.features
        rows = self.cached.rows(uids)
        return [self.cached.uids[r] for r in rows], self.cached.features[rows]

    def embeddings(self, uids: Sequence[str]) -> tuple[list[str], Tensor]:
        kept, feats = self.features(uids)
        device = next(self.backbone.parameters()).device
        with torch.no_grad():
            return kept, F.normalize(self.backbone.project_audio(feats.to(device)), dim=-1)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return self._cached.skipped if self._cached else []

    def add(self, utterances: Sequence[Utterance]) -> list[str]:
        """Clips rendered under a condition: embedded now when the encoder is frozen; their uids."""
        fresh = [u for u in utterances if u.uid not in self.by_uid]
        self.by_uid.update({u.uid: u for u in fresh})
        if fresh and self._cached is not None:
            more = audio_features(self.backbone, fresh, label="embedding conditions")
            self._cached = AudioFeatures(
                self._cached.uids + more.uids,
                torch.cat([self._cached.features, more.features]),
                self._cached.skipped + more.skipped,
            )
        return [u.uid for u in utterances]


def encode_clips(backbone: Backbone, clips: Sequence[Utterance]) -> Tensor:
    device = next(backbone.parameters()).device
    waves = torch.from_numpy(np.stack([waveform(u, backbone) for u in clips])).to(device)
    return backbone.encode_audio(waves)
