"""The result rows of one weight state: ACPT off/on x classifier, plus the baselines."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from bench import conditions, prompts
from bench.contracts import DataError, Fold
from bench.corpus import Corpus
from bench.metrics import scores
from bench.progress import bar
from bench.settings import RunConfig
from bench.stages.acpt import prompt_embeddings, train_contexts
from bench.stages.classifier import train_classifier
from bench.stages.evaluate import fit_encoder_probe, linear_probe, nearest_prototype

if TYPE_CHECKING:
    from bench.units import Model


def evaluate_state(model: Model, config: RunConfig, corpus: Corpus, fold: Fold, seed: int, tuned: bool) -> list[dict]:
    """Every row that shares this weight state: ACPT off/on x classifier, plus baselines.

    ACPT and the classifier are text-only, so on the initial (not fine-tuned) weights their
    results are the same for every fold: they are trained once per seed, kept in
    ``model.untuned_contexts`` and ``model.untuned_classifiers``, and their rows say
    ``"shared": "per seed"``.
    """
    backbone, embedder, text, untuned_contexts = model.backbone, model.embedder, model.text, model.untuned_contexts
    by_uid = {u.uid: u for u in corpus.utterances}
    conditioned = {}
    if config.test_conditions:
        with model.timed("conditions"):
            tested = [by_uid[u] for u in fold.test]
            rendered = conditions.for_fold(config.test_conditions, tested, corpus.utterances, fold.test)
            conditioned = {name: embedder.add(utts) for name, utts in rendered.items()}
    test_sets = {}  # clean, then each condition: (uids, embeddings, labels)
    for condition, uids in {"clean": fold.test, **conditioned}.items():
        test_ids, test_emb = embedder.embeddings(uids)
        if not test_ids:
            raise DataError(f"fold {fold.name}: none of its {len(uids)} test clips is usable ({condition}); see the skipped files")
        test_sets[condition] = (test_ids, test_emb, corpus.label_index([embedder.by_uid[u] for u in test_ids]).numpy())
    n_classes = len(corpus.classes)
    with torch.no_grad():
        desc = F.normalize(backbone.project_text(text["descriptions"]), dim=-1)
        caps = F.normalize(backbone.project_text(text["captions"]), dim=-1)
    rows = []

    def record(method: str, acpt: bool, predict: Callable[[list[str], Tensor], Tensor], extra: dict | None = None) -> None:
        """One row per test set (clean, then each condition: those rows name it); ``predict``
        takes the set's uids and joint-space embeddings."""
        for condition, (test_ids, test_emb, test_labels) in test_sets.items():
            predicted = predict(test_ids, test_emb).cpu().numpy()
            rows.append({
                "seed": seed, "fold": fold.name, "finetune": tuned, "acpt": acpt, "method": method,
                "n_test": len(test_ids), **scores(test_labels, predicted, n_classes),
                **(extra or {}), **({"condition": condition} if condition != "clean" else {}),
            })

    acpt_options = [True, False] if config.ablation and config.acpt else [config.acpt]
    for use_acpt in acpt_options:
        features, labels = [desc, caps], [text["labels"], torch.arange(n_classes)]
        extra = {} if tuned else {"shared": "per seed"}  # trained on text through the same weights in every fold
        if use_acpt:
            learned = None if tuned else untuned_contexts.get(seed)
            if learned is None:
                with model.timed("acpt"):  # the learned prompts' embeddings are ACPT's output, kept with it
                    contexts, history = train_contexts(
                        backbone, corpus.words, desc, text["labels"].to(desc.device),
                        text["soundscapes"].to(desc.device), len(prompts.SOUNDSCAPES), config.acpt_settings, seed, bar,
                    )
                    with torch.no_grad():
                        learned = history, prompt_embeddings(backbone, contexts, corpus.words)
                if not tuned:
                    untuned_contexts[seed] = learned
            history, u = learned
            features.append(u.reshape(-1, u.shape[-1]))
            labels.append(torch.arange(n_classes).repeat(u.shape[0]))
            extra["acpt_loss"] = [history[0], history[-1]]
        train_x = torch.cat(features)
        train_y = torch.cat(labels).to(train_x.device)
        if config.classifier:
            if tuned or (seed, use_acpt) not in model.untuned_classifiers:
                with model.timed("classifier"):
                    classifier = train_classifier(train_x, train_y, n_classes, config.classifier_settings, seed)
                if not tuned:
                    model.untuned_classifiers[seed, use_acpt] = classifier
            classifier = classifier if tuned else model.untuned_classifiers[seed, use_acpt]
            record("cross-modal", use_acpt, lambda _, emb: _predicted(classifier, emb), extra)
        else:
            prototypes = torch.stack([train_x[train_y == c].mean(0) for c in range(n_classes)])
            record("cross-modal", use_acpt, lambda _, emb: nearest_prototype(emb, prototypes), extra)
    if config.baselines:
        record("zero-shot", False, lambda _, emb: nearest_prototype(emb, caps))
        train_ids, train_emb = embedder.embeddings(fold.train) if fold.train else ([], None)
        if train_ids:
            train_labels = corpus.label_index([by_uid[u] for u in train_ids]).to(train_emb.device)
            record("linear-probe", False, lambda _, emb: linear_probe(train_emb, train_labels, emb, n_classes, seed))
            initial_state_runs = not config.finetune or config.ablation
            if not (tuned and embedder.frozen and initial_state_runs):  # a frozen encoder's probe is the initial one
                with model.timed("probe"):  # fitted once, applied to the clean and every conditioned test set
                    probe = fit_encoder_probe(embedder.features(train_ids)[1], [by_uid[u] for u in train_ids],
                                              {by_uid[u].speaker for u in fold.test}, corpus.classes, seed)
                record("encoder-probe", False, lambda ids, _: probe(embedder.features(ids)[1]))
    return rows


@torch.no_grad()
def _predicted(classifier: torch.nn.Module, embeddings: Tensor) -> Tensor:
    return classifier(embeddings).argmax(dim=1)
