"""The cross-modal classifier: trained on one set of rows, it must classify other rows near them.

The rows here are unit vectors around a few class directions, the way text-derived and audio
embeddings of one emotion sit around a shared direction of the joint space.
"""

import pytest
import torch
import torch.nn.functional as F

from bench.config.settings import ClassifierSettings
from bench.methods.clep_dg.classifier import train_classifier

N_CLASSES, DIM = 5, 32


def around(centres: torch.Tensor, labels: torch.Tensor, spread: float, seed: int) -> torch.Tensor:
    noise = torch.randn(len(labels), centres.shape[1], generator=torch.Generator().manual_seed(seed))
    return F.normalize(centres[labels] + spread * noise, dim=-1)


@pytest.fixture(scope="module")
def clusters() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    centres = F.normalize(torch.randn(N_CLASSES, DIM, generator=torch.Generator().manual_seed(0)), dim=-1)
    train_y, test_y = torch.arange(N_CLASSES).repeat(12), torch.arange(N_CLASSES).repeat(20)
    return around(centres, train_y, 0.15, 1), train_y, around(centres, test_y, 0.25, 2), test_y


@pytest.mark.parametrize("loss", ["arcface", "softmax"])
def test_rows_of_one_kind_classify_rows_of_another(clusters, loss):
    train_x, train_y, test_x, test_y = clusters
    classifier = train_classifier(train_x, train_y, N_CLASSES, ClassifierSettings(loss=loss), seed=0)
    with torch.no_grad():
        accuracy = (classifier(test_x).argmax(1) == test_y).float().mean().item()
    assert accuracy >= 0.95


def test_same_seed_same_weights_and_inference_adds_no_margin(clusters):
    train_x, train_y, test_x, _ = clusters
    settings = ClassifierSettings(epochs=3)
    first, again = (train_classifier(train_x, train_y, N_CLASSES, settings, seed=4) for _ in range(2))
    assert torch.equal(first.weight, again.weight)
    other = train_classifier(train_x, train_y, N_CLASSES, settings, seed=5)
    assert not torch.equal(first.weight, other.weight)
    with torch.no_grad():  # at inference the logits are scaled cosines: no margin for any class
        cosine = F.normalize(test_x, dim=-1) @ F.normalize(first.weight, dim=-1).T
        torch.testing.assert_close(first(test_x), settings.arcface_scale * cosine)
