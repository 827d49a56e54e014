"""Stage 4, evaluate: predictions on L2-normalised audio embeddings, plus the two baselines
on the same embeddings: zero-shot (nearest caption) and a linear probe on audio.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

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
