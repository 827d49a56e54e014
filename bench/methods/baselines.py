"""The baseline methods: zero-shot (nearest caption), a linear probe on the joint space, and
the frozen-feature probe on the encoder's own embedding that EmoBox and reviewers use."""

from __future__ import annotations

from collections.abc import Iterator

from bench.api import FoldInput, Method, Predictor
from bench.methods.clep_dg import joint_text
from bench.methods.probes import fit_encoder_probe, grouped_by_speaker, linear_probe, nearest_prototype


class ZeroShot(Method):
    name = "zero-shot"
    summary = "nearest class caption in the joint space (no training)"

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        _, caps = joint_text(data)
        yield Predictor("zero-shot", lambda _, emb: nearest_prototype(emb, caps))


class LinearProbe(Method):
    name = "linear-probe"
    summary = "logistic regression on the joint-space audio embeddings of the training part"

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        train_ids, train_emb = data.embeddings([u.uid for u in data.train])
        if train_ids:
            labels = data.labels(train_ids).to(train_emb.device)
            n_classes, seed = len(data.classes), data.seed
            yield Predictor("linear-probe", lambda _, emb: linear_probe(train_emb, labels, emb, n_classes, seed))


class EncoderProbe(Method):
    name = "encoder-probe"
    summary = "EmoBox's probe: cross-validated logistic regression on the encoder's own features"

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
        # a frozen encoder's features and grouped inner folds: the same probe for every seed of the fold
        shared = data.encoder_frozen and grouped_by_speaker(train_utts, data.test_speakers)
        key = ("encoder-probe", data.fold)
        if not shared or key not in data.kept:
            with data.timed("probe"):  # fitted once, applied to the clean and every conditioned test set
                fitted = fit_encoder_probe(train_feats, train_utts, data.test_speakers, data.classes, data.seed)
            if shared:
                data.kept[key] = fitted
        probe = data.kept[key] if shared else fitted
        extra = {"shared": "per fold"} if shared else {}
        yield Predictor("encoder-probe", lambda ids, _: probe(data.features(ids)[1]), extra=extra)
