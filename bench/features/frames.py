"""Frame-level audio features for methods that read a sequence (SELM), from backbones that give them.

Each clip goes through the backbone's front-end at its fixed clip length
(:func:`bench.features.embed.waveform`), then :meth:`Backbone.audio_frames`; the frames are averaged
into ``SEGMENTS`` equal stretches of the clip (for a 5 s clip, 0.2 s each), so every clip
gives one ``[SEGMENTS, F]`` matrix. With a frozen encoder they are computed once per built
backbone and kept for every fold and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from bench.api import Features
from bench.features.embed import waveform
from bench.util.progress import bar

if TYPE_CHECKING:
    from bench.protocol.units import Model

SEGMENTS = 25
BATCH = 16


def source(model: Model) -> Features | None:
    """``frames(uids)`` for this model's backbone, or None where it gives no frames."""
    backbone, embedder = model.backbone, model.embedder
    if not backbone.has_frames():
        return None
    kept: dict[str, Tensor] = model.kept.setdefault("frames", {}) if embedder.frozen else {}

    @torch.no_grad()
    def frames(uids: Sequence[str]) -> tuple[list[str], Tensor]:
        missing = [u for u in dict.fromkeys(uids) if u not in kept]
        device = next(backbone.parameters()).device
        was_training = backbone.training
        backbone.eval()
        with bar("frame features", len(missing)) as advance:
            for start in range(0, len(missing), BATCH):
                batch = missing[start : start + BATCH]
                waves = np.stack([waveform(embedder.by_uid[u], backbone) for u in batch])
                out = backbone.audio_frames(torch.from_numpy(waves).to(device)).float()
                pooled = F.adaptive_avg_pool1d(out.transpose(1, 2), SEGMENTS).transpose(1, 2).cpu()
                kept.update(zip(batch, pooled))
                advance(len(batch))
        backbone.train(was_training)
        return list(uids), torch.stack([kept[u] for u in uids]) if uids else torch.empty(0, SEGMENTS, 0)

    return frames
