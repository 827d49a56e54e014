"""Clips for the encoder, decoded and resampled in worker processes and streamed in order.

Decoding is the only per-file work. One task decodes one batch of files into one contiguous
array, so the parent receives a few large arrays rather than many small objects, and at most
``workers + 1`` batches are in flight whatever the corpus size: memory stays flat and a
corpus larger than RAM streams through. Workers are spawned, not forked, so they never
inherit the parent's torch thread pools, and this module imports no torch so they start fast.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.api import FrontEnd
from bench.audio import frontend
from bench.audio import io as audio
from bench.runtime.environment import environment


@dataclass(frozen=True)
class Clip:
    """One segment of a file, as a worker needs it (small and picklable)."""

    path: str
    offset: float = 0.0
    duration: float | None = None


MAX_WORKERS = 8
# What starting a worker costs: a spawned interpreter imports the parent's main module
# (under the `bench` command, the CLI and torch: about 2.5 s on a 2-core machine).
WORKER_START_SECONDS = 3.0


def configured_workers() -> int | None:
    """``BENCH_DECODE_WORKERS`` when set; None lets :func:`choose_workers` decide."""
    return environment().decode_workers


def choose_workers(decode_seconds: float, encode_seconds: float, batches: int, cpu_encoder: bool) -> int:
    """How many decoding processes finish ``batches`` more batches soonest, from the time one
    batch took to decode and to encode in this process.

    In-process decoding adds its time to every batch; ``w`` workers hide it (decoding ``w``
    batches at once) but cost a start each and, when the encoder runs on the CPU, compete with
    its threads for the cores (the encoder keeps its thread count: a timed choice must not
    change a bit of its output). Cheap WAVs before a heavy encoder stay in process; compressed
    video before a light encoder gets workers.
    """
    cores = os.cpu_count() or 1
    best, best_seconds = 0, batches * (decode_seconds + encode_seconds)
    for workers in range(1, min(MAX_WORKERS, cores - 1) + 1):
        encode = encode_seconds * (cores + workers) / cores if cpu_encoder else encode_seconds
        seconds = WORKER_START_SECONDS + batches * max(encode, decode_seconds / workers)
        if seconds < best_seconds:
            best, best_seconds = workers, seconds
    return best


def decode_batch(clips: Sequence[Clip], prep: FrontEnd) -> tuple[np.ndarray | list[np.ndarray], list[str | None]]:
    """Waveforms of the usable clips and, per clip, ``None`` or why it is unusable.

    ``[usable, n_samples]`` float32 when every clip has the front-end's fixed length, else a
    list of 1-D arrays (whole clips, or a clip longer than ``n_samples`` that it keeps).
    """
    waves, reasons = [], []
    for clip in clips:
        try:
            wave = frontend.prepare(Path(clip.path), prep, clip.offset, clip.duration)
        except audio.AudioError as err:
            reasons.append(f"{Path(clip.path).name}: {err}")
            continue
        waves.append(wave)
        reasons.append(None)
    if prep.n_samples is None or any(len(wave) != prep.n_samples for wave in waves):
        return waves, reasons
    if not waves:
        return np.empty((0, prep.n_samples), np.float32), reasons
    return np.stack(waves).astype(np.float32, copy=False), reasons


def stream(
    batches: Iterable[Sequence[Clip]], prep: FrontEnd, workers: int
) -> Iterator[tuple[np.ndarray | list[np.ndarray], list[str | None]]]:
    """Decoded batches in the order given; ``workers=0`` decodes in this process."""
    if workers <= 0:
        for batch in batches:
            yield decode_batch(batch, prep)
        return
    todo = iter(batches)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    pending: deque[Future] = deque()
    try:
        for batch in todo:
            pending.append(pool.submit(decode_batch, batch, prep))
            if len(pending) > workers:
                break
        while pending:
            result = pending.popleft().result()
            following = next(todo, None)
            if following is not None:
                pending.append(pool.submit(decode_batch, following, prep))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
