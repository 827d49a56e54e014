"""The baseline methods: zero-shot (nearest caption), the nearest centroid of the soundscape
descriptions (what CLEP-DG's texts give with no training), a linear probe on the joint space,
and the frozen-feature probe on the encoder's own embedding that EmoBox and reviewers use."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from bench.api import FoldInput, Method, Predictor
from bench.methods.clep_dg import joint_text
from bench.methods.probes import (
    EncoderProbeSettings,
    check_selection,
    fit_encoder_probe,
    held_out_corpus,
    inner_folds,
    linear_probe,
    nearest_prototype,
)


class ZeroShot(Method):
    name = "zero-shot"
    summary = "nearest class caption in the joint space (no training)"

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        _, caps = joint_text(data)
        yield Predictor(self.name, lambda _, emb: nearest_prototype(emb, caps), label="zero shot")


class DescriptionCentroid(Method):
    name = "description-centroid"
    summary = "nearest class centroid of the soundscape descriptions in the joint space (no training)"

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        desc, _ = joint_text(data)
        labels = data.text["labels"].to(desc.device)
        centroids = torch.stack([desc[labels == c].mean(0) for c in range(len(data.classes))])
        yield Predictor(
            self.name, lambda _, emb: nearest_prototype(emb, centroids), label="nearest description centroid"
        )


class LinearProbe(Method):
    name = "linear-probe"
    summary = "logistic regression on the joint-space audio embeddings of the training part"

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        train_ids, train_emb = data.embeddings([u.uid for u in data.train])
        if train_ids:
            labels = data.labels(train_ids).to(train_emb.device)
            n_classes, seed = len(data.classes), data.seed
            yield Predictor(
                self.name,
                lambda _, emb: linear_probe(train_emb, labels, emb, n_classes, seed),
                label="linear probe (joint space)",
            )


class EncoderProbe(Method):
    name = "encoder-probe"
    summary = "EmoBox's probe: cross-validated logistic regression on the encoder's own features"
    settings_model = EncoderProbeSettings

    def prepare(self, config) -> None:
        check_selection(self.own_settings(config).selection, config.dataset, config.protocol)

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        config = data.settings
        initial_state_runs = not config.finetune or config.ablation
        if data.finetuned and data.encoder_frozen and initial_state_runs:
            return  # a frozen encoder's probe is the initial one
        train_ids, train_feats = data.features([u.uid for u in data.train])
        if not train_ids:
            return
        by_uid = {u.uid: u for u in data.train}
        train_utts = [by_uid[u] for u in train_ids]
        selection = self.own_settings(config).selection
        held_out = held_out_corpus(data.fold, train_utts)
        inner = inner_folds(train_utts, data.test_speakers, held_out, selection)
        # a frozen encoder's features and inner folds that do not shuffle: the same probe for every seed of the fold
        shared = data.encoder_frozen and not inner.seeded
        key = ("encoder-probe", data.fold, inner.kind, inner.n_splits)
        if not shared or key not in data.kept:
            with data.timed("probe"):  # fitted once, applied to the clean and every conditioned test set
                fitted = fit_encoder_probe(train_feats, train_utts, inner, data.classes, data.seed)
            if shared:
                data.kept[key] = fitted
        probe = data.kept[key] if shared else fitted
        extra = {
            "selection": inner.describe(),
            "C": float(f"{probe.C:.3g}"),
            **({"shared": "per fold"} if shared else {}),
        }
        yield Predictor(
            self.name, lambda ids, _: probe(data.features(ids)[1]), label="linear probe (encoder features)", extra=extra
        )
