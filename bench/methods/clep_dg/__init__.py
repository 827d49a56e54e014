"""CLEP-DG's cross-modal rows as a method: ACPT off/on x the cross-modal classifier.

ACPT and the classifier are trained on text only, so on the initial (not fine-tuned)
weights their results are the same for every fold: they are trained once per seed, kept in
``FoldInput.kept``, and their rows say ``"shared": "per seed"``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.api import FoldInput, Method, Predictor
from bench.methods.clep_dg.acpt import prompt_embeddings, train_contexts
from bench.methods.clep_dg.classifier import train_classifier
from bench.methods.probes import nearest_prototype
from bench.protocol import texts
from bench.util.progress import bar


@torch.no_grad()
def joint_text(data: FoldInput) -> tuple[Tensor, Tensor]:
    """The descriptions and captions in the joint space of the current weights (L2-normalised)."""
    project = data.backbone.project_text
    return (
        F.normalize(project(data.text["descriptions"]), dim=-1),
        F.normalize(project(data.text["captions"]), dim=-1),
    )


class ClepDG(Method):
    name = "clep-dg"
    summary = "CLEP-DG: (fine-tune) -> ACPT -> cross-modal classifier, with the stage ablation rows"

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        config, text, n_classes = data.settings, data.text, len(data.classes)
        desc, caps = joint_text(data)
        shared = not data.finetuned  # trained on text through the same weights in every fold
        for use_acpt in [True, False] if config.ablation and config.acpt else [config.acpt]:
            features, labels = [desc, caps], [text["labels"], torch.arange(n_classes)]
            extra = {"shared": "per seed"} if shared else {}
            if use_acpt:
                key = ("acpt", data.seed)
                if not shared or key not in data.kept:
                    with data.timed("acpt"):  # the learned prompts' embeddings are ACPT's output, kept with it
                        contexts, history = train_contexts(
                            data.backbone,
                            data.words,
                            desc,
                            text["labels"].to(desc.device),
                            text["soundscapes"].to(desc.device),
                            len(texts.SOUNDSCAPES),
                            config.acpt_settings,
                            data.seed,
                            bar,
                        )
                        with torch.no_grad():
                            learned = history, prompt_embeddings(data.backbone, contexts, data.words)
                    if shared:
                        data.kept[key] = learned
                history, u = data.kept[key] if shared else learned
                features.append(u.reshape(-1, u.shape[-1]))
                labels.append(torch.arange(n_classes).repeat(u.shape[0]))
                extra["acpt_loss"] = [history[0], history[-1]]
            train_x = torch.cat(features)
            train_y = torch.cat(labels).to(train_x.device)
            if config.classifier:
                key = ("classifier", data.seed, use_acpt)
                if not shared or key not in data.kept:
                    with data.timed("classifier"):
                        trained = train_classifier(train_x, train_y, n_classes, config.classifier_settings, data.seed)
                    if shared:
                        data.kept[key] = trained
                classifier = data.kept[key] if shared else trained
                yield Predictor("cross-modal", lambda _, emb, c=classifier: _predicted(c, emb), use_acpt, extra)
            else:
                prototypes = torch.stack([train_x[train_y == c].mean(0) for c in range(n_classes)])
                yield Predictor("cross-modal", lambda _, emb, p=prototypes: nearest_prototype(emb, p), use_acpt, extra)


@torch.no_grad()
def _predicted(classifier: torch.nn.Module, embeddings: Tensor) -> Tensor:
    return classifier(embeddings).argmax(dim=1)
