"""The method contract: how a way of classifying emotions plugs into the protocol.

A method (subclass :class:`Method`, registered under the entry-point group
``bench.methods``) receives, for each fold, seed and weight state, a :class:`FoldInput`:
the fold's labelled training part, the class words, the settings, the seed, and functions
that give features of clips by uid. It returns :class:`Predictor` objects; the core applies
each to every test set (clean, then each acoustic condition), scores the predictions and
writes one row per test set. The core keeps what must hold for every method: a method
sees test clips only as uids (never their labels), few-shot clips come from the fold's
training part only (:meth:`FoldInput.few_shot`), and units are resumed by the core.

Example (a third party's ``pyproject.toml``)::

    [project.entry-points."bench.methods"]
    nearest-class-mean = "my_package.methods:NearestClassMean"
"""

from __future__ import annotations

import abc
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import KW_ONLY, dataclass, field
from typing import ClassVar

import torch
from pydantic import BaseModel
from torch import Tensor

from bench.api.backbone import Backbone
from bench.api.dataset import Utterance
from bench.api.errors import DataError

Features = Callable[[Sequence[str]], tuple[list[str], Tensor]]


@dataclass
class Predictor:
    """One row per test set: ``predict(uids, embeddings)`` gives a class index per test clip
    from its uid and its joint-space embedding (L2-normalised ``project_audio``).

    A row is keyed by (weight state, ``method``, ``arm``): ``arm`` names one of a method's
    variants where it yields several (CLEP-DG: what its classifier was trained on, with or
    without ACPT), ``label`` is the row's name in tables (default: the method), and ``main``
    marks the row that stands for the method in comparisons (one per weight state).
    ``diagnostics`` (JSON-ready) say why the figures are what they are; they are kept once per
    unit, not per test set, and ``bench explain`` shows them.
    """

    method: str  # the row's method name (records and tables group by it)
    predict: Callable[[list[str], Tensor], Tensor]
    _: KW_ONLY
    arm: str = ""
    label: str = ""
    main: bool = True
    extra: dict = field(default_factory=dict)  # more fields of the row (e.g. a training loss)
    diagnostics: dict = field(default_factory=dict)


@dataclass
class FoldInput:
    """What a method receives for one fold, seed and weight state; never a test label.

    ``features``, ``embeddings`` and ``frames`` take uids (training or test clips) and give
    the usable ones with their encoder features, joint-space embeddings, or frame-level
    features ``[N, T, D]`` (``frames`` is None where the backbone cannot give them).
    ``kept`` lives as long as the built backbone: what a method computes once and reuses
    (e.g. per seed on the initial weights, where every fold gives the same result, or per fold
    where every seed does).
    """

    fold: str
    seed: int
    finetuned: bool
    classes: tuple[str, ...]
    words: list[str]
    train: list[Utterance]
    finetune_clips: list[Utterance]  # the --finetune-on corpora (default: this one, limited to ``train``)
    test_speakers: set
    settings: object  # the run's bench.config.settings.RunConfig
    backbone: Backbone
    text: dict  # frozen text-encoder features of the protocol's texts (bench.protocol.texts.TextFeatures)
    encoder_frozen: bool  # its features are those of the initial weights in every state
    features: Features
    embeddings: Features
    frames: Features | None
    timed: Callable[[str], AbstractContextManager]
    kept: dict

    def labels(self, uids: Sequence[str]) -> Tensor:
        """Class indices of training clips; a uid outside the training part is an error."""
        by_uid = {u.uid: u for u in self.train}
        outside = [u for u in uids if u not in by_uid]
        if outside:
            raise DataError(f"leakage guard: fold {self.fold}: {outside[0]} is not in its training part")
        return torch.tensor([self.classes.index(by_uid[u].label) for u in uids], dtype=torch.long)

    def few_shot(self, shots: int) -> list[Utterance]:
        """``shots`` clips per class (fewer where the class has fewer), drawn by seed from the
        fold's training part only."""
        rng = random.Random(self.seed)
        chosen = []
        for label in self.classes:
            members = sorted((u for u in self.train if u.label == label), key=lambda u: u.uid)
            chosen += rng.sample(members, min(shots, len(members)))
        return chosen


class Method(abc.ABC):
    """A method: ``name`` (its entry-point name), ``summary`` (one line for ``bench list``).

    ``initial_only``: its rows come from the backbone's initial weights only (its encoder is
    frozen), so the core computes no fine-tuned state for it.

    ``uses_shots``: it adapts to ``--shots K`` labelled clips per class (through
    :meth:`FoldInput.few_shot`); a run whose methods all leave it False refuses ``--shots``
    instead of ignoring it (API 2.1; a method that says nothing does not use them).

    ``settings_model``: the method's own settings, a pydantic model whose fields are set as
    ``--set <name>.<field>=VALUE`` (``--param`` in sweeps, ``[method_settings.<name>]`` in a
    config file). The core checks them with this model before any work, names the run folder
    by them, and records them; :meth:`own_settings` reads them back.
    """

    name: str
    summary: str
    initial_only: bool = False
    uses_shots: bool = False
    settings_model: ClassVar[type[BaseModel] | None] = None

    def own_settings(self, config) -> BaseModel | None:
        """This method's settings in the run's ``config``, checked by :attr:`settings_model` (None: it has none)."""
        if self.settings_model is None:
            return None
        return self.settings_model.model_validate(config.method_settings.get(self.name, {}))

    def prepare(self, config) -> None:  # noqa: B027 (optional hook: most methods need no preparation)
        """Check and complete the run's settings before any work (a missing requirement is a
        one-line error); what it fills in (SELM: the LM's path) names the run folder."""

    @abc.abstractmethod
    def predictors(self, data: FoldInput) -> Iterator[Predictor] | list[Predictor]:
        """The method's predictors for this fold, seed and weight state (none: no rows)."""
