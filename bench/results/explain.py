"""`bench explain`: a run's diagnostics as tables and one PNG, read from its record and unit files.

The figures come from the methods that computed them (CLEP-DG:
:mod:`bench.methods.clep_dg.diagnostics`): the record holds each arm's averages over units,
the unit files each unit's whole, including the 2-D PCA of the joint space drawn here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich import box
from rich.table import Table

from bench.api import DataError
from bench.results.schema import Record, Unit


def _arm_name(entry: dict, record: Record) -> str:
    row = record.row((entry["finetune"], entry["method"], entry["arm"]))
    return row.label if row else f"{entry['method']} {entry['arm']}".strip()


def _figure(value) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
    return table


def tables(record: Record) -> list[Table]:
    """What the record's diagnostics say, one table per question (none: the run has none)."""
    entries = record.diagnostics
    if not entries:
        return []
    transfer = _table(
        "Transfer: the classifier's accuracy on its training text, the descriptions, training and test audio",
        ["row", "training text", "descriptions", "training audio", "test audio (WA)"],
    )
    space = _table(
        "Joint space: text collapse (cosines) and the modality gap",
        ["row", "same-class desc.", "other-class desc.", "desc. to caption", "audio-caption offset",
         "audio-desc. offset", "audio to own caption", "audio to other captions"],
    )  # fmt: skip
    acpt = _table(
        "ACPT: soundscape specificity (chance 1/S), prompts of one class across soundscapes, context drift",
        ["row", "target", "specificity", "chance", "prompt cosine", "drift / token", "drift / init",
         "drift / token emb.", "L_CLS first → last", "L_RANK first → last"],
    )  # fmt: skip
    weights = _table(
        "Class weights: cosine with the class caption / with the training-audio centroid",
        ["row", *record.dataset.classes],
    )
    for entry in entries:
        name = _arm_name(entry, record)
        moved = entry.get("transfer", {})
        tested = record.row((entry["finetune"], entry["method"], entry["arm"]))
        transfer.add_row(
            name,
            _figure(moved.get("training_text")),
            _figure(moved.get("descriptions")) + (" (trained on)" if moved.get("descriptions_trained_on") else ""),
            _figure(moved.get("training_audio")),
            _figure(tested.wa if tested else None),
        )
        collapse, gap = entry.get("text_collapse", {}), entry.get("modality_gap", {})
        space.add_row(
            name,
            *(_figure(collapse.get(k)) for k in ("same_class", "different_class", "to_caption")),
            *(
                _figure(gap.get(k))
                for k in (
                    "audio_to_caption_offset",
                    "audio_to_description_offset",
                    "own_caption_cosine",
                    "other_caption_cosine",
                )
            ),  # fmt: skip
        )
        if "acpt" in entry:
            a, drift = entry["acpt"], entry["acpt"]["drift"]
            acpt.add_row(
                name,
                str(a.get("target")),
                _figure(a["specificity"]["share"]),
                _figure(a["specificity"]["chance"]),
                _figure(a.get("prompt_similarity")),
                *(_figure(_mean(drift.get(k))) for k in ("per_token", "relative_to_init", "relative_to_token")),
                f"{_figure(a['l_cls'][0])} → {_figure(a['l_cls'][-1])}",
                f"{_figure(a['l_rank'][0])} → {_figure(a['l_rank'][-1])}",
            )
        if "class_weights" in entry:
            cw = entry["class_weights"]
            pairs = zip(cw["to_caption"], cw["to_audio_centroid"], strict=True)
            weights.add_row(name, *(f"{_figure(c)} / {_figure(a)}" for c, a in pairs))
    return [t for t in (transfer, space, acpt, weights) if t.row_count]


def _mean(values) -> float | None:
    values = [v for v in values or [] if v is not None]
    return float(np.mean(values)) if values else None


