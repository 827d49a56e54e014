"""An example method: the class whose mean training embedding is nearest (a prototype classifier)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict

from bench.api import FoldInput, Method, Predictor


class NearestClassMeanSettings(BaseModel):
    """Set as ``--set nearest-class-mean.distance=cosine``; checked before any work."""

    model_config = ConfigDict(extra="forbid")

    distance: Literal["euclidean", "cosine"] = "euclidean"


class NearestClassMean(Method):
    name = "nearest-class-mean"
    summary = "nearest mean joint-space embedding of each class's training clips"
    api_version = "2.0"  # the bench.api it was written against
    settings_model = NearestClassMeanSettings

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        uids, train = data.embeddings([u.uid for u in data.train])
        if not uids:
            return
        labels = data.labels(uids).to(train.device)
        means = torch.stack([train[labels == c].mean(0) for c in range(len(data.classes))])
        if self.own_settings(data.settings).distance == "cosine":
            yield Predictor(
                self.name, lambda _, emb: (F.normalize(emb, dim=-1) @ F.normalize(means, dim=-1).T).argmax(1)
            )
        else:
            yield Predictor(self.name, lambda _, emb: torch.cdist(emb, means).argmin(dim=1))
