"""Acoustic conditions: named, deterministic transforms of any corpus's audio, rendered once.

A condition is a chain of steps joined by ``+`` (applied left to right), each ``kind`` or
``kind@value``, e.g. ``street@5dB``, ``telephone``, ``reverb@0.9s+babble@10dB``:

- ``street``, ``babble``, ``music``, ``noise``, ``white``, ``pink``, ``brown`` @ SNR dB (10):
  additive noise. street: DEMAND ``STRAFFIC``/``SPSQUARE`` under the noise root, else generated
  traffic; babble: 4 talkers from MUSAN ``speech/``, else other speakers of the same corpus,
  never one of the evaluated fold; music, noise: MUSAN ``music/``, ``noise/`` (or any DEMAND
  recording); white/pink/brown: Gaussian noise with a 1/f^0, 1/f^1, 1/f^2 spectrum.
- ``reverb`` @ RT60 s (0.9): a response from the RIR root, else a simulated shoebox room;
  ``far-field`` @ RT60 s (0.6): the same with the direct path 10 dB down, then a 4 kHz low-pass.
- ``telephone``: 300-3400 Hz band, 8 kHz, 8-bit mu-law (a landline); ``mobile`` @ kbit/s (12.2):
  the same band through AMR-NB, the GSM/UMTS speech codec, at one of its modes (4.75-12.2);
  ``lowpass`` @ cutoff kHz (4); ``clean``.

The noise root (``BENCH_NOISE_ROOT`` or ``noise = "..."`` under ``[roots]``) is a MUSAN or a
DEMAND copy; the RIR root (``BENCH_RIR_ROOT`` or ``rir = "..."``) any folder of responses.
Kinds meaning an ACPT soundscape (:data:`bench.protocol.texts.SOUNDSCAPES`) say which, and its name
is an alias (``phone-call`` is ``telephone``).

Each clip is rendered at its own rate, before any backbone's front-end, into
``<cache>/conditions/<condition>/<key>.wav`` (float) beside a ``.json`` naming its sources.
The key covers the clip's content and segment, the condition, the seed and the sources it may
draw from, and every random draw comes from a generator seeded by it: the same (utterance,
condition, seed) is always the same audio, rendered once. To the rest of the pipeline the
rendered files are ordinary utterances (their content is in the embedding cache key).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.api import DataError, Utterance
from bench.audio import acoustics
from bench.audio import io as audio
from bench.data.noise_sources import NOISE_ENV, SIMULATED_ROOMS, Sources, load, room
from bench.features import cache
from bench.features.cache import cache_dir
from bench.util import fileio

VERSION = 1
BABBLE_TALKERS = 4
FAR_FIELD_DIRECT_GAIN = 10 ** (-10 / 20)
FAR_FIELD_CUTOFF = 4000.0
COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


@dataclass(frozen=True)
class Kind:
    unit: str | None  # of the value after "@": dB (an SNR), s (an RT60), kHz (a cutoff), or no value
    default: float | None = None
    soundscape: str | None = None  # the ACPT soundscape that means the same place


SNR = Kind("dB", 10.0)
KINDS: dict[str, Kind] = {
    "clean": Kind(None, soundscape="studio"),
    "street": Kind("dB", 10.0, "street"),
    "babble": Kind("dB", 10.0, "crowd-babble"),
    "music": Kind("dB", 10.0, "background-music"),
    "noise": SNR,
    "white": SNR,
    "pink": SNR,
    "brown": SNR,
    "reverb": Kind("s", 0.9, "reverberant-hall"),
    "far-field": Kind("s", 0.6),
    "telephone": Kind(None, soundscape="phone-call"),
    "mobile": Kind("kbps", 12.2, "phone-call"),
    "lowpass": Kind("kHz", 4.0),
}
# The values a step may take, by unit (others: any finite number). A simulated room needs an
# RT60 its smallest absorption can reach (0.2 s in the largest room drawn) and memory that grows
# with the cube of its image-source order (1.5 s: about 3 GB, 2 s: more than 8 GB).
RANGES = {"s": (0.2, 1.5), "kHz": (0.1, math.inf)}
ALIASES = {  # an ACPT soundscape's name -> the first kind meaning its place (phone-call: telephone)
    kind.soundscape: name for name, kind in reversed(KINDS.items()) if kind.soundscape and kind.soundscape != name
}


@dataclass(frozen=True)
class Step:
    kind: str
    value: float | None = None

    @property
    def name(self) -> str:
        unit = KINDS[self.kind].unit
        return self.kind if unit is None else f"{self.kind}@{self.value:g}{unit}"


@dataclass(frozen=True)
class Condition:
    steps: tuple[Step, ...] = ()

    @property
    def name(self) -> str:
        return "+".join(step.name for step in self.steps) or "clean"

    @property
    def soundscapes(self) -> list[str]:
        """The ACPT soundscapes this condition puts speech in (what ACPT may have "imagined")."""
        if not self.steps:
            return ["studio"]
        return [KINDS[s.kind].soundscape for s in self.steps if KINDS[s.kind].soundscape]


def parse(text: str) -> Condition:
    """``street@5dB+telephone`` -> a :class:`Condition`; a one-line ValueError says what is wrong."""
    steps = []
    for part in text.strip().lower().split("+"):
        kind, _, value = part.strip().partition("@")
        kind = ALIASES.get(kind, kind)
        if kind not in KINDS:
            raise ValueError(f"condition {text!r}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
        unit = KINDS[kind].unit
        if unit is None:
            if value:
                raise ValueError(f"condition {text!r}: {kind} takes no value")
            if kind != "clean":
                steps.append(Step(kind))
            continue
        number = value[: -len(unit)] if value.endswith(unit.lower()) else value
        try:
            steps.append(Step(kind, float(number) if value else KINDS[kind].default))
        except ValueError:
            raise ValueError(
                f"condition {text!r}: {kind} takes a number in {unit}, e.g. {kind}@{KINDS[kind].default:g}{unit}"
            ) from None
        low, high = RANGES.get(unit, (-math.inf, math.inf))
        if not (math.isfinite(steps[-1].value) and low <= steps[-1].value <= high):
            raise ValueError(f"condition {text!r}: {kind} takes {_range(unit, low, high)}, not {number}")
        if kind == "mobile" and steps[-1].value not in acoustics.AMR_NB_KBPS:
            modes = ", ".join(f"{m:g}" for m in acoustics.AMR_NB_KBPS)
            raise ValueError(f"condition {text!r}: AMR-NB has no {steps[-1].value:g} kbit/s mode (modes: {modes})")
    return Condition(tuple(steps))


def _range(unit: str, low: float, high: float) -> str:
    if math.isinf(low) and math.isinf(high):
        return f"a finite value in {unit}"
    if math.isinf(high):
        return f"a value of at least {low:g} {unit}"
    return f"a value from {low:g} to {high:g} {unit}"


def parse_list(texts: str | Sequence[str]) -> list[Condition]:
    """Comma-separated conditions (or a list of them), each once, in the order given."""
    parts = texts.split(",") if isinstance(texts, str) else texts
    parsed = [parse(p) for p in parts if p.strip()]
    return list({c.name: c for c in parsed}.values())


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class _Renderer:
    """Renders one condition; ``used`` collects the sources of the clip being rendered."""

    def __init__(self, condition: Condition, sources: Sources, talkers: Sequence[Utterance], seed: int) -> None:
        self.condition, self.sources, self.seed = condition, sources, seed
        self.by_speaker: dict[str, list[Utterance]] = defaultdict(list)
        for talker in sorted(talkers, key=lambda u: u.uid):
            self.by_speaker[talker.speaker].append(talker)
        self.used: list[str] = []

    def __call__(self, wave: np.ndarray, rate: int, rng: np.random.Generator, speaker: str | None) -> np.ndarray:
        self.used = []
        x = wave.astype(np.float64)
        for step in self.condition.steps:
            x = self._step(step, x, rate, rng, speaker)
        return x

    def _step(self, step: Step, x: np.ndarray, rate: int, rng: np.random.Generator, speaker: str | None) -> np.ndarray:
        if KINDS[step.kind].unit == "dB":
            return acoustics.mix_at_snr(x, self._noise(step.kind, rng, len(x), rate, speaker), step.value)
        if step.kind == "telephone":
            return acoustics.telephone_channel(x, rate, acoustics.mu_law, audio.resample)
        if step.kind == "mobile":
            return acoustics.telephone_channel(
                x, rate, lambda narrow: acoustics.amr_nb(narrow, step.value), audio.resample
            )
        if step.kind == "lowpass":
            return acoustics.lowpass(x, rate, 1000 * step.value)
        direct = FAR_FIELD_DIRECT_GAIN if step.kind == "far-field" else 1.0
        wet = acoustics.reverberate(x, acoustics.from_direct_path(self._rir(rng, rate, step.value), direct))
        return acoustics.lowpass(wet, rate, FAR_FIELD_CUTOFF) if step.kind == "far-field" else wet

    def _recording(self, files: list[Path], rng: np.random.Generator, rate: int) -> np.ndarray:
        path = files[int(rng.integers(len(files)))]
        self.used.append(str(path))
        return load(path, rate)

    def _noise(self, kind: str, rng: np.random.Generator, n: int, rate: int, speaker: str | None) -> np.ndarray:
        if kind in COLOURS:
            self.used.append(f"generated {kind} noise")
            return acoustics.coloured_noise(rng, n, COLOURS[kind])
        if kind == "babble":
            return sum(t / np.sqrt(acoustics.power(t) + 1e-20) for t in self._talkers(rng, n, rate, speaker))
        files = self.sources.files(kind)
        if files:
            return acoustics.fit_noise(rng, self._recording(files, rng, rate), n)
        if kind == "street":
            self.used.append("generated traffic")
            return acoustics.traffic_noise(rng, n, rate)
        layout = "MUSAN noise/ or DEMAND" if kind == "noise" else "MUSAN music/"
        raise DataError(f"condition {kind}: no {kind} recordings; set {NOISE_ENV} to a {layout} folder")

    def _talkers(self, rng: np.random.Generator, n: int, rate: int, speaker: str | None) -> list[np.ndarray]:
        speech = self.sources.files("speech")
        if speech:
            return [acoustics.fit_noise(rng, self._recording(speech, rng, rate), n) for _ in range(BABBLE_TALKERS)]
        others = sorted(s for s in self.by_speaker if s != speaker)
        chosen = rng.choice(len(others), min(BABBLE_TALKERS, len(others)), replace=False)
        waves = []
        for index in sorted(chosen):
            options = self.by_speaker[others[index]]
            talker = options[int(rng.integers(len(options)))]
            self.used.append(talker.uid)
            waves.append(acoustics.fit_noise(rng, load(talker.path, rate, talker.offset, talker.duration), n))
        return waves

    def _rir(self, rng: np.random.Generator, rate: int, rt60: float) -> np.ndarray:
        files = self.sources.files("rir")
        if files:
            return self._recording(files, rng, rate)
        index = int(rng.integers(SIMULATED_ROOMS))
        self.used.append(f"simulated room {index} (RT60 {rt60:g} s)")
        return room(rate, rt60, self.seed, index)


def talkers_outside(pool: Sequence[Utterance], held_out: Collection[str]) -> list[Utterance]:
    """Utterances of ``pool`` whose speaker is known and not in ``held_out`` (the evaluated fold's)."""
    held_out = set(held_out)
    return [u for u in pool if u.speaker is not None and u.speaker not in held_out]


def for_fold(
    names: Sequence[str],
    utterances: Sequence[Utterance],
    pool: Sequence[Utterance],
    test: Collection[str],
    seed: int = 0,
) -> dict[str, list[Utterance]]:
    """``utterances`` under each named condition; babble talkers come from ``pool`` speakers
    without an utterance among the ``test`` uids (the evaluated fold)."""
    test = set(test)
    talkers = talkers_outside(pool, {u.speaker for u in pool if u.uid in test})
    return {name: apply(parse(name), utterances, talkers=talkers, seed=seed)[0] for name in names}


def apply(
    condition: Condition,
    utterances: Sequence[Utterance],
    *,
    talkers: Sequence[Utterance] = (),
    seed: int = 0,
    sources: Sources | None = None,
) -> tuple[list[Utterance], list[tuple[str, str]]]:
    """``utterances`` under ``condition`` (uid ``<uid>|<condition>``), rendered where not cached,
    and ``(uid, reason)`` for every clip that could not be read.

    ``talkers``: the utterances babble may mix (give :func:`talkers_outside` of the evaluated
    fold); used only where no MUSAN ``speech/`` folder is configured.
    """
    sources = sources or Sources.configured()
    if any(s.kind == "babble" for s in condition.steps) and not sources.files("speech"):
        if len({t.speaker for t in talkers}) < 2:
            raise DataError(
                f"condition {condition.name}: babble needs speakers outside the evaluated fold and found "
                f"{len({t.speaker for t in talkers})}; use a speaker-independent protocol or set {NOISE_ENV} to a MUSAN folder"
            )
    else:
        talkers = ()
    hashes = cache.ContentHashes()
    talker_ids = sorted(zip(hashes.of([t.path for t in talkers]), [(t.uid, t.offset, t.duration) for t in talkers]))
    identity = _digest(VERSION, condition.name, seed, str(sources.noise_root), str(sources.rir_root), talker_ids)
    folder = rendered_root() / condition.name.replace("@", "_")
    render = _Renderer(condition, sources, talkers, seed)
    out, skipped = [], []
    for utt, content in zip(utterances, hashes.of([u.path for u in utterances])):
        key = _digest(identity, content, utt.offset, utt.duration)
        path = folder / f"{key}.wav"
        described = path.with_suffix(".json")
        if not described.is_file():
            try:
                wave, rate = audio.load_native(utt.path, utt.offset, utt.duration)
            except audio.AudioError as err:
                skipped.append((f"{utt.uid}|{condition.name}", f"{utt.path.name}: {err}"))
                continue
            rendered = render(wave, rate, np.random.default_rng([seed, int(key, 16)]), utt.speaker)
            _write(
                path,
                rendered,
                rate,
                {"condition": condition.name, "seed": seed, "clip": str(utt.path), "sources": render.used},
            )
        sources_used = json.loads(described.read_text())["sources"]
        meta = {**utt.meta, "condition": condition.name, "clean": utt.uid, "sources": "\n".join(sources_used)}
        out.append(
            dataclasses.replace(utt, uid=f"{utt.uid}|{condition.name}", path=path, offset=0.0, duration=None, meta=meta)
        )
    return out, skipped


def rendered_root() -> Path:
    return cache_dir() / "conditions"


def rendered() -> list[dict]:
    """Per rendered condition: its name, the clips rendered and their bytes on disk."""
    folders = sorted(p for p in rendered_root().iterdir() if p.is_dir()) if rendered_root().is_dir() else []
    return [
        {"condition": f.name.replace("_", "@"), "clips": sum(1 for _ in f.glob("*.wav")), "bytes": cache.size_of(f)}
        for f in folders
    ]


def clear_rendered() -> int:
    """Remove every rendered clip (rendered again, identically, when a run needs it); bytes freed."""
    return cache.remove(rendered_root()) if rendered_root().exists() else 0


def _write(path: Path, wave: np.ndarray, rate: int, description: dict) -> None:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, wave.astype(np.float32), rate, "FLOAT", format="WAV")
    fileio.atomic_write(path, buffer.getvalue())
    fileio.atomic_write(path.with_suffix(".json"), json.dumps(description, indent=1).encode())
