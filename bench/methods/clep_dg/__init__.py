"""CLEP-DG as a method: (fine-tune) -> ACPT -> the cross-modal classifier, with the stage ablation.

The classifier trains on text only and is applied to audio. What text (the arms of
:mod:`bench.results.stages`): in the paper's reading, the class prompts "This is a [EMOTION]
sound" alone without ACPT, and ACPT's learned soundscape prompts u_{s,c} with it;
``classifier.texts = descriptions`` adds the soundscape descriptions and captions to both (a
named ablation). On the initial (not fine-tuned) weights ACPT and the classifier give the same
result in every fold: they are trained once per seed, kept in ``FoldInput.kept``, and their
rows say ``"shared": "per seed"``. Every arm hands its diagnostics
(:mod:`bench.methods.clep_dg.diagnostics`) to its unit, for ``bench explain``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.api import FoldInput, Method, Predictor
from bench.methods.clep_dg import diagnostics
from bench.methods.clep_dg.acpt import Contexts, prompt_embeddings, train_contexts
from bench.methods.clep_dg.classifier import train_classifier
from bench.protocol import texts
from bench.results import stages
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
    name = stages.CLEP_DG
    summary = "CLEP-DG: (fine-tune) -> ACPT -> cross-modal classifier, with the stage ablation rows"

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        config, n_classes = data.settings, len(data.classes)
        reading = config.classifier_settings.texts
        desc, caps = joint_text(data)
        desc_labels = data.text["labels"].to(desc.device)
        soundscapes = data.text["soundscapes"].to(desc.device)
        class_ids = torch.arange(n_classes, device=desc.device)
        shared = not data.finetuned  # trained on text through the same weights in every fold
        audio, audio_labels = _training_audio(data)
        for use_acpt in [False, True] if config.ablation and config.acpt else [config.acpt]:
            extra = {"shared": "per seed"} if shared else {}
            features, labels = ([desc, caps], [desc_labels, class_ids]) if reading == "descriptions" else ([], [])
            contexts = prompts = None
            if use_acpt:
                contexts, prompts = self._acpt(data, desc, desc_labels, soundscapes, shared)
                features.append(prompts.reshape(-1, prompts.shape[-1]))
                labels.append(class_ids.repeat(prompts.shape[0]))
                extra["acpt_loss"] = [contexts.loss[0], contexts.loss[-1]]
            elif reading == "prompts":
                features.append(caps)
                labels.append(class_ids)
            train_x, train_y = torch.cat(features), torch.cat(labels)
            weights, logits = self._classifier(data, train_x, train_y, use_acpt, shared)
            figures = {
                "text_collapse": diagnostics.text_collapse(desc, desc_labels, caps),
                "transfer": {
                    "training_text": diagnostics.accuracy(logits(train_x), train_y),
                    "descriptions": diagnostics.accuracy(logits(desc), desc_labels),
                    "descriptions_trained_on": reading == "descriptions",
                },
            }
            if len(audio_labels):
                figures["transfer"]["training_audio"] = diagnostics.accuracy(logits(audio), audio_labels)
                figures["modality_gap"] = diagnostics.modality_gap(audio, audio_labels, caps, desc, desc_labels)
                figures["class_weights"] = diagnostics.class_weights(weights, caps, audio, audio_labels)
            if contexts is not None:
                figures["acpt"] = {
                    "target": config.acpt_settings.target,
                    "soundscapes": list(texts.SOUNDSCAPES),
                    "drift": diagnostics.context_drift(contexts.learned, contexts.initial, _token_norm(data)),
                    "specificity": diagnostics.specificity(prompts, desc, desc_labels, soundscapes),
                    "prompt_similarity": diagnostics.prompt_similarity(prompts),
                    "l_cls": [round(v, 4) for v in contexts.l_cls],
                    "l_rank": [round(v, 4) for v in contexts.l_rank],
                }
            figures["pca"] = _pca(audio, audio_labels, caps, desc, desc_labels, soundscapes, prompts)
            yield Predictor(
                stages.CLEP_DG,
                lambda _, emb, f=logits: f(emb).argmax(dim=1),
                arm=stages.ARMS[reading][use_acpt],
                label=stages.label(data.finetuned, use_acpt, reading),
                main=use_acpt == config.acpt,
                extra=extra,
                diagnostics=figures,
            )

    def _acpt(
        self, data: FoldInput, desc: Tensor, desc_labels: Tensor, soundscapes: Tensor, shared: bool
    ) -> tuple[Contexts, Tensor]:
        """ACPT's contexts and the prompts u_{s,c} they give ``[S, C, D]`` (kept per seed where shared)."""
        key = ("acpt", data.seed)
        if shared and key in data.kept:
            return data.kept[key]
        with data.timed("acpt"):  # the learned prompts' embeddings are ACPT's output, kept with it
            contexts = train_contexts(
                data.backbone,
                data.words,
                desc,
                desc_labels,
                soundscapes,
                len(texts.SOUNDSCAPES),
                data.settings.acpt_settings,
                data.seed,
                bar,
            )
            with torch.no_grad():
                learned = contexts, prompt_embeddings(data.backbone, contexts.learned, data.words)
        if shared:
            data.kept[key] = learned
        return learned

    def _classifier(
        self, data: FoldInput, train_x: Tensor, train_y: Tensor, use_acpt: bool, shared: bool
    ) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
        """The class weights ``[C, D]`` and the logits of embeddings: the trained linear
        classifier, or with ``--no-classifier`` the nearest class mean of the same texts."""
        key = ("classifier", data.seed, use_acpt)
        if shared and key in data.kept:
            return data.kept[key]
        if data.settings.classifier:
            with data.timed("classifier"):
                model = train_classifier(
                    train_x, train_y, len(data.classes), data.settings.classifier_settings, data.seed
                )
            trained = model.weight.detach(), _no_grad(model)
        else:
            prototypes = F.normalize(
                torch.stack([train_x[train_y == c].mean(0) for c in range(len(data.classes))]), dim=-1
            )
            trained = prototypes, _no_grad(lambda emb: F.normalize(emb, dim=-1) @ prototypes.T)
        if shared:
            data.kept[key] = trained
        return trained


