"""Result records and fine-tuned checkpoints: self-describing files that later commands read.

A record says which code (version, git commit), config, weights (hashes), data (corpus
fingerprint, skipped files) and package versions produced each per-unit figure. Tables
are rendered from records, never from memory. Their shapes and their one JSON round trip
are :mod:`bench.results.schema`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import platform
import subprocess
import time
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from bench.api import Backbone, CheckpointError, DataError, Fold
from bench.results.schema import SCHEMA, Record, Row, summarize
from bench.util import fileio, identity

CHECKPOINT_FORMAT = "bench-finetuned"
PACKAGES = ("ser-bench", "torch", "torchaudio", "numpy", "transformers", "laion-clap", "msclap", "optuna")


def run_dir(config, backbone: str, data: str, device: str, code: str) -> Path:
    """The run's folder, named by a hash of everything that decides its numbers.

    The same command on the same data and backbone finds the same folder, which is how a
    killed run resumes; a different setting, corpus content, backbone or core code
    (``code``: bench.util.identity.run_code), weight file, or device gets a new one. ``backbone``
    is :func:`backbone_fingerprint`, read without building the model, so a run whose units
    are all on disk loads no weights at all. The folder is made by its first file, so an
    error before any unit is finished leaves no empty folder behind.
    """
    key = json.dumps(
        {"config": config.identity(), "backbone": backbone, "data": data, "device": device, "code": code},
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    safe_dataset = config.dataset.replace(",", "+")
    return Path(config.output) / f"{config.backbone}-{safe_dataset}-{digest}"


def backbone_fingerprint(cls: type[Backbone], options: dict[str, str]) -> str:
    """What decides a backbone's initial weights, read without building it: its name and
    options, the source of its modules (random initialisations live there; see
    bench.util.identity), and the path, size and mtime of every weight file it names (as the
    corpus fingerprint does for audio). The hash of the weights themselves goes into the
    record and each unit.
    """
    digest = hashlib.sha256(json.dumps({"name": cls.name, "options": options}, sort_keys=True).encode())
    digest.update(f"{cls.__module__}.{cls.__qualname__}:{identity.code_hash(identity.backbone_files(cls))}".encode())
    for needed in required_files(cls, options):
        stat = Path(needed.path).stat() if needed.found else None
        digest.update(f"{needed.path}|{stat.st_size if stat else -1}|{stat.st_mtime_ns if stat else 0}".encode())
    return digest.hexdigest()[:16]


def required_files(cls: type[Backbone], options: dict[str, str]) -> list:
    """The backbone's weight files as its options choose them (the options it accepts)."""
    accepted = inspect.signature(cls.required_files).parameters
    return cls.required_files(**{k: v for k, v in options.items() if k in accepted})


