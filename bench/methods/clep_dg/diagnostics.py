"""Why CLEP-DG's numbers are what they are: figures of one unit's joint space, ACPT and classifier.

Each function takes L2-normalised joint-space tensors and returns plain numbers (JSON-ready),
so a test can build embeddings whose answer is known. ``bench explain`` prints them and draws
them (:mod:`bench.results.explain`).

- context drift: how far ACPT moved each soundscape's contexts, per token, against their
  initial norm and the norm of a typical token embedding of the text encoder;
- soundscape specificity: for each description, which soundscape's prompt of its own class is
  nearest; the share that is its own soundscape (chance: 1/S);
- text collapse: cosines of same-class vs different-class descriptions, and of a description
  to its class caption (near 1: soundscape wording has vanished from the joint space);
- transfer gap: the classifier's accuracy on its training text, on the descriptions, on the
  training audio (the test audio's is the row itself);
- modality gap: the distance between the audio and the text centroids, and audio's cosine to
  its own class's caption and description centroid;
- class weights: each classifier weight's cosine with its caption and its training-audio centroid;
- a 2-D PCA of audio, captions, descriptions and prompts, fitted on all of them together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

PCA_AUDIO = 120  # training clips drawn in the PCA (evenly spaced, so the same every run)


def _mean(values: Tensor) -> float:
    return round(float(values.mean()), 4) if values.numel() else float("nan")


def context_drift(learned: Tensor, initial: Tensor, token_norm: float | None) -> dict:
    """Per soundscape: mean per-token norm of (learned - initial), and that over the initial
    norm and over ``token_norm`` (a token embedding's typical norm; None where unknown)."""
    moved = (learned - initial).norm(dim=-1).mean(dim=-1)  # [S]
    start = initial.norm(dim=-1).mean(dim=-1)
    return {
        "per_token": [round(float(v), 4) for v in moved],
        "relative_to_init": [round(float(v), 4) for v in moved / start.clamp_min(1e-12)],
        "relative_to_token": [round(float(v) / token_norm, 4) for v in moved] if token_norm else None,
    }


def specificity(prompts: Tensor, descriptions: Tensor, labels: Tensor, soundscapes: Tensor) -> dict:
    """``matrix[s][s']``: descriptions of soundscape s whose nearest prompt of their own class
    is soundscape s'; ``share``: the diagonal's share; ``chance``: 1/S."""
    n_scapes = prompts.shape[0]
    own_class = prompts[:, labels].transpose(0, 1)  # [M, S, D]: each description's class under every soundscape
    nearest = torch.einsum("md,msd->ms", descriptions, own_class).argmax(dim=1)
    matrix = torch.zeros(n_scapes, n_scapes, dtype=torch.long)
    matrix.index_put_((soundscapes.cpu(), nearest.cpu()), torch.ones_like(nearest.cpu()), accumulate=True)
    return {
        "matrix": matrix.tolist(),
        "share": round(float((nearest == soundscapes).float().mean()), 4),
        "chance": round(1 / n_scapes, 4),
    }


def prompt_similarity(prompts: Tensor) -> float:
    """Mean cosine between one class's prompts under different soundscapes (1: ACPT's
    soundscapes all give the same prompt)."""
    n_scapes = prompts.shape[0]
    per_class = torch.einsum("scd,tcd->cst", prompts, prompts)
    off_diagonal = ~torch.eye(n_scapes, dtype=torch.bool, device=prompts.device)
    return _mean(per_class[:, off_diagonal])


def text_collapse(descriptions: Tensor, labels: Tensor, captions: Tensor) -> dict:
    """Mean cosine of same-class and of different-class description pairs, and of each
    description to its class caption."""
    cosine = descriptions @ descriptions.T
    same = labels[:, None] == labels[None, :]
    others = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return {
        "same_class": _mean(cosine[same & others]),
        "different_class": _mean(cosine[~same]),
        "to_caption": _mean((descriptions * captions[labels]).sum(-1)),
    }


def accuracy(logits: Tensor, labels: Tensor) -> float:
    return round(float((logits.argmax(dim=1) == labels).float().mean()), 4) if len(labels) else float("nan")


def modality_gap(audio: Tensor, audio_labels: Tensor, captions: Tensor, descriptions: Tensor, labels: Tensor) -> dict:
    """Distances between the centroids of audio and of each text kind, and audio's cosines to
    its own class's caption and description centroid (beside the other classes')."""
    n_classes = captions.shape[0]
    centroids = F.normalize(torch.stack([descriptions[labels == c].mean(0) for c in range(n_classes)]), dim=-1)
    to_caption, to_description = audio @ captions.T, audio @ centroids.T  # [N, C]
    own = F.one_hot(audio_labels, n_classes).bool()
    return {
        "audio_to_caption_offset": round(float((audio.mean(0) - captions.mean(0)).norm()), 4),
        "audio_to_description_offset": round(float((audio.mean(0) - descriptions.mean(0)).norm()), 4),
        "own_caption_cosine": _mean(to_caption[own]),
        "other_caption_cosine": _mean(to_caption[~own]),
        "own_description_cosine": _mean(to_description[own]),
        "other_description_cosine": _mean(to_description[~own]),
    }


def class_weights(weights: Tensor, captions: Tensor, audio: Tensor, audio_labels: Tensor) -> dict:
    """Each class weight's cosine with its caption and with its training-audio centroid."""
    weights = F.normalize(weights, dim=-1)
    centroids = {
        c: F.normalize(audio[audio_labels == c].mean(0), dim=-1)
        for c in range(weights.shape[0])
        if bool((audio_labels == c).any())
    }
    return {
        "to_caption": [round(float(v), 4) for v in (weights * captions).sum(-1)],
        "to_audio_centroid": [
            round(float(weights[c] @ centroids[c]), 4) if c in centroids else None for c in range(weights.shape[0])
        ],
    }


def pca(groups: dict[str, Tensor]) -> dict[str, list[list[float]]]:
    """2-D coordinates of every group's points, from one PCA fitted on all of them together."""
    stacked = torch.cat(list(groups.values())).float().cpu()
    centred = stacked - stacked.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    components = v[:2].T
    signs = torch.sign(components[components.abs().argmax(dim=0), range(2)])  # a fixed orientation
    coordinates = centred @ (components * signs)
    out, start = {}, 0
    for name, points in groups.items():
        out[name] = [[round(float(x), 4), round(float(y), 4)] for x, y in coordinates[start : start + len(points)]]
        start += len(points)
    return out


def evenly(points: Tensor, labels: Tensor, limit: int = PCA_AUDIO) -> tuple[Tensor, Tensor]:
    """At most ``limit`` rows, evenly spaced (deterministic)."""
    if len(points) <= limit:
        return points, labels
    index = torch.linspace(0, len(points) - 1, limit).round().long()
    return points[index], labels[index.to(labels.device)]