def _no_grad(function: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    def logits(embeddings: Tensor) -> Tensor:
        with torch.no_grad():
            return function(embeddings)

    return logits


def _training_audio(data: FoldInput) -> tuple[Tensor, Tensor]:
    """The fold's training clips in the joint space (L2-normalised) and their classes."""
    uids, embeddings = data.embeddings([u.uid for u in data.train])
    if not uids:
        return embeddings, torch.zeros(0, dtype=torch.long)
    return F.normalize(embeddings, dim=-1), data.labels(uids).to(embeddings.device)


def _token_norm(data: FoldInput) -> float | None:
    """A typical token embedding's norm in the backbone's text encoder (None: it has no table)."""
    table = getattr(getattr(data.backbone, "text_tower", None), "embeddings", None)
    return float(table.weight.detach().norm(dim=-1).median()) if table is not None else None


def _pca(audio, audio_labels, caps, desc, desc_labels, soundscapes, prompts) -> dict:
    """The PCA of the joint space: training audio (evenly drawn), captions, the descriptions'
    centroid per soundscape and class, and ACPT's prompts where learned; classes beside them."""
    audio, audio_labels = diagnostics.evenly(audio, audio_labels)
    n_classes = caps.shape[0]
    cells = sorted({(int(s), int(c)) for s, c in zip(soundscapes, desc_labels, strict=True)})
    centroids = torch.stack([desc[(soundscapes == s) & (desc_labels == c)].mean(0) for s, c in cells])
    groups = {"audio": audio, "captions": caps, "descriptions": F.normalize(centroids, dim=-1)}
    if prompts is not None:
        groups["prompts"] = prompts.reshape(-1, prompts.shape[-1])
    points = diagnostics.pca(groups)
    points["classes"] = {
        "audio": audio_labels.tolist(),
        "captions": list(range(n_classes)),
        "descriptions": [c for _, c in cells],
        **({"prompts": list(range(n_classes)) * prompts.shape[0]} if prompts is not None else {}),
    }
    return points