def _first_pca(record: Record, run_dir: Path) -> tuple[str, dict] | None:
    """The PCA of the main row's arm in the first unit file that has one."""
    main = record.main_key()
    for path in sorted((run_dir / "units").glob("*.json")):
        unit = Unit.read(path)
        for entry in unit.diagnostics:
            if "pca" in entry and (main is None or (entry["finetune"], entry["method"], entry["arm"]) == main):
                return f"{_arm_name(entry, record)}, seed {unit.seed}, fold {unit.fold}", entry["pca"]
    return None


def plot(record: Record, run_dir: Path, path: Path) -> Path:
    """One PNG: the PCA of the joint space, ACPT's loss curves, specificity and drift per soundscape."""
    from bench.results.plots import _save, plt

    if not record.diagnostics:
        raise DataError(f"{run_dir}: the record has no diagnostics (a run of a method that gives none)")
    with_acpt = next((e for e in record.diagnostics if "acpt" in e and e["finetune"] == record.config.finetune), None)
    with_acpt = with_acpt or next((e for e in record.diagnostics if "acpt" in e), None)
    figure, axes = plt.subplots(2, 2, figsize=(11, 9))
    _draw_pca(axes[0][0], _first_pca(record, run_dir), record.dataset.classes)
    if with_acpt is not None:
        name, a = _arm_name(with_acpt, record), with_acpt["acpt"]
        axes[0][1].plot(a["l_cls"], label="L_CLS")
        axes[0][1].plot(a["l_rank"], label="L_RANK")
        axes[0][1].set(title=f"ACPT losses ({name}, mean over units)", xlabel="iteration", ylabel="loss")
        axes[0][1].legend()
        matrix = np.asarray(a["specificity"]["matrix"], dtype=float)
        shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1e-12)
        scapes = a.get("soundscapes") or [str(s) for s in range(len(shares))]
        image = axes[1][0].imshow(shares, cmap="Blues", vmin=0, vmax=1)
        axes[1][0].set(
            title=f"specificity {a['specificity']['share']:.2f} (chance {a['specificity']['chance']:.2f})",
            xlabel="nearest prompt's soundscape",
            ylabel="description's soundscape",
        )
        axes[1][0].set_xticks(range(len(scapes)), scapes, rotation=60, ha="right", fontsize="x-small")
        axes[1][0].set_yticks(range(len(scapes)), scapes, fontsize="x-small")
        figure.colorbar(image, ax=axes[1][0], label="share of descriptions")
        drift = a["drift"]
        axes[1][1].bar(range(len(drift["per_token"])), drift["per_token"])
        axes[1][1].set_xticks(range(len(scapes)), scapes, rotation=60, ha="right", fontsize="x-small")
        axes[1][1].set(title="context drift per soundscape", ylabel="norm of change per token")
    else:
        for ax in (axes[0][1], axes[1][0], axes[1][1]):
            ax.axis("off")
    return _save(figure, path)


def _draw_pca(axes, found: tuple[str, dict] | None, classes: list[str]) -> None:
    from bench.results.plots import plt

    if found is None:
        axes.axis("off")
        return
    title, points = found
    colours = [plt.get_cmap("tab10")(i % 10) for i in range(len(classes))]
    markers = {"audio": ".", "captions": "*", "descriptions": "x", "prompts": "^"}
    for group, marker in markers.items():
        if group not in points:
            continue
        xy, labels = np.asarray(points[group]), points["classes"][group]
        size = 120 if group == "captions" else 18
        axes.scatter(xy[:, 0], xy[:, 1], c=[colours[c] for c in labels], marker=marker, s=size, alpha=0.7)
        axes.scatter([], [], c="grey", marker=marker, label=group)
    for c, name in enumerate(classes):
        axes.scatter([], [], c=[colours[c]], marker="s", label=name)
    axes.set(title=f"joint space, PCA ({title})", xlabel="PC 1", ylabel="PC 2")
    axes.legend(fontsize="x-small", ncol=2)
