"""`bench data ...`: check that a folder is the corpus a loader expects, and decode it once.

``check`` prints what a user compares with the corpus documentation: counts per class,
speaker, gender and split, the folds of the default protocol, and every skipped file with
its reason; it exits with 2 when the folder is not that corpus. ``--decode`` also decodes
every clip (in worker processes) and lists the ones that fail.

``prepare`` decodes a container-heavy corpus (MELD mp4, MEAD m4a, CREMA-D flv) into 16-bit
mono WAV at the file's own rate (or ``--sample-rate``), keeping the corpus' layout and file
names and copying its annotation files, so the same loader reads the copy and every later
run skips FFmpeg. A file already converted is left alone, so an interrupted run resumes.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from bench.api import DataError, DatasetLoader, ScanResult, Utterance
from bench.audio import io as audio
from bench.cli.common import out, user_errors
from bench.data.roots import resolve_root
from bench.plugins import registry
from bench.util.progress import bar

app = typer.Typer(help="Inspect and prepare corpora.", no_args_is_help=True)

ANNOTATION_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".csd")
CHECK_RATE = 16_000  # --decode resamples to a common rate, like a run would

DatasetOpt = Annotated[str, typer.Option("--dataset", "-d", help="Dataset plugin name (see `bench list`).")]
RootOpt = Annotated[
    Path | None,
    typer.Option("--root", "--data-root", help="Corpus folder (default: the loader's environment variable or config)."),
]
WorkersOpt = Annotated[int, typer.Option("--workers", "-j", min=1, help="Worker processes for decoding.")]


def _scan(dataset: str, root: Path | None) -> tuple[DatasetLoader, Path, ScanResult]:
    loader = registry.dataset(dataset)
    folder = resolve_root(loader, root)
    return loader, folder, loader.scan(folder)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _files_table(title: str, rows: Sequence[tuple[Path, str]], root: Path) -> Table:
    table = Table(title=f"{title} ({len(rows)})")
    table.add_column("file", overflow="fold")
    table.add_column("reason", overflow="fold")
    for path, reason in rows:
        table.add_row(escape(_relative(path, root)), escape(reason))
    return table


def _parallel(work: Callable, jobs: Sequence[tuple], workers: int, label: str) -> list[tuple[tuple, str | None]]:
    """Run ``work(*job)`` in worker processes with a progress bar; (job, error or None) in job order."""
    results: dict[int, str | None] = {}
    with ProcessPoolExecutor(max_workers=min(workers, max(1, len(jobs)))) as pool, bar(label, len(jobs)) as advance:
        futures = {pool.submit(work, *job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            advance()
    return [(job, results[i]) for i, job in enumerate(jobs)]


# ------------------------------------------------------------------------------------------
# check
# ------------------------------------------------------------------------------------------


def _count_table(
    title: str,
    key: str,
    utterances: Sequence[Utterance],
    classes: Sequence[str],
    value: Callable[[Utterance], str | None],
    gender: bool = False,
) -> Table:
    """Rows: the values of ``value`` (speaker, split...); columns: total and one per class."""
    table = Table(title=title)
    table.add_column(key)
    if gender:
        table.add_column("gender")
    table.add_column("total", justify="right")
    for name in classes:
        table.add_column(name, justify="right", overflow="fold")
    rows: dict[str, Counter] = {}
    genders: dict[str, str] = {}
    for utt in utterances:
        row = str(value(utt))
        rows.setdefault(row, Counter())[utt.label] += 1
        genders[row] = utt.gender or "?"
    for row, counts in sorted(rows.items()):
        cells = [str(counts[c]) if counts[c] else "[dim]0[/]" for c in classes]
        table.add_row(escape(row), *([genders[row]] if gender else []), str(sum(counts.values())), *cells)
    return table


def _fold_table(
    loader: DatasetLoader, utterances: Sequence[Utterance], protocol: str | None, emobox_dir: Path | None, root: Path
) -> list[Table | str]:
    """The folds of a protocol; for ``emobox`` also every utterance that did not match, by name."""
    from bench.data import emobox

    protocol = protocol or loader.protocols[0]
    shown: list[Table | str] = []
    try:
        if protocol == "emobox-track2":
            raise DataError(
                "its folds need a training corpus; check the test corpus's utterances with --protocol emobox"
            )
        if protocol == "emobox":
            part = emobox.partition(loader, utterances, emobox.data_dir(emobox_dir))
            folds = part.folds
            shown.append(f"EmoBox: {part.summary()}")
            if part.missing or part.unlisted:
                shown.append(_files_table("Not matched between EmoBox's lists and the corpus", part.skipped(), root))
        else:
            folds = loader.folds(utterances, protocol)
    except DataError as err:
        return [f"[yellow]folds of {protocol!r} not available:[/] {escape(str(err))}"]
    table = Table(title=f"Folds of protocol '{protocol}'")
    for name in ("fold", "train", "test"):
        table.add_column(name, justify="left" if name == "fold" else "right")
    for fold in folds:
        table.add_row(fold.name, str(len(fold.train)), str(len(fold.test)))
    return [table, *shown]


def _try_load(path: Path, offset: float, duration: float | None) -> str | None:
    try:
        audio.load(path, CHECK_RATE, offset, duration)
    except audio.AudioError as err:
        return str(err)
    return None


@app.command()
def check(
    dataset: DatasetOpt,
    root: RootOpt = None,
    decode: Annotated[bool, typer.Option("--decode", help="Also decode every clip and report failures.")] = False,
    workers: WorkersOpt = os.cpu_count() or 1,
    protocol: Annotated[
        str | None, typer.Option(help="Protocol whose folds to print (default: the loader's first).")
    ] = None,
    emobox: Annotated[Path | None, typer.Option(help="EmoBox's data/ folder, for --protocol emobox.")] = None,
) -> None:
    """Validate a corpus folder and print its counts and skipped files."""
    with user_errors():
        loader, folder, result = _scan(dataset, root)
    utts = result.utterances
    classes = list(loader.classes) + sorted({u.label for u in utts} - set(loader.classes))
    out.print(
        f"[bold]{loader.name}[/] at {escape(str(folder))}: {len(utts)} utterances, "
        f"{len({u.speaker for u in utts} - {None})} speakers, {len(result.skipped)} files skipped"
    )
    totals = Counter(u.label for u in utts)
    table = Table(title="Classes")
    for name in ("class", "utterances", "share"):
        table.add_column(name, justify="left" if name == "class" else "right")
    for name in classes:
        table.add_row(
            name, str(totals[name]) if totals[name] else "[yellow]0[/]", f"{100 * totals[name] / len(utts):.1f}%"
        )
    out.print(table)
    if any(u.speaker for u in utts):
        out.print(_count_table("Speakers", "speaker", utts, classes, lambda u: u.speaker, gender=True))
    if any(u.gender for u in utts):
        out.print(_count_table("Genders", "gender", utts, classes, lambda u: u.gender or "unknown"))
    if any(u.session for u in utts):
        out.print(_count_table("Sessions", "session", utts, classes, lambda u: u.session))
    if any(u.split for u in utts):
        out.print(_count_table("Splits", "split", utts, classes, lambda u: u.split))
    for shown in _fold_table(loader, utts, protocol, emobox, folder):
        out.print(shown, highlight=False, soft_wrap=True)
    if result.skipped:
        out.print(_files_table("Skipped", result.skipped, folder))
    if decode:
        jobs = [(u.path, u.offset, u.duration) for u in utts]
        failed = [(job[0], err) for job, err in _parallel(_try_load, jobs, workers, "decoding") if err]
        out.print(f"decoded {len(jobs) - len(failed)} of {len(jobs)} clips")
        if failed:
            out.print(_files_table("Not decodable", failed, folder))


# ------------------------------------------------------------------------------------------
# prepare
# ------------------------------------------------------------------------------------------


def convert(source: Path, target: Path, sample_rate: int | None) -> str | None:
    """Decode one file to 16-bit mono WAV at ``target`` (written whole, then renamed into place)."""
    import soundfile as sf

    try:
        data, rate = audio.decode(source)
    except audio.AudioError as err:
        return str(err)
    if data.shape[1] == 0:
        return "no samples (zero-length audio)"
    wave = data.mean(axis=0)
    if sample_rate and sample_rate != rate:
        wave, rate = audio.resample(wave, rate, sample_rate), sample_rate
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    sf.write(partial, np.clip(wave, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
    os.replace(partial, target)
    return None


@app.command()
def prepare(
    dataset: DatasetOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the decoded copy of the corpus.")],
    root: RootOpt = None,
    sample_rate: Annotated[
        int | None, typer.Option("--sample-rate", min=1000, help="Resample to this rate (default: keep each file's).")
    ] = None,
    workers: WorkersOpt = os.cpu_count() or 1,
) -> None:
    """Decode a corpus into WAV once (in parallel), keeping its layout, names and annotations."""
    with user_errors():
        loader, folder, result = _scan(dataset, root)
        output = output.expanduser()
        if output.resolve() == folder.resolve() or folder.resolve() in output.resolve().parents:
            raise DataError(f"prepare: --output {output} must lie outside the corpus root {folder}")
    sources = sorted({u.path for u in result.utterances})
    targets = {src: output / Path(_relative(src, folder)).with_suffix(".wav") for src in sources}
    todo = [(src, targets[src], sample_rate) for src in sources if not targets[src].exists()]
    copied = 0
    for path in _annotation_files(folder):
        target = output / _relative(path, folder)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied += 1
    failed = [(job[0], err) for job, err in _parallel(convert, todo, workers, "decoding") if err] if todo else []
    out.print(
        f"[bold]{loader.name}[/] -> {output}: {len(todo) - len(failed)} files decoded, "
        f"{len(sources) - len(todo)} already done, {len(failed)} failed, {copied} annotation files copied"
    )
    if failed:
        out.print(_files_table("Not decodable", failed, folder))
    out.print(f"read it with: bench data check --dataset {loader.name} --root {output}")


def _annotation_files(root: Path) -> list[Path]:
    return [
        Path(folder) / name
        for folder, _, names in os.walk(root)
        for name in sorted(names)
        if Path(name).suffix.lower() in ANNOTATION_SUFFIXES and not name.startswith("._")
    ]
