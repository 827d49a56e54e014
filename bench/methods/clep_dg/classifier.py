"""Stage 3, the cross-modal classifier: a linear classifier trained on text-derived,
L2-normalised embeddings only, then applied to audio embeddings (cross-modal transfer).

Loss: ArcFace (normalised weights, additive angular margin; the paper's choice) or plain
softmax cross-entropy. SGD, lr 2e-3, momentum 0.9, batch 16, 50 epochs, as in the paper:
a few hundred tiny steps, run on one CPU thread (:mod:`bench.runtime.threads`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.config.settings import ClassifierSettings
from bench.runtime.threads import one_thread
from bench.training.losses import arcface_logits


class LinearClassifier(nn.Module):
    def __init__(self, dim: int, n_classes: int, settings: ClassifierSettings) -> None:
        super().__init__()
        self.settings = settings
        self.weight = nn.Parameter(torch.randn(n_classes, dim) * 0.01)
        self.bias = nn.Parameter(torch.zeros(n_classes)) if settings.loss == "softmax" else None

    def forward(self, features: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.logits(F.normalize(features, dim=-1), labels)

    def logits(self, normalized: Tensor, labels: Tensor | None = None) -> Tensor:
        """The logits of rows already L2-normalised: training normalises its fixed rows once."""
        if self.bias is not None:
            return normalized @ self.weight.T + self.bias
        return arcface_logits(
            normalized, self.weight, labels, self.settings.arcface_scale, self.settings.arcface_margin
        )


def train_classifier(
    features: Tensor, labels: Tensor, n_classes: int, settings: ClassifierSettings, seed: int
) -> LinearClassifier:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = LinearClassifier(features.shape[1], n_classes, settings).to(features.device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=settings.lr, momentum=settings.momentum, fused=features.device.type in ("cpu", "cuda")
    )  # one kernel per update
    normalized = F.normalize(features, dim=-1)  # the same at every step: once
    with one_thread(features.device):
        for _ in range(settings.epochs):
            order = torch.randperm(len(labels), generator=generator).to(features.device)
            shuffled = zip(normalized[order].split(settings.batch_size), labels[order].split(settings.batch_size))
            for rows, targets in shuffled:  # views of one gather per epoch, not a gather per step
                loss = F.cross_entropy(model.logits(rows, targets), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return model.eval()
