"""Run a front-end recipe (:class:`bench.api.FrontEnd`) on one file: decode, resample, quantise,
trim and fit, as the backbone's own package does."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from bench.api import FrontEnd
from bench.audio import io as audio


def prepare(path: Path, front_end: FrontEnd, offset: float = 0.0, duration: float | None = None) -> np.ndarray:
    """Run the recipe on one file segment: float32 ``[n]``; :class:`bench.audio.io.AudioError` if unusable."""
    wave = audio.load(
        path, front_end.sample_rate, offset, duration, resampler=front_end.resampler, flatten=front_end.flatten
    )
    if front_end.quantise:
        wave = ((np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)
    if front_end.vad:
        wave = _resemblyzer_trim(wave)
    if front_end.n_samples is None or (front_end.keep_longer and len(wave) > front_end.n_samples):
        return wave.astype(np.float32, copy=False)
    return audio.fit_length(wave, front_end.n_samples, front_end.pad_mode)


def _resemblyzer_trim(wave: np.ndarray) -> np.ndarray:
    """resemblyzer's ``preprocess_wav`` after resampling: volume up to -30 dBFS, long silences cut.

    Where the detector keeps nothing (tones, noise, whispers), resemblyzer itself would fail on
    the empty clip; we keep the clip untrimmed instead, so no evaluation fold loses clips to it.
    """
    with warnings.catch_warnings():  # webrtcvad's import of pkg_resources warns on every run: not the user's news
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*scipy.ndimage.morphology", category=DeprecationWarning)
        from resemblyzer.audio import normalize_volume, trim_long_silences
        from resemblyzer.hparams import audio_norm_target_dBFS

    louder = normalize_volume(wave, audio_norm_target_dBFS, increase_only=True)
    trimmed = trim_long_silences(louder)
    return (trimmed if len(trimmed) else louder).astype(np.float32)
