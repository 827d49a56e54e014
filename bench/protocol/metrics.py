"""SER metrics: WA (accuracy), UA (mean per-class recall), macro-F1, confusion matrix."""

from __future__ import annotations

import numpy as np


def confusion(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows are true classes, columns predictions."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def scores(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict:
    """WA, UA and macro-F1 over the classes present in ``truth`` (absent ones have no recall)."""
    matrix = confusion(np.asarray(truth), np.asarray(predicted), n_classes)
    support = matrix.sum(axis=1)
    present = support > 0
    hits = np.diag(matrix).astype(float)
    recall = hits[present] / support[present]
    predicted_count = matrix.sum(axis=0)[present]
    precision = np.divide(hits[present], predicted_count, out=np.zeros_like(recall), where=predicted_count > 0)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(recall), where=(precision + recall) > 0
    )
    return {
        "wa": float(hits.sum() / max(1, matrix.sum())),
        "ua": float(recall.mean()) if present.any() else 0.0,
        "f1": float(f1.mean()) if present.any() else 0.0,
        "confusion": matrix.tolist(),
    }
