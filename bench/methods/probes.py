"""Stage 4, evaluate: predictions on L2-normalised audio embeddings, plus the baselines:
zero-shot (nearest caption), a linear probe on the joint space, and the frozen-feature probe
on the encoder's own embedding that EmoBox and reviewers use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from bench.api import Utterance

PROBE_ITERATIONS = 200
PROBE_L2 = 1e-3


@torch.no_grad()
def nearest_prototype(audio: Tensor, prototypes: Tensor) -> Tensor:
    """Class of the most similar prototype (zero-shot with captions, or mean ACPT prompts)."""
    return (F.normalize(audio, dim=-1) @ F.normalize(prototypes, dim=-1).T).argmax(dim=1)


def linear_probe(train: Tensor, labels: Tensor, test: Tensor, n_classes: int, seed: int) -> Tensor:
    """Multinomial logistic regression on training-fold audio embeddings (fixed L2, L-BFGS).

    Its hyperparameters are fixed in advance: nothing is selected on the test fold.
    """
    torch.manual_seed(seed)
    train, test = F.normalize(train, dim=-1), F.normalize(test, dim=-1)
    weight = torch.zeros(n_classes, train.shape[1], requires_grad=True, device=train.device)
    bias = torch.zeros(n_classes, requires_grad=True, device=train.device)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=PROBE_ITERATIONS, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(train @ weight.T + bias, labels) + PROBE_L2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return (test @ weight.T + bias).argmax(dim=1)


# Inverse regularisation strengths the encoder probe chooses from, by cross-validation.
PROBE_C = tuple(float(c) for c in np.logspace(-4, 2, 7))
PROBE_CV = 5


def encoder_probe(
    train: Tensor,
    train_utts: Sequence[Utterance],
    test: Tensor,
    test_utts: Sequence[Utterance],
    classes: Sequence[str],
    seed: int,
) -> Tensor:
    """The predicted class indices of ``test`` by :func:`fit_encoder_probe`."""
    return fit_encoder_probe(train, train_utts, {u.speaker for u in test_utts}, classes, seed)(test)


def grouped_by_speaker(train_utts: Sequence[Utterance], test_speakers: set) -> bool:
    """Whether the encoder probe cross-validates grouped by speaker: the fold is speaker-independent
    (no speaker on both sides, every speaker known) and has two training speakers. Grouped inner
    folds are not shuffled, so such a probe is the same for every seed."""
    speakers = {u.speaker for u in train_utts}
    return None not in speakers and not speakers & test_speakers and len(speakers) >= 2


def fit_encoder_probe(
    train: Tensor, train_utts: Sequence[Utterance], test_speakers: set, classes: Sequence[str], seed: int
) -> Callable[[Tensor], Tensor]:
    """EmoBox's frozen-feature baseline: logistic regression on the encoder's own embeddings
    (before any projection head), standardised on the training part, its C chosen by
    cross-validation inside the training part only; returns the fitted predictor.

    Where the fold is speaker-independent (no speaker on both sides), so is that cross-validation
    (grouped by speaker); otherwise it is stratified.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    labels = np.array([classes.index(u.label) for u in train_utts])
    scaler = StandardScaler().fit(train.float().cpu().numpy())
    train = scaler.transform(train.float().cpu().numpy())
    model = LogisticRegression(max_iter=2000)
    smallest = int(np.unique(labels, return_counts=True)[1].min())
    if grouped_by_speaker(train_utts, test_speakers):
        groups = [u.speaker for u in train_utts]
        splits = list(GroupKFold(min(PROBE_CV, len(set(groups)))).split(train, labels, groups))
    elif min(PROBE_CV, smallest) >= 2:
        splits = list(StratifiedKFold(min(PROBE_CV, smallest), shuffle=True, random_state=seed).split(train, labels))
    else:  # a class with one example: nothing to cross-validate on, the default C
        splits = None
    fitted = model if splits is None else GridSearchCV(model, {"C": PROBE_C}, cv=splits, scoring="accuracy")
    fitted.fit(train, labels)
    return lambda test: torch.from_numpy(fitted.predict(scaler.transform(test.float().cpu().numpy())))
