"""Audio I/O in one place: decode by content, down-mix, resample, fit to the clip length.

Decoding never trusts the file extension: libsndfile (WAV with any header, AIFF, FLAC, OGG,
MP3) is tried first, then FFmpeg through PyAV for video and compressed containers (FLV, MP4,
M4A, ...). Every failure becomes an :class:`AudioError` whose message says why, so a loader
or a run can skip the file with that reason instead of crashing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.api.frontend import PAD_MODES
from bench.util import fileio

_EMPTY_WAV_BYTES = 128  # more than a canonical WAV header and a few chunks around no samples
# The least audio a clip must hold to be an utterance: no word is shorter (a syllable lasts
# 100-250 ms). A shorter clip is skipped with this in its reason; noise and room responses are
# not clips and take any length.
MIN_CLIP_SECONDS = 0.1


class AudioError(Exception):
    """A file that cannot be used as audio; ``str(err)`` is the reason, for skip reports."""


def decode(path: Path, offset: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """Return ``(samples [channels, n] float32, sample_rate)`` of a segment of the file."""
    path = Path(path)
    if reason := fileio.unreadable(path):
        raise AudioError(reason)
    size = path.stat().st_size
    if size == 0:
        raise AudioError("empty file (0 bytes)")
    try:
        data, rate = _decode_soundfile(path, offset, duration)
    except Exception as sf_err:  # libsndfile could not parse it: let FFmpeg try
        try:
            return _decode_av(path, offset, duration)
        except AudioError:
            raise
        except Exception as av_err:
            raise AudioError(f"not decodable audio (libsndfile: {sf_err}; FFmpeg: {av_err})") from av_err
    if data.shape[1] == 0 and size > _EMPTY_WAV_BYTES:
        # A header that says "no data" in front of real samples (a WAV written by a streaming
        # tool that never patched its sizes): FFmpeg reads on to the end of the file.
        try:
            return _decode_av(path, offset, duration)
        except Exception:
            pass
    return data, rate


def _decode_soundfile(path: Path, offset: float, duration: float | None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        rate = f.samplerate
        start = int(round(offset * rate))
        frames = -1 if duration is None else int(round(duration * rate))
        f.seek(min(start, f.frames))
        data = f.read(frames, dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T), rate


def _decode_av(path: Path, offset: float, duration: float | None) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise AudioError("container has no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        channels = stream.codec_context.channels
        chunks = []
        for frame in container.decode(stream):
            arr = frame.to_ndarray()
            if arr.ndim == 1 or frame.format.is_packed:  # interleaved -> [channels, n]
                arr = arr.reshape(-1, channels).T
            chunks.append(_to_float(arr))
    if not chunks:
        raise AudioError("container holds no decodable audio frames")
    data = np.concatenate(chunks, axis=1)
    start = int(round(offset * rate))
    stop = None if duration is None else start + int(round(duration * rate))
    return np.ascontiguousarray(data[:, start:stop]), int(rate)


def _to_float(arr: np.ndarray) -> np.ndarray:
    """PCM integers to [-1, 1): signed by full scale, unsigned (8-bit) around their midpoint."""
    if np.issubdtype(arr.dtype, np.unsignedinteger):
        half = float(np.iinfo(arr.dtype).max // 2 + 1)
        return (arr.astype(np.float32) - half) / half
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32) / float(-np.iinfo(arr.dtype).min)
    return arr.astype(np.float32)


def resample(wave: np.ndarray, source_rate: int, target_rate: int, resampler: str = "soxr") -> np.ndarray:
    """Resample ``[..., n]`` float32 along its last axis.

    ``soxr``: the project's own (HQ, deterministic). ``librosa``: what ``librosa.load(sr=...)``
    does (soxr_hq, length rounded up: one sample more than soxr for many rate pairs).
    ``torchaudio``: its windowed-sinc ``Resample`` with default settings (msclap's loader).
    """
    if source_rate == target_rate:
        return wave
    if resampler == "librosa":
        import librosa

        return librosa.resample(wave, orig_sr=source_rate, target_sr=target_rate, res_type="soxr_hq").astype(np.float32)
    if resampler == "torchaudio":
        import torch
        import torchaudio

        return torchaudio.functional.resample(
            torch.from_numpy(np.ascontiguousarray(wave)), source_rate, target_rate
        ).numpy()
    import soxr

    rows = [soxr.resample(row, source_rate, target_rate, quality="HQ") for row in np.atleast_2d(wave)]
    return np.stack(rows).reshape(*wave.shape[:-1], -1).astype(np.float32)


def load(
    path: Path,
    sample_rate: int,
    offset: float = 0.0,
    duration: float | None = None,
    resampler: str = "soxr",
    flatten: bool = False,
    shortest: float = MIN_CLIP_SECONDS,
) -> np.ndarray:
    """Decode, make mono and resample; reject empty, silent or NaN audio, and audio shorter
    than ``shortest`` seconds (a clip: :data:`MIN_CLIP_SECONDS`).

    Mono is the mean of the channels, or (``flatten``, msclap's loader) the channels resampled
    and laid end to end.
    """
    data, rate = _checked(path, offset, duration, shortest)
    if flatten:
        return resample(data, rate, sample_rate, resampler).reshape(-1)
    return resample(data.mean(axis=0), rate, sample_rate, resampler)


def load_native(
    path: Path, offset: float = 0.0, duration: float | None = None, shortest: float = MIN_CLIP_SECONDS
) -> tuple[np.ndarray, int]:
    """``(mono samples, the file's own rate)``, checked as :func:`load` checks them."""
    data, rate = _checked(path, offset, duration, shortest)
    return data.mean(axis=0), rate


def _checked(path: Path, offset: float, duration: float | None, shortest: float) -> tuple[np.ndarray, int]:
    """``[channels, samples]`` and the rate, refused when empty, shorter than ``shortest``
    seconds, silent or NaN."""
    data, rate = decode(path, offset, duration)
    if data.shape[1] == 0:
        raise AudioError("no samples (zero-length audio)")
    if not np.isfinite(data).all():
        raise AudioError("contains NaN or infinite samples")
    if not np.any(data):
        raise AudioError("silent (all samples are zero)")
    if data.shape[1] < shortest * rate:
        raise AudioError(
            f"too short: {data.shape[1]} samples ({data.shape[1] / rate:.3f} s), a clip needs at least {shortest:g} s"
        )
    return data, rate


def fit_length(wave: np.ndarray, n_samples: int, mode: str = "zero") -> np.ndarray:
    """Truncate from the start (never a random crop) or pad a short clip to n_samples.

    ``zero``: zeros after the clip. ``repeat``: the clip tiled and cut (MS-CLAP, mini-clap).
    ``repeatpad``: the clip repeated a whole number of times, then zeros (LAION-CLAP).
    """
    if mode not in PAD_MODES:
        raise ValueError(f"pad mode must be one of {PAD_MODES}, not {mode!r}")
    if len(wave) >= n_samples:
        return wave[:n_samples]
    if mode == "repeat" and len(wave) > 0:
        return np.tile(wave, int(np.ceil(n_samples / len(wave))))[:n_samples]
    if mode == "repeatpad" and len(wave) > 0:
        wave = np.tile(wave, n_samples // len(wave))
    out = np.zeros(n_samples, dtype=np.float32)
    out[: len(wave)] = wave
    return out
