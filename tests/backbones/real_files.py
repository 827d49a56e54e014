"""Real speech files for the file-path parity tests, made from EmoDB clips.

Lengths whose multiples meet 10 s exactly (1, 2, 2.5, 5 s) catch loader length rounding;
3.3 s and 12 s catch repeat padding and the (pinned) crop; the rates are the common ones and
two files are stereo with different content per channel. Speech is peak-normalised to 0.99,
so resampling overshoots full scale and clipping rules matter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SOURCE_RATE = 22_050  # the shared EmoDB copy: 16-bit mono, 22.05 kHz, 2.0 s per file
# (seconds, rate, channels)
CASES = [(1.0, 16_000, 1), (2.0, 22_050, 1), (2.5, 44_100, 2), (3.3, 48_000, 1), (5.0, 22_050, 2), (12.0, 44_100, 1)]


def speech(emodb_root: Path, seconds: float) -> np.ndarray:
    """EmoDB clips laid end to end, at least ``seconds`` long, peak 0.99."""
    chunks, total = [], 0
    for path in sorted(Path(emodb_root).rglob("*.wav")):
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        assert rate == SOURCE_RATE, f"{path}: the shared EmoDB copy is {SOURCE_RATE} Hz"
        chunks.append(data[:, 0])
        total += len(data)
        if total >= seconds * SOURCE_RATE:
            break
    wave = np.concatenate(chunks)[: int(seconds * SOURCE_RATE)]
    return 0.99 * wave / np.abs(wave).max()


def make_files(emodb_root: Path, folder: Path, cases=CASES) -> list[Path]:
    """One 16-bit WAV per case; the second channel of a stereo file is later speech, quieter."""
    folder.mkdir(parents=True, exist_ok=True)
    longest = max(seconds for seconds, _, _ in cases)
    source = speech(emodb_root, 2 * longest + 1)
    files = []
    for seconds, rate, channels in cases:
        n = int(round(seconds * SOURCE_RATE))
        rows = [source[:n], 0.6 * source[n : 2 * n]][:channels]
        data = np.stack([row if rate == SOURCE_RATE else soxr.resample(row, SOURCE_RATE, rate) for row in rows], axis=1)
        path = folder / f"{seconds:g}s-{rate}Hz-{channels}ch.wav"
        sf.write(path, data, rate, subtype="PCM_16")
        files.append(path)
    return files
