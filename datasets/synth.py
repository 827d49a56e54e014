"""synth: a deterministic synthetic sanity corpus of emotional speech-like audio.

Not speech and not a benchmark result: it exists so the whole protocol, domain shift
included, can run offline on a fresh machine. Each clip is a source-filter "utterance" of
random syllables: a glottal pulse train whose F0 contour follows the emotion, filtered by
vowel formants scaled to the speaker's vocal tract, with breath noise for voice quality.

Classes differ the way acted emotions are usually described acoustically:

============  =========  ===========  =====  =========  ==============
class         pitch      pitch range  tempo  loudness   voice quality
============  =========  ===========  =====  =========  ==============
neutral       speaker's  narrow       4/s    medium     modal
happiness     +30 %      wide         5/s    loud       bright
anger         +15 %      medium       5.5/s  loudest    tense (flat tilt)
sadness       -15 %      very narrow  2.8/s  quiet      breathy, dark
============  =========  ===========  =====  =========  ==============

Eight speakers (four female, four male) differ in F0, vocal-tract length and breathiness.
Every utterance is rendered under five acoustic conditions: ``studio`` (clean),
``telephone`` (300-3400 Hz band, 8 kHz, light clipping), ``street`` (low-frequency traffic
noise), ``reverb`` (synthetic room, RT60 about 0.9 s) and ``babble`` (four other synthetic
talkers). Corpus: 8 speakers x 4 classes x 6 takes x 5 conditions = 960 clips of 3 s, 16 kHz.

Protocol ``unseen-conditions`` (default): two folds by speaker halves; train (and fine-tune)
on ``studio`` and ``telephone`` of one half, test on ``street``, ``reverb`` and ``babble`` of
the other half: unseen speakers in unseen acoustic conditions. Protocol ``speaker``:
leave-one-speaker-out over all conditions. The audio is rendered once into the cache
directory (or the given root) and read back through the ordinary audio path.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.api import DataError, DatasetLoader, Fold, ScanResult, Utterance
from bench.audio import acoustics
from bench.datasets._common import speaker_folds
from bench.util import fileio

VERSION = 2
RATE = 16_000
SECONDS = 3.0
TAKES = 6
SEEN, UNSEEN = ("studio", "telephone"), ("street", "reverb", "babble")
CONDITIONS = SEEN + UNSEEN

# (f0 factor, range in octaves, syllables/s, level dBFS, breathiness, spectral tilt)
EMOTIONS = {
    "neutral": (1.00, 0.15, 4.0, -22.0, 0.10, 1.0),
    "happiness": (1.30, 0.55, 5.0, -17.0, 0.08, 0.7),
    "anger": (1.15, 0.35, 5.5, -12.0, 0.03, 0.45),
    "sadness": (0.85, 0.06, 2.8, -28.0, 0.35, 1.5),
}
# (id, gender, base f0 Hz, vocal-tract scale, breathiness offset)
SPEAKERS = [
    ("f1", "female", 205.0, 1.17, 0.05),
    ("f2", "female", 225.0, 1.20, 0.00),
    ("f3", "female", 190.0, 1.12, 0.08),
    ("f4", "female", 240.0, 1.22, 0.02),
    ("m1", "male", 110.0, 1.00, 0.03),
    ("m2", "male", 125.0, 0.97, 0.00),
    ("m3", "male", 98.0, 0.94, 0.06),
    ("m4", "male", 135.0, 1.03, 0.02),
]
VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410)]


def _resonator(x: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    from scipy import signal  # here, not at the top: importing it cost every bench command 2-4 s

    r = np.exp(-np.pi * bandwidth / RATE)
    theta = 2 * np.pi * freq / RATE
    return signal.lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)


def _voice(rng: np.random.Generator, speaker: tuple, emotion: str, n: int) -> np.ndarray:
    """One utterance: syllables of a pulse train through speaker-scaled vowel formants."""
    from scipy import signal

    _, _, base_f0, tract, breath_offset = speaker
    f0_factor, f0_range, tempo, level_db, breath, tilt = EMOTIONS[emotion]
    t = np.arange(n) / RATE
    # F0 contour: declination plus syllable-rate undulation and slow random drift.
    phase = rng.uniform(0, 2 * np.pi)
    contour = f0_range * (0.6 * np.sin(2 * np.pi * tempo / 2 * t + phase) - 0.4 * t / SECONDS)
    drift = np.interp(t, np.linspace(0, SECONDS, 8), rng.normal(0, f0_range / 4, 8))
    f0 = base_f0 * f0_factor * 2 ** (contour + drift)
    cycles = np.cumsum(f0) / RATE
    pulses = np.diff(np.floor(cycles), prepend=0.0)
    source = signal.lfilter([1.0], [1.0, -np.exp(-tilt * 0.35)], pulses)  # spectral tilt
    source = source + (breath + breath_offset) * rng.normal(0, 0.3, n)
    # Syllables: each gets a vowel and an attack/decay envelope, separated by short gaps.
    out = np.zeros(n)
    position = int(rng.uniform(0.05, 0.2) * RATE)
    while position < n - int(0.1 * RATE):
        length = int(RATE / tempo * rng.uniform(0.7, 1.1))
        stop = min(n, position + length)
        segment = source[position:stop]
        formants = VOWELS[rng.integers(len(VOWELS))]
        voiced = sum(_resonator(segment, f * tract, 80 + 0.08 * f) for f in formants)
        envelope = np.sin(np.linspace(0, np.pi, stop - position)) ** 0.7
        out[position:stop] = voiced * envelope
        position = stop + int(RATE / tempo * rng.uniform(0.05, 0.3))
    out /= np.sqrt(np.mean(out**2)) + 1e-9
    return out * 10 ** ((level_db + rng.normal(0, 1.0)) / 20)


def _condition(rng: np.random.Generator, clean: np.ndarray, condition: str, talkers: list[np.ndarray]) -> np.ndarray:
    """The corpus's five conditions, at fixed absolute levels (the DSP is :mod:`bench.audio.acoustics`)."""
    n = len(clean)
    if condition == "studio":
        return clean + rng.normal(0, 10 ** (-70 / 20), n)
    if condition == "telephone":
        narrow = acoustics.telephone_channel(clean, RATE)
        return np.tanh(3 * narrow) / 3 + rng.normal(0, 10 ** (-50 / 20), n)
    if condition == "street":
        noise = acoustics.traffic_noise(rng, n, RATE)
        return clean + noise / np.sqrt(np.mean(noise**2)) * 10 ** (-27 / 20)
    if condition == "reverb":
        return acoustics.reverberate(clean, acoustics.decaying_noise_rir(rng, RATE, 0.9))
    if condition == "babble":
        babble = sum(talkers)
        return clean + babble / (np.sqrt(np.mean(babble**2)) + 1e-9) * 10 ** (-26 / 20)
    raise ValueError(condition)


