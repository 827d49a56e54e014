"""Tables rendered from result records (never from memory): one run's, and the paper's tables.

The paper's tables are built as :class:`Report` objects, independent of the output format
(:mod:`bench.results.render` writes them as Rich, Markdown, LaTeX, CSV or JSON). A reference
(:mod:`bench.results.references`: the paper, or EmoBox) puts its published figure beside ours.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from rich import box
from rich.table import Table

from bench.results import references, stages
from bench.results.catalog import Found, newest, record_of_checkpoints
from bench.results.schema import Record, SummaryRow


def pct(mean: float, std: float) -> str:
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def run_table(record: Record) -> Table:
    """WA/UA/F1 (mean ± std over seeds) per stage setting and baseline of one run."""
    ds = record.dataset
    table = Table(
        title=f"{record.config.backbone} on {ds.name} ({ds.protocol}, {len(ds.folds)} folds, {len(record.seeds)} seeds)",
        caption="WA = accuracy, UA = mean per-class recall, F1 = macro-F1; % mean ± std over seeds",
        box=box.SIMPLE_HEAD,
    )
    for column in ("setting", "FT", "WA %", "UA %", "F1 %"):
        table.add_column(column, justify="left" if column == "setting" else "right", no_wrap=True)
    for row in record.summary:
        table.add_row(
            row.label,
            "✓" if row.finetune else "–",
            pct(row.wa, row.wa_std),
            pct(row.ua, row.ua_std),
            pct(row.f1, row.f1_std),
        )
    return table


# --- the paper's tables, from the records under a folder -------------------------------------

METRICS = ("wa", "ua", "f1")
LOSSES = ("softmax", "arcface")
OBJECTIVES = {"clap": "Emo-CLAP", "ml-gemo": "ML-GEmo-CLAP", "sl-gemo": "SL-GEmo-CLAP"}  # GEmo-CLAP's row names


@dataclass
class Cell:
    """One figure in percent (mean ± std over seeds), the record it came from, the reference's value."""

    mean: float | None = None
    std: float | None = None
    seeds: int = 0
    record: str | None = None
    reference: float | None = None

    @property
    def diff(self) -> float | None:
        return None if self.mean is None or self.reference is None else self.mean - self.reference


@dataclass
class Report:
    """A table independent of its format: titled columns, labelled rows of cells, notes."""

    name: str
    title: str
    row_header: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reference: str = "paper"  # how cells name their reference figure


def _cell(row: SummaryRow | None, metric: str, found: Found, reference: float | None) -> Cell:
    if row is None:
        return Cell(reference=reference)
    return Cell(100 * getattr(row, metric), 100 * getattr(row, f"{metric}_std"), row.seeds, str(found.path), reference)


def _ordered(names, preferred) -> list[str]:
    names = set(names)
    return [n for n in preferred if n in names] + sorted(names - set(preferred))


def _dataset_label(name: str) -> str:
    return references.DATASET_NAMES.get(name, name)


def _with_average(cells: list[Cell], paper_average: float | None) -> Cell:
    """Mean over the row's datasets (only when every one has a figure), beside the paper's printed one."""
    values = [c.mean for c in cells]
    if not values or any(v is None for v in values):
        return Cell(reference=paper_average)
    return Cell(float(np.mean(values)), None, min(c.seeds for c in cells), None, paper_average)


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"--metric must be one of {', '.join(METRICS)}, not {metric!r}")


def comparison(found: list[Found], reference: str | None) -> Report:
    """Backbones x datasets, WA and UA of each run's main row (the paper's Table 2).

    With a reference, only runs on its partitions enter (``emobox``: the EmoBox protocol), and
    its figure for the same corpus and metric stands beside ours.
    """
    references.check(reference)
    candidates = defaultdict(list)
    for f in found:
        if not f.swept and f.main_row() is not None and references.fits(reference, f.record.dataset.protocol):
            candidates[(f.backbone, f.dataset)].append(f)
    chosen, notes = newest(candidates, lambda key: f"{key[0]} on {key[1]}")
    backbones = _ordered({b for b, _ in chosen}, references.BACKBONES)
    datasets = _ordered({d for _, d in chosen}, dict.fromkeys(references.DATASETS + references.EMOBOX_DATASETS))
    title = "EmoBox partitions" if reference == "emobox" else "paper Table 2"
    report = Report(
        "comparison",
        f"Backbones x datasets ({title}): WA / UA %, mean ± std over seeds",
        "backbone",
        [f"{_dataset_label(d)} {m.upper()}" for d in datasets for m in ("wa", "ua")],
        notes=notes,
        reference=references.LABELS.get(reference, "paper"),
    )
    for backbone in backbones:
        cells = []
        for dataset in datasets:
            f = chosen.get((backbone, dataset))
            for metric in ("wa", "ua"):
                figure = references.comparison(reference, backbone, dataset, metric)
                cells.append(_cell(f.main_row() if f else None, metric, f, figure))
        report.rows.append((backbone, cells))
    report.notes.insert(
        0, "each cell: the cross-modal classifier with the run's own stages (fine-tune + ACPT by default)"
    )
    if source := references.models(reference, datasets):
        report.notes.append(source)
    return report


