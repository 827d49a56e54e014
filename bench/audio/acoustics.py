"""Acoustic signal processing shared by the named conditions (:mod:`bench.data.conditions`) and the
synth corpus: mixing at an SNR, noise generators, the telephone channel, rooms.

Filters and resampling are scipy.signal's, mu-law is torchaudio's, AMR-NB is FFmpeg's
(libopencore-amrnb through PyAV), coloured noise is
``colorednoise``'s and simulated rooms are pyroomacoustics' image-source shoeboxes; this
module only chooses their parameters. Every random draw comes from the generator passed in.
Each library is imported where it is used: importing scipy.signal alone took 2-4 s, which every
``bench`` command paid through the cache CLI.
"""

from __future__ import annotations

import io
from math import gcd

import numpy as np

TELEPHONE_BAND = (300.0, 3400.0)
TELEPHONE_RATE = 8000
AMR_NB_KBPS = (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2)  # the codec's eight modes
AMR_NB_DELAY = 40  # samples at 8 kHz from encoder input to decoder output (measured, every mode)


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
    from scipy import signal

    rumble = signal.sosfilt(signal.butter(2, 250, "lowpass", fs=rate, output="sos"), rng.normal(0, 1, n))
    swell = 1 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * np.arange(n) / rate)
    return rumble * swell


def polyphase(x: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    from scipy import signal

    g = gcd(source_rate, target_rate)
    return signal.resample_poly(x, target_rate // g, source_rate // g)


def telephone_channel(x: np.ndarray, rate: int, codec=None, resample=polyphase) -> np.ndarray:
    """300-3400 Hz band-limit, down to 8 kHz, ``codec`` on the 8 kHz signal, back to ``rate``.

    ``resample(x, from_rate, to_rate)``: scipy's polyphase filter (what synth was rendered
    with) leaks about -30 dB just above 4 kHz; the project's soxr resampler leaves nothing there.
    """
    from scipy import signal

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


def amr_nb(x: np.ndarray, kbps: float = 12.2) -> np.ndarray:
    """An 8 kHz signal through AMR-NB (the GSM/UMTS mobile speech codec) at ``kbps``, encoded and
    decoded by FFmpeg, with the codec's delay removed so the output lines up with the input."""
    import av

    if kbps not in AMR_NB_KBPS:
        raise ValueError(f"AMR-NB has no {kbps:g} kbit/s mode (modes: {', '.join(f'{m:g}' for m in AMR_NB_KBPS)})")
    peak = float(np.max(np.abs(x))) or 1.0
    pcm = np.round(np.asarray(x) / peak * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="amr") as container:
        stream = container.add_stream("libopencore_amrnb", rate=TELEPHONE_RATE, layout="mono")
        stream.bit_rate = round(kbps * 1000)
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = TELEPHONE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    decoded = decoded[AMR_NB_DELAY : AMR_NB_DELAY + len(pcm)].astype(np.float64) * peak
    return np.pad(decoded, (0, len(pcm) - len(decoded)))


def lowpass(x: np.ndarray, rate: int, cutoff: float) -> np.ndarray:
    """Zero-phase 6th-order Butterworth low-pass (air absorption and distance dull the highs)."""
    from scipy import signal

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
    from scipy import signal

    wet = signal.fftconvolve(x, rir)[: len(x)]
    return wet * np.sqrt(power(x) / (power(wet) + 1e-12))
