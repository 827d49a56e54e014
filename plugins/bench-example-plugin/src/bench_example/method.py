"""An example method: the class whose mean training embedding is nearest (a prototype classifier)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from bench.api import FoldInput, Method, Predictor


class NearestClassMean(Method):
    name = "nearest-class-mean"
    summary = "nearest mean joint-space embedding of each class's training clips"

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        uids, train = data.embeddings([u.uid for u in data.train])
        if not uids:
            return
        labels = data.labels(uids).to(train.device)
        means = torch.stack([train[labels == c].mean(0) for c in range(len(data.classes))])
        yield Predictor(self.name, lambda _, emb: torch.cdist(emb, means).argmin(dim=1))