def ablation(
    found: list[Found], metric: str, with_paper: bool, texts: str = "prompts", target: str = "class"
) -> Report:
    """Fine-tune x ACPT rows per dataset from one ablation run each, and ACPT's gain on the
    fine-tuned weights (the paper's Table 3).

    ``texts`` picks the reading (bench.results.stages): ``prompts``, the paper's arms (no ACPT:
    the classifier on the class prompts alone), or ``descriptions``, the named ablation whose
    classifier also trains on the soundscape descriptions; a run enters only the table of the
    reading it was computed in. ``target``: ACPT's (``class``, the paper's; ``soundscape-class``,
    the variant), likewise.
    """
    _check_metric(metric)
    if texts not in stages.READINGS:
        raise ValueError(f"--texts must be one of {', '.join(stages.READINGS)}, not {texts!r}")
    if target not in ("class", "soundscape-class"):
        raise ValueError(f"--target must be class or soundscape-class, not {target!r}")
    candidates = defaultdict(list)
    for f in found:
        own = f.texts == texts and f.record.config.acpt_settings.get("target", "class") == target
        if not f.swept and own and sum(f.stage_row(t, a) is not None for t, a in stages.STAGES) > 1:
            candidates[(f.backbone, f.dataset)].append(f)
    chosen, notes = newest(candidates, lambda key: f"{key[0]} on {key[1]}")
    backbones = _ordered({b for b, _ in chosen}, references.BACKBONES)
    datasets = _ordered({d for _, d in chosen}, references.DATASETS)
    reading = "paper Table 3" if texts == "prompts" else "named ablation: classifier on descriptions + captions"
    if target != "class":
        reading += f"; ACPT's variant target {target}"
    report = Report(
        "ablation",
        f"Stage ablation ({reading}): {metric.upper()} %, mean ± std over seeds",
        "stages",
        [_dataset_label(d) for d in datasets] + ["avg"],
        notes=notes,
    )
    paper_average = with_paper and tuple(datasets) == references.DATASETS
    for backbone in backbones:
        prefix = "" if len(backbones) == 1 else f"{backbone}: "
        for (tuned, acpt), name in sorted(stages.STAGES.items()):
            cells = []
            for dataset in datasets:
                f = chosen.get((backbone, dataset))
                reference = references.ablation(name, backbone, dataset, metric) if with_paper else None
                cells.append(_cell(f.stage_row(tuned, acpt) if f else None, metric, f, reference))
            if all(c.mean is None for c in cells):
                continue
            average = references.ablation(name, backbone, "avg", metric) if paper_average else None
            report.rows.append((prefix + name, [*cells, _with_average(cells, average)]))
        gains = [
            _acpt_gain(f, f, metric, _reference_gain(backbone, d, metric) if with_paper else None)
            for d in datasets
            for f in [chosen.get((backbone, d))]
        ]
        if any(c.mean is not None for c in gains):
            average = _reference_gain(backbone, "avg", metric) if paper_average else None
            report.rows.append((f"{prefix}ACPT gain (fine-tuned)", [*gains, _with_average(gains, average)]))
    arms = stages.ARMS[texts]
    report.notes.insert(
        0,
        f"classifier trained on: {arms[False]} (rows without ACPT), {arms[True]} (with ACPT); "
        "ACPT gain: fine-tune + ACPT minus fine-tune, per seed, in points",
    )
    return report


def _reference_gain(backbone: str, dataset: str, metric: str) -> float | None:
    with_acpt = references.ablation("fine-tune + ACPT", backbone, dataset, metric)
    without = references.ablation("fine-tune", backbone, dataset, metric)
    return None if with_acpt is None or without is None else with_acpt - without


def _acpt_gain(f: Found | None, base: Found | None, metric: str, reference: float | None = None) -> Cell:
    """ACPT's gain on the fine-tuned weights (the paper's comparison): ``f``'s fine-tune + ACPT
    minus ``base``'s fine-tune row, per seed they share, in points."""
    if f is None or base is None:
        return Cell(reference=reference)
    with_acpt, without = f.per_seed(True, True, metric), base.per_seed(True, False, metric)
    per_seed = [100 * (with_acpt[s] - without[s]) for s in with_acpt if s in without]
    if not per_seed:
        return Cell(reference=reference)
    std = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0
    return Cell(float(np.mean(per_seed)), std, len(per_seed), str(f.path), reference)