def render(root: Path) -> None:
    """Write the whole corpus (deterministic: the same bytes on every machine)."""
    import soundfile as sf

    root.mkdir(parents=True, exist_ok=True)
    n = int(RATE * SECONDS)
    for s_index, speaker in enumerate(SPEAKERS):
        for e_index, emotion in enumerate(EMOTIONS):
            for take in range(TAKES):
                rng = np.random.default_rng([VERSION, s_index, e_index, take])
                clean = _voice(rng, speaker, emotion, n)
                others = [SPEAKERS[i] for i in rng.choice(len(SPEAKERS), 4, replace=False)]
                talkers = [_voice(rng, other, "neutral", n) for other in others]
                for condition in CONDITIONS:
                    audio = np.clip(_condition(rng, clean, condition, talkers), -1, 1).astype(np.float32)
                    wav = io.BytesIO()
                    sf.write(wav, audio, RATE, "PCM_16", format="WAV")
                    fileio.atomic_write(root / f"{speaker[0]}_{condition}_{emotion}_{take + 1:02d}.wav", wav.getvalue())
    fileio.atomic_write(
        root / "synth.json", json.dumps({"version": VERSION, "clips": len(list(root.glob("*.wav")))}).encode()
    )


class Synth(DatasetLoader):
    name = "synth"
    classes = tuple(EMOTIONS)
    env_var = "BENCH_SYNTH_ROOT"
    protocols = ("unseen-conditions", "speaker")
    needs_root = False

    def default_root(self) -> Path:
        from bench.features.cache import cache_dir

        return cache_dir() / f"synth-v{VERSION}"

    def scan(self, root: Path | None) -> ScanResult:
        root = Path(root) if root else self.default_root()
        manifest = root / "synth.json"
        if not manifest.exists() or json.loads(manifest.read_text()).get("version") != VERSION:
            render(root)
        genders = {s[0]: s[1] for s in SPEAKERS}
        utterances, skipped = [], []
        for path in sorted(root.glob("*.wav")):
            parts = path.stem.split("_")
            if len(parts) != 4 or parts[0] not in genders or parts[1] not in CONDITIONS or parts[2] not in EMOTIONS:
                skipped.append((path, "not a synth clip name (<speaker>_<condition>_<emotion>_<take>.wav)"))
                continue
            speaker, condition, emotion, _ = parts
            utterances.append(
                Utterance(
                    path.stem,
                    path,
                    emotion,
                    speaker,
                    genders[speaker],
                    session=condition,
                    meta={"condition": condition},
                )
            )
        if not utterances:
            raise DataError(f"synth: no clips in {root}; delete the folder to render it again")
        return ScanResult(utterances, skipped)

    def folds(self, utterances: Sequence[Utterance], protocol: str, seed: int = 0) -> list[Fold]:
        if protocol == "speaker":
            return speaker_folds(self.name, utterances, seed)
        if protocol != "unseen-conditions":
            raise DataError(f"synth: unknown protocol {protocol!r} (choose from {', '.join(self.protocols)})")
        halves = ({"f1", "f3", "m1", "m3"}, {"f2", "f4", "m2", "m4"})
        folds = []
        for i, test_speakers in enumerate(halves):
            train = [u.uid for u in utterances if u.speaker not in test_speakers and u.session in SEEN]
            test = [u.uid for u in utterances if u.speaker in test_speakers and u.session in UNSEEN]
            folds.append(Fold(f"half{i + 1}", tuple(train), tuple(test)))
        return folds