def _git(*args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_commit() -> str | None:
    """The checked-out commit, with ``-dirty`` when tracked files differ from it (the record's
    numbers then came from code no commit holds: ``code.hash`` still names it)."""
    head = _git("rev-parse", "HEAD")
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return None
    changed = _git("status", "--porcelain", "--untracked-files=no")
    dirty = changed is not None and changed.returncode == 0 and bool(changed.stdout.strip())
    return head.stdout.strip() + ("-dirty" if dirty else "")


def code_identity(backbone: type[Backbone], methods: Sequence[type] = ()) -> dict:
    """Which code computes a run, read once when it starts: a run that outlives a commit or an
    edit is named by the code it started with (its folder is keyed by the same hash)."""
    return {
        "version": metadata.version("ser-bench"),
        "git_commit": git_commit(),
        "hash": identity.run_code(backbone, methods),
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def corpus_fingerprint(utterances) -> str:
    """Hash of (uid, label, size, mtime) of every utterance: changes when the data does."""
    digest = hashlib.sha256()
    for utt in sorted(utterances, key=lambda u: u.uid):
        stat = utt.path.stat() if utt.path.exists() else None
        digest.update(
            f"{utt.uid}|{utt.label}|{stat.st_size if stat else -1}|{int(stat.st_mtime) if stat else 0}".encode()
        )
    return digest.hexdigest()[:16]


# --- checkpoints ---------------------------------------------------------------------------


def save_checkpoint(path: Path, backbone: Backbone, config, info: dict, fold: Fold | None) -> Path:
    """The trainable weights of a fine-tuned backbone plus what they were trained on."""
    import io

    payload = {
        "format": CHECKPOINT_FORMAT,
        "schema": SCHEMA,
        "backbone": backbone.name,
        "backbone_options": dict(config.backbone_options),
        "trained_on": {k: info[k] for k in ("corpora", "clips", "loss", "without_gender") if k in info},
        "fold": fold.name if fold else None,
        "evaluated_dataset": config.dataset if fold else None,
        "state": backbone.trainable_state(),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    fileio.atomic_write(path, buffer.getvalue())
    return path


def load_checkpoint(path: Path, backbone: Backbone | None = None) -> dict:
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or not a torch file: torch raises many types
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a bench fine-tuned checkpoint (write one with `bench finetune`)")
    if backbone is not None and payload["backbone"] != backbone.name:
        raise CheckpointError(f"{path}: checkpoint of backbone {payload['backbone']!r}, not {backbone.name!r}")
    return payload


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint at ``path`` is damaged, found without loading its weights (a torch
    file is a zip archive whose directory is at its end: a file cut short has none), or None."""
    try:
        with zipfile.ZipFile(path):
            return None
    except (OSError, zipfile.BadZipFile) as err:
        return f"{path}: not a readable checkpoint ({type(err).__name__}: {err})"


def guard_checkpoint(path: Path, dataset: str) -> None:
    """Leakage guard for a single checkpoint file: it must not have seen the evaluated corpus."""
    trained_on = load_checkpoint(path)["trained_on"]
    if dataset in trained_on["corpora"]:
        raise DataError(
            f"{path} was fine-tuned on {dataset}; evaluating it on {dataset} would leak test data. "
            "Pass the run's checkpoints/ folder (one fold-aware checkpoint per fold) instead"
        )


# --- records -------------------------------------------------------------------------------


UNIT_ONLY = ("pca",)  # diagnostics too large for a record: the unit files keep them


def summarize_diagnostics(units: list[list[dict]]) -> list[dict]:
    """Each (weight state, method, arm)'s diagnostics averaged over the units that gave them:
    numbers and equal-shaped lists element-wise (None and NaN left out), other values kept
    where every unit agrees; ``units``: each unit's list (bench.results.schema.Unit.diagnostics)."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for figures in units:
        for entry in figures:
            grouped[(entry["finetune"], entry["method"], entry["arm"])].append(entry)
    summary = []
    for (tuned, method, arm), entries in grouped.items():
        merged = _average([{k: v for k, v in e.items() if k not in UNIT_ONLY} for e in entries])
        summary.append({**merged, "finetune": tuned, "method": method, "arm": arm, "units": len(entries)})
    return summary


def _average(values: list):
    first = values[0]
    if isinstance(first, dict):
        keys = [k for k in first if all(isinstance(v, dict) and k in v for v in values)]
        return {k: _average([v[k] for v in values]) for k in keys}
    if isinstance(first, bool) or not isinstance(first, (int, float, list)):
        return first if all(v == first for v in values) else None
    if isinstance(first, list):
        if all(v == first for v in values):  # the same in every unit (names, a constant): kept as it is
            return first
        try:
            stacked = np.array(values, dtype=float)
        except (TypeError, ValueError):  # lists of other shapes: nothing to average
            return None
        return np.round(np.nanmean(stacked, axis=0), 4).tolist() if stacked.size else []
    numbers = [float(v) for v in values if v is not None and not np.isnan(v)]
    return round(float(np.mean(numbers)), 4) if numbers else None


def build(
    *,
    config,
    code: dict,
    backbone: type[Backbone],
    fingerprint,
    initial_weights,
    corpus,
    protocol,
    folds,
    units: list[Row],
    finetunes,
    checkpoints,
    skipped,
    seconds,
    device,
    stage_seconds,
    diagnostics=(),
    conditions=None,
) -> Record:
    """The record; ``code``: :func:`code_identity` at the run's start; ``conditions``: the part of
    :func:`bench.results.soundscape.record_part`, when any were tested."""
    settings = config.model_dump(mode="json")
    return Record.model_validate(
        {
            "schema": SCHEMA,
            "kind": "bench.run",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "code": code,
            "config": settings,
            "backbone": {
                "name": backbone.name,
                "fingerprint": fingerprint,
                "front_end": config.backbone_options.get("front_end", "official"),
                "initial_weights": initial_weights,
                "files": {str(f.path): f.found for f in required_files(backbone, config.backbone_options)},
                "finetuned_checkpoints": checkpoints,
            },
            "dataset": {
                "name": corpus.name,
                "root": str(corpus.root) if corpus.root else None,
                "classes": list(corpus.classes),
                "utterances": len(corpus.utterances),
                "fingerprint": corpus_fingerprint(corpus.utterances),
                "protocol": protocol,
                "folds": [{"name": f.name, "train": len(f.train), "test": len(f.test)} for f in folds],
                "skipped": [{"file": f, "reason": r} for f, r in skipped],
            },
            "seeds": list(range(config.seeds)),
            "units": units,
            "finetunes": finetunes,
            "summary": summarize(units),
            **({"conditions": conditions} if conditions else {}),
            "diagnostics": summarize_diagnostics(list(diagnostics)),
            "versions": versions(),
            "device": device,
            "timings": {
                "total_seconds": round(seconds, 1),  # this invocation (a resumed run: only what it computed)
                "unit_seconds": {  # every unit's own compute time, summed per stage (where a run's time goes)
                    stage: round(sum(unit.get(stage, 0.0) for unit in stage_seconds), 1)
                    for stage in sorted({stage for unit in stage_seconds for stage in unit})
                },
            },
        }
    )
