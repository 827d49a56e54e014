"""Stage 4, evaluate: predictions on L2-normalised audio embeddings, plus the baselines:
zero-shot (nearest caption), a linear probe on the joint space, and the frozen-feature probe
on the encoder's own embedding that EmoBox and reviewers use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from bench.api import DataError, Utterance
from bench.config.settings import SettingError, Settings

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
DEFAULT_C = 1.0  # where nothing can be cross-validated (a class with one training example)

# How the encoder probe's inner cross-validation splits the training part (encoder-probe.selection).
SELECTIONS = ("auto", "corpus", "speaker", "stratified")


class EncoderProbeSettings(Settings):
    """The encoder probe's own settings (``--set encoder-probe.<field>=VALUE``)."""

    # how C is chosen inside the training part (:func:`inner_folds`): ``auto`` mirrors the outer
    # protocol (hold out a training corpus where the fold holds out a corpus and 2 training corpora
    # exist, else group by speaker where the fold is speaker-independent, else stratified); or
    # always ``corpus``, ``speaker`` or ``stratified``
    selection: Literal["auto", "corpus", "speaker", "stratified"] = "auto"


def check_selection(selection: str, dataset: str, protocol: str | None) -> None:
    """Before any work: ``corpus`` needs leave-one-corpus-out on 3 or more pooled corpora (2 training
    corpora in every fold); a one-line :class:`SettingError` otherwise."""
    corpora = [n for n in str(dataset).split(",") if n.strip()]
    if selection == "corpus" and (len(corpora) < 3 or protocol not in (None, "corpus")):
        given = f"--dataset {dataset}" + (f" --protocol {protocol}" if protocol else "")
        raise SettingError(
            "encoder-probe.selection=corpus holds out a training corpus: it needs leave-one-corpus-out on at least "
            f"3 pooled corpora (--dataset a,b,c --protocol corpus), not {given}"
        )


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


def corpus_of(utt: Utterance) -> str | None:
    """The corpus a pooled utterance comes from (``meta["corpus"]``, set by bench.data.pooling.pool)."""
    return utt.meta.get("corpus")


def held_out_corpus(fold: str, train_utts: Sequence[Utterance]) -> str | None:
    """The corpus the outer fold holds out, or None: a leave-one-corpus-out fold is named
    ``corpus-<name>`` (bench.data.pooling) and no training utterance comes from ``<name>``."""
    corpora = {corpus_of(u) for u in train_utts}
    name = fold.removeprefix("corpus-")
    if not fold.startswith("corpus-") or None in corpora or name in corpora:
        return None
    return name


def _speaker_key(utt: Utterance) -> str:
    """A speaker qualified by corpus: pooled corpora reuse speaker ids (EmoDB's 03 is not RAVDESS's 03)."""
    corpus = corpus_of(utt)
    return utt.speaker if corpus is None else f"{corpus}/{utt.speaker}"


@dataclass(frozen=True)
class InnerFolds:
    """How the encoder probe chooses C inside the training part: ``kind`` is ``corpus`` (leave one
    training corpus out), ``speaker`` (k-fold grouped by speaker), ``stratified`` (shuffled by
    the seed) or ``none`` (no cross-validation possible: C is :data:`DEFAULT_C`); ``groups`` the
    group of each training utterance (corpus or speaker), ``n_splits`` the number of inner folds."""

    kind: str
    n_splits: int = 0
    groups: tuple[str, ...] = ()

    @property
    def seeded(self) -> bool:
        """Whether the inner folds depend on the seed (only stratified ones are shuffled)."""
        return self.kind == "stratified"

    def describe(self) -> str:
        """What a result row says: ``corpus (3 groups)``, ``speaker (5 folds of 8 groups)`` ..."""
        if self.kind == "corpus":
            return f"corpus ({self.n_splits} groups)"
        if self.kind == "speaker":
            return f"speaker ({self.n_splits} folds of {len(set(self.groups))} groups)"
        if self.kind == "stratified":
            return f"stratified ({self.n_splits} folds)"
        return "none (default C)"

    def splits(self, features: np.ndarray, labels: np.ndarray, seed: int) -> list | None:
        """The (train, validation) index pairs, or None (``none``)."""
        from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedKFold

        if self.kind == "corpus":
            return list(LeaveOneGroupOut().split(features, labels, self.groups))
        if self.kind == "speaker":
            return list(GroupKFold(self.n_splits).split(features, labels, self.groups))
        if self.kind == "stratified":
            return list(StratifiedKFold(self.n_splits, shuffle=True, random_state=seed).split(features, labels))
        return None


