"""Acoustic signal processing shared by the named conditions (:mod:`bench.conditions`) and the
synth corpus: mixing at an SNR, noise generators, the telephone channel, rooms.

Filters and resampling are scipy.signal's, mu-law is torchaudio's, coloured noise is
``colorednoise``'s and simulated rooms are pyroomacoustics' image-source shoeboxes; this
module only chooses their parameters. Every random draw comes from the generator passed in.
"""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy import signal

TELEPHONE_BAND = (300.0, 3400.0)
TELEPHONE_RATE = 8000


def power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``clean`` plus ``noise`` scaled so that the power ratio of the two is ``snr_db``."""
    gain = np.sqrt(power(clean) / (power(noise) * 10 ** (snr_db / 10) + 1e-30))
    return clean + gain * noise


def fit_noise(rng: np.random.Generator, noise: np.ndarray, n: int) -> np.ndarray:
    """``n`` samples of a recording from a random start, tiled when it is shorter."""
    if len(noise) < n:
        noise = np.tile(noise, int(np.ceil(n / len(noise))) + 1)
    start = int(rng.integers(0, len(noise) - n + 1))
    return noise[start : start + n]


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise with a 1/f**exponent power spectrum (0 white, 1 pink, 2 brown)."""
    import colorednoise

    return colorednoise.powerlaw_psd_gaussian(exponent, n, random_state=rng)


def traffic_noise(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Low-frequency rumble whose level swells as vehicles pass (unnormalised)."""
    rumble = signal.sosfilt(signal.butter(2, 250, "lowpass", fs=rate, output="sos"), rng.normal(0, 1, n))
    swell = 1 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * np.arange(n) / rate)
    return rumble * swell


def polyphase(x: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    g = gcd(source_rate, target_rate)
    return signal.resample_poly(x, target_rate // g, source_rate // g)


def telephone_channel(x: np.ndarray, rate: int, codec=None, resample=polyphase) -> np.ndarray:
    """300-3400 Hz band-limit, down to 8 kHz, ``codec`` on the 8 kHz signal, back to ``rate``.

    ``resample(x, from_rate, to_rate)``: scipy's polyphase filter (what synth was rendered
    with) leaks about -30 dB just above 4 kHz; the project's soxr resampler leaves nothing there.
    """
    band = signal.sosfilt(signal.butter(4, TELEPHONE_BAND, "bandpass", fs=rate, output="sos"), x)
    narrow = resample(band, rate, TELEPHONE_RATE)
    if codec is not None:
        narrow = codec(narrow)
    return np.asarray(resample(narrow, TELEPHONE_RATE, rate)[: len(x)], dtype=np.float64)


def mu_law(x: np.ndarray, channels: int = 256) -> np.ndarray:
    """G.711-style 8-bit mu-law companding and expansion (torchaudio's)."""
    import torch
    import torchaudio.functional as AF

    peak = float(np.max(np.abs(x))) or 1.0
    coded = AF.mu_law_encoding(torch.from_numpy(np.asarray(x / peak, dtype=np.float32)), channels)
    return AF.mu_law_decoding(coded, channels).numpy().astype(np.float64) * peak


def lowpass(x: np.ndarray, rate: int, cutoff: float) -> np.ndarray:
    """Zero-phase 6th-order Butterworth low-pass (air absorption and distance dull the highs)."""
    cutoff = min(cutoff, 0.45 * rate)
    return signal.sosfiltfilt(signal.butter(6, cutoff, "lowpass", fs=rate, output="sos"), x)


def decaying_noise_rir(rng: np.random.Generator, rate: int, rt60: float) -> np.ndarray:
    """Exponentially decaying Gaussian noise after a unit direct path (Polack's statistical model)."""
    tail = np.arange(int(rt60 * rate)) / rate
    rir = rng.normal(0, 1, len(tail)) * np.exp(-6.9 * tail / rt60)
    rir[0] = 1.0
    return rir


def shoebox_rir(rng: np.random.Generator, rate: int, rt60: float) -> np.ndarray:
    """A random rectangular room with the given RT60 (Sabine), talker and microphone placed at
    random inside it, simulated by the image-source method (pyroomacoustics)."""
    import pyroomacoustics as pra

    dims = rng.uniform([5.0, 4.0, 2.6], [12.0, 9.0, 4.5])
    absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=rate, materials=pra.Material(absorption), max_order=max_order)
    margin = 0.5
    room.add_source(rng.uniform(margin, dims - margin))
    room.add_microphone(rng.uniform(margin, dims - margin))
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


def from_direct_path(rir: np.ndarray, direct_gain: float = 1.0) -> np.ndarray:
    """A measured or simulated response cut to start at its strongest (direct) peak, so the
    reverberant speech is not delayed; ``direct_gain`` < 1 weakens that peak against the
    tail (a farther talker)."""
    rir = np.array(rir[int(np.argmax(np.abs(rir))) :], dtype=np.float64)
    rir[0] *= direct_gain
    return rir


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``x`` convolved with ``rir``, cut to its length, at the loudness of ``x``."""
    wet = signal.fftconvolve(x, rir)[: len(x)]
    return wet * np.sqrt(power(x) / (power(wet) + 1e-12))
