"""PNG figures from result records: the prompt-length curve (paper Figure 2), confusion matrices.

Matplotlib's Agg backend only: no display is needed, and a figure never opens a window.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.api import DataError  # noqa: E402
from bench.results.catalog import Found  # noqa: E402
from bench.results.tables import Report  # noqa: E402
from bench.util import fileio


def _save(figure, path: Path) -> Path:
    path = Path(path)
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, dpi=150, format="png")
    plt.close(figure)
    fileio.atomic_write(path, png.getvalue())
    return path


def prompt_length(report: Report, path: Path, metric: str) -> Path:
    """Gain (points) against tokens per soundscape, one line per backbone and dataset."""
    if not report.rows:
        raise DataError("no run with fine-tune + ACPT and a fine-tuned baseline was found: nothing to plot")
    tokens = [int(c) for c in report.columns]
    figure, axes = plt.subplots(figsize=(5.5, 3.6))
    for label, cells in report.rows:
        points = [(t, c) for t, c in zip(tokens, cells) if c.mean is not None]
        axes.errorbar(
            [t for t, _ in points],
            [c.mean for _, c in points],
            yerr=[c.std or 0.0 for _, c in points],
            marker="o",
            capsize=3,
            label=label,
        )
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xscale("log", base=2)
    axes.set_xticks(tokens, [str(t) for t in tokens])
    axes.set_xlabel("ACPT tokens per soundscape")
    axes.set_ylabel(f"{metric.upper()} gain over fine-tune (points)")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return _save(figure, path)


def confusion(found: Found, path: Path) -> Path:
    """The run's main row, confusion summed over folds and seeds, rows normalised to recall %."""
    wanted = found.record.main_key()
    units = found.record.units_of(wanted)
    if not units:
        raise DataError(f"{found.path}: no units of the run's main row to draw")
    counts = np.sum([np.asarray(u.confusion, dtype=float) for u in units], axis=0)
    recall = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    classes = found.record.dataset.classes
    figure, axes = plt.subplots(figsize=(1.1 * len(classes) + 2.2, 1.0 * len(classes) + 1.6))
    image = axes.imshow(recall, cmap="Blues", vmin=0, vmax=100)
    for i in range(len(classes)):
        for j in range(len(classes)):
            axes.text(
                j,
                i,
                f"{recall[i, j]:.0f}",
                ha="center",
                va="center",
                color="white" if recall[i, j] > 60 else "black",
                fontsize="small",
            )
    axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{found.backbone} on {found.dataset}: {units[0].label}", fontsize="medium")
    figure.colorbar(image, ax=axes, label="% of true class")
    return _save(figure, path)