def inner_folds(
    train_utts: Sequence[Utterance], test_speakers: set, held_out: str | None = None, selection: str = "auto"
) -> InnerFolds:
    """The inner folds of ``selection`` (:data:`SELECTIONS`) for a training part; ``held_out``:
    the corpus the outer fold holds out (:func:`held_out_corpus`), if any.

    ``auto`` mirrors the outer protocol: hold out a training corpus where the fold holds out a
    corpus and two training corpora exist; else group by speaker where the fold is
    speaker-independent (a held-out corpus is: its speakers are another corpus's); else
    stratified; else (a class with one example) none. An explicit choice that the training part
    cannot give is a one-line :class:`DataError`.
    """
    if selection not in SELECTIONS:
        raise DataError(f"encoder-probe.selection={selection}: choose one of {', '.join(SELECTIONS)}")
    corpora = [corpus_of(u) for u in train_utts]
    n_corpora = len(set(corpora) - {None})
    speakers = [_speaker_key(u) if u.speaker is not None else None for u in train_utts]
    n_speakers = len(set(speakers) - {None})
    counts = Counter(u.label for u in train_utts)
    smallest = min(counts.values()) if counts else 0
    if selection == "auto":
        independent = held_out is not None or grouped_by_speaker(train_utts, test_speakers)
        if held_out is not None and n_corpora >= 2:
            selection = "corpus"
        elif independent and None not in speakers and n_speakers >= 2:
            selection = "speaker"
        elif min(PROBE_CV, smallest) >= 2:
            selection = "stratified"
        else:
            return InnerFolds("none")
    if selection == "corpus":
        if None in corpora or n_corpora < 2:
            found = "utterances without a corpus" if None in corpora else f"{n_corpora} training corpus"
            raise DataError(
                f"encoder-probe.selection=corpus holds out a training corpus and needs at least 2 pooled training "
                f"corpora (leave-one-corpus-out on 3 or more: --dataset a,b,c --protocol corpus); this fold has {found}"
            )
        return InnerFolds("corpus", n_corpora, tuple(corpora))
    if selection == "speaker":
        if None in speakers or n_speakers < 2:
            found = "clips of unknown speaker" if None in speakers else f"{n_speakers} training speaker"
            raise DataError(f"encoder-probe.selection=speaker needs 2 known training speakers; this fold has {found}")
        return InnerFolds("speaker", min(PROBE_CV, n_speakers), tuple(speakers))
    if min(PROBE_CV, smallest) < 2:
        raise DataError(
            f"encoder-probe.selection=stratified needs 2 training clips of every class; this fold has {smallest} of "
            f"{min(counts, key=counts.get) if counts else 'a class'}"
        )
    return InnerFolds("stratified", min(PROBE_CV, smallest))


@dataclass
class FittedProbe:
    """A fitted encoder probe: call it on features to get class indices; ``C`` is the chosen
    inverse regularisation strength, ``inner`` the folds it was chosen on and ``inner_accuracy``
    the mean accuracy over those folds at ``C`` (None: nothing cross-validated)."""

    scaler: object
    model: object
    C: float
    inner: InnerFolds
    inner_accuracy: float | None = None

    def __call__(self, test: Tensor) -> Tensor:
        return torch.from_numpy(self.model.predict(self.scaler.transform(test.float().cpu().numpy())))


def fit_encoder_probe(
    train: Tensor,
    train_utts: Sequence[Utterance],
    inner: InnerFolds | set,
    classes: Sequence[str],
    seed: int,
) -> FittedProbe:
    """EmoBox's frozen-feature baseline: logistic regression on the encoder's own embeddings
    (before any projection head), standardised on the training part, its C chosen by
    cross-validation inside the training part only; returns the fitted predictor.

    ``inner``: the inner folds (:func:`inner_folds`), or the fold's test speakers for the
    ``auto`` choice without a held-out corpus: grouped by speaker where the fold is
    speaker-independent (no speaker on both sides), otherwise stratified.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import StandardScaler

    if not isinstance(inner, InnerFolds):
        inner = inner_folds(train_utts, inner)
    labels = np.array([classes.index(u.label) for u in train_utts])
    scaler = StandardScaler().fit(train.float().cpu().numpy())
    train = scaler.transform(train.float().cpu().numpy())
    model = LogisticRegression(C=DEFAULT_C, max_iter=2000)
    splits = inner.splits(train, labels, seed)
    if splits is None:
        return FittedProbe(scaler, model.fit(train, labels), DEFAULT_C, inner)
    search = GridSearchCV(model, {"C": PROBE_C}, cv=splits, scoring="accuracy").fit(train, labels)
    best = search.best_estimator_
    return FittedProbe(scaler, best, float(search.best_params_["C"]), inner, float(search.best_score_))
