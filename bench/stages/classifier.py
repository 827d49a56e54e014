"""Stage 3, the cross-modal classifier: a linear classifier trained on text-derived,
L2-normalised embeddings only, then applied to audio embeddings (cross-modal transfer).

Loss: ArcFace (normalised weights, additive angular margin; the paper's choice) or plain
softmax cross-entropy. SGD, lr 2e-3, momentum 0.9, batch 16, 50 epochs, as in the paper:
a few hundred tiny steps, run on one CPU thread (:mod:`bench.stages.threads`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.losses import arcface_logits
from bench.stages.threads import one_thread

LOSSES = ("arcface", "softmax")


@dataclass
class ClassifierSettings:
    loss: str = "arcface"
    epochs: int = 50
    batch_size: int = 16
    lr: float = 2e-3
    momentum: float = 0.9
    arcface_scale: float = 30.0
    arcface_margin: float = 0.5

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"classifier.loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")


class LinearClassifier(nn.Module):
    def __init__(self, dim: int, n_classes: int, settings: ClassifierSettings) -> None:
        super().__init__()
        self.settings = settings
        self.weight = nn.Parameter(torch.randn(n_classes, dim) * 0.01)
        self.bias = nn.Parameter(torch.zeros(n_classes)) if settings.loss == "softmax" else None

    def forward(self, features: Tensor, labels: Tensor | None = None) -> Tensor:
        features = F.normalize(features, dim=-1)
        if self.bias is not None:
            return features @ self.weight.T + self.bias
        return arcface_logits(
            features, self.weight, labels, self.settings.arcface_scale, self.settings.arcface_margin
        )


def train_classifier(
    features: Tensor, labels: Tensor, n_classes: int, settings: ClassifierSettings, seed: int
) -> LinearClassifier:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = LinearClassifier(features.shape[1], n_classes, settings).to(features.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum, foreach=True)
    with one_thread(features.device):
        for _ in range(settings.epochs):
            order = torch.randperm(len(labels), generator=generator).to(features.device)
            for idx in order.split(settings.batch_size):
                loss = F.cross_entropy(model(features[idx], labels[idx]), labels[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return model.eval()