def loss(found: list[Found], metric: str, with_paper: bool) -> Report:
    """Softmax vs ArcFace classifier per dataset, main row of each run (the paper's Table 4)."""
    _check_metric(metric)
    candidates = defaultdict(list)
    for f in found:
        if f.swept <= {"classifier.loss"} and f.record.config.classifier and f.main_row() is not None:
            candidates[(f.backbone, f.dataset, f.setting("classifier", "loss"))].append(f)
    chosen, notes = newest(candidates, lambda key: f"{key[0]} on {key[1]} with {key[2]}")
    backbones = _ordered({k[0] for k in chosen}, references.BACKBONES)
    datasets = _ordered({k[1] for k in chosen}, references.DATASETS)
    report = Report(
        "loss",
        f"Classifier loss (paper Table 4): {metric.upper()} %, mean ± std over seeds",
        "loss",
        [_dataset_label(d) for d in datasets] + ["avg"],
        notes=notes,
    )
    paper_average = with_paper and tuple(datasets) == references.DATASETS
    for backbone in backbones:
        for name in _ordered({k[2] for k in chosen if k[0] == backbone}, LOSSES):
            cells = []
            for dataset in datasets:
                f = chosen.get((backbone, dataset, name))
                reference = references.loss(name, backbone, dataset, metric) if with_paper else None
                cells.append(_cell(f.main_row() if f else None, metric, f, reference))
            average = references.loss(name, backbone, "avg", metric) if paper_average else None
            label = name if len(backbones) == 1 else f"{backbone}: {name}"
            report.rows.append((label, [*cells, _with_average(cells, average)]))
    return report


def _objective(f: Found) -> str:
    return f.record.config.finetune_settings.get("objective", "clap")  # older records: plain CLAP


def _backbone_label(f: Found) -> str:
    preset = f.record.config.backbone_options.get("preset")
    return f"{f.backbone} {preset}" if preset else f.backbone


def objective(found: list[Found]) -> Report:
    """WA / UA of each fine-tuning objective per dataset, rows named as in GEmo-CLAP's tables."""
    candidates = defaultdict(list)
    for f in found:
        if f.swept <= {"finetune.objective"} and f.record.config.finetune and f.main_row() is not None:
            candidates[(_backbone_label(f), f.dataset, _objective(f))].append(f)
    chosen, notes = newest(candidates, lambda key: f"{key[0]} on {key[1]} with {key[2]}")
    backbones = _ordered({k[0] for k in chosen}, references.BACKBONES)
    datasets = _ordered({k[1] for k in chosen}, references.DATASETS)
    report = Report(
        "objective",
        "Fine-tuning objective (GEmo-CLAP): WA / UA %, mean ± std over seeds",
        "objective",
        [f"{_dataset_label(d)} {m.upper()}" for d in datasets for m in ("wa", "ua")],
        notes=notes,
    )
    for backbone in backbones:
        for name in _ordered({k[2] for k in chosen if k[0] == backbone}, OBJECTIVES):
            cells = []
            for dataset in datasets:
                f = chosen.get((backbone, dataset, name))
                cells += [_cell(f.main_row() if f else None, m, f, None) for m in ("wa", "ua")]
                without = sum(t.get("without_gender", 0) for t in f.record.finetunes) if f else 0
                if without and name != "clap":
                    report.notes.append(
                        f"{backbone} {name} on {dataset}: {without} fine-tuning clips without "
                        "gender took the plain objective (summed over folds and seeds)"
                    )
            label = OBJECTIVES.get(name, name)
            report.rows.append((label if len(backbones) == 1 else f"{backbone}: {label}", cells))
    return report


def prompt_length(found: list[Found], metric: str) -> Report:
    """Gain of fine-tune + ACPT over the fine-tuned baseline per token count (the paper's Figure 2).

    The baseline is the fine-tune row (no ACPT) on the same fine-tuned weights: the run's
    own, or that of the run whose checkpoints it loaded (a sweep trial's base run). The
    gain is taken per seed, then reported as mean ± std over seeds, in points.
    """
    _check_metric(metric)
    candidates = defaultdict(list)
    for f in found:
        if f.swept <= {"acpt.prompt_length"} and f.stage_row(True, True) is not None:
            candidates[(f.backbone, f.dataset, int(f.setting("acpt", "prompt_length")))].append(f)
    chosen, notes = newest(candidates, lambda key: f"{key[0]} on {key[1]} with {key[2]} tokens")
    report = Report(
        "prompt-length",
        f"ACPT prompt length (paper Figure 2): {metric.upper()} gain over fine-tune, points",
        "run",
        [],
        notes=notes,
    )
    gains: dict[tuple[str, str], dict[int, Cell]] = defaultdict(dict)
    for (backbone, dataset, tokens), f in chosen.items():
        base = f if f.stage_row(True, False) is not None else record_of_checkpoints(f, found)
        if base is None or base.stage_row(True, False) is None:
            report.notes.append(f"{f.path}: no fine-tuned baseline row (its run or its checkpoints' run), left out")
            continue
        gain = _acpt_gain(f, base, metric)
        if gain.mean is None:
            report.notes.append(f"{f.path}: no seed in common with its baseline {base.path}, left out")
            continue
        gains[(backbone, dataset)][tokens] = gain
    tokens = sorted({t for by_tokens in gains.values() for t in by_tokens})
    report.columns = [str(t) for t in tokens]
    backbones = _ordered({b for b, _ in gains}, references.BACKBONES)
    for backbone, dataset in sorted(gains, key=lambda k: (backbones.index(k[0]), k[1])):
        by_tokens = gains[(backbone, dataset)]
        report.rows.append((f"{backbone} on {dataset}", [by_tokens.get(t, Cell()) for t in tokens]))
    return report
