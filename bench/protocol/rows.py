"""The result rows of one weight state: every chosen method's predictors on every test set.

The core prepares the test sets (clean, then each acoustic condition) and what a method
receives (:class:`bench.api.FoldInput`: test clips as uids only), and scores every
prediction, so no method can see a test label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.api import DataError, Fold, FoldInput
from bench.config.settings import RunConfig
from bench.data import conditions
from bench.features import frames
from bench.plugins import registry
from bench.protocol.corpus import Corpus
from bench.protocol.metrics import scores

if TYPE_CHECKING:
    from bench.protocol.units import Model


def evaluate_state(
    model: Model,
    config: RunConfig,
    corpus: Corpus,
    pool: Sequence[Corpus],
    fold: Fold,
    seed: int,
    tuned: bool,
    methods: Sequence[str],
) -> tuple[list[dict], list[dict]]:
    """Every row of ``methods`` on this weight state, in their order, and each predictor's
    diagnostics (once per unit, with its weight state, method and arm)."""
    embedder = model.embedder
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
            raise DataError(
                f"fold {fold.name}: none of its {len(uids)} test clips is usable ({condition}); see the skipped files"
            )
        test_sets[condition] = (test_ids, test_emb, corpus.label_index([embedder.by_uid[u] for u in test_ids]).numpy())
    train = [by_uid[u] for u in fold.train]
    in_domain = corpus.name in (config.finetune_on or [corpus.name])
    data = FoldInput(
        fold=fold.name,
        seed=seed,
        finetuned=tuned,
        classes=corpus.classes,
        words=corpus.words,
        train=train,
        finetune_clips=(train if in_domain else []) + [u for c in pool if c.name != corpus.name for u in c.utterances],
        test_speakers={by_uid[u].speaker for u in fold.test},
        settings=config,
        backbone=model.backbone,
        text=model.text,
        encoder_frozen=embedder.frozen,
        features=embedder.features,
        embeddings=embedder.embeddings,
        frames=frames.source(model),
        timed=model.timed,
        kept=model.kept,
    )
    rows, figures = [], []
    for name in methods:
        for predictor in registry.get("method", name)().predictors(data):
            if predictor.diagnostics:
                figures.append(
                    {"finetune": tuned, "method": predictor.method, "arm": predictor.arm, **predictor.diagnostics}
                )
            for condition, (test_ids, test_emb, test_labels) in test_sets.items():
                predicted = predictor.predict(test_ids, test_emb).cpu().numpy()
                rows.append(
                    {
                        "seed": seed,
                        "fold": fold.name,
                        "finetune": tuned,
                        "method": predictor.method,
                        "arm": predictor.arm,
                        "label": predictor.label or predictor.method,
                        "main": predictor.main,
                        "n_test": len(test_ids),
                        **scores(test_labels, predicted, len(corpus.classes)),
                        **predictor.extra,
                        **({"condition": condition} if condition != "clean" else {}),
                    }
                )
    return rows, figures
