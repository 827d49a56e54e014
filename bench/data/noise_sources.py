"""Where the noises and room responses of acoustic conditions come from: the user's folders
(MUSAN, DEMAND, a folder of impulse responses), found like corpus roots, or simulated rooms.

Recordings and simulated rooms are kept in memory (a few hundred), so a corpus rendered under
one condition decodes each noise file and simulates each room once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.api import DataError
from bench.audio import acoustics
from bench.audio import io as audio
from bench.data.roots import config_roots
from bench.runtime.environment import environment

NOISE_ENV, RIR_ENV = "BENCH_NOISE_ROOT", "BENCH_RIR_ROOT"
ROOT_SETTINGS = {NOISE_ENV: "noise_root", RIR_ENV: "rir_root"}  # their fields in bench.runtime.environment
SIMULATED_ROOMS = 8  # rooms per (rate, RT60, seed), simulated once each and shared by every clip
STREET_SCENES = ("STRAFFIC", "SPSQUARE")  # DEMAND's traffic and public-square recordings
AUDIO_SUFFIXES = {".wav", ".flac"}


def _root(env: str, key: str) -> Path | None:
    value = getattr(environment(), ROOT_SETTINGS[env]) or config_roots().get(key)
    if not value:
        return None
    root = Path(value).expanduser()
    if not root.is_dir():
        raise DataError(f"{env}: {root} is not a directory (unset it or point it at your {key} folder)")
    return root


@dataclass(frozen=True)
class Sources:
    """The user's noise and impulse-response folders (either may be absent)."""

    noise_root: Path | None = None
    rir_root: Path | None = None

    @classmethod
    def configured(cls) -> Sources:
        return cls(_root(NOISE_ENV, "noise"), _root(RIR_ENV, "rir"))

    def files(self, category: str) -> list[Path]:
        """Audio files of ``speech``, ``music``, ``noise``, ``street`` or ``rir``, sorted."""
        return _files(self.noise_root, self.rir_root, category)


@lru_cache(maxsize=32)
def _files(noise_root: Path | None, rir_root: Path | None, category: str) -> list[Path]:
    root = rir_root if category == "rir" else noise_root
    if root is None:
        return []
    everything = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if category == "rir":
        return everything
    if category == "street":
        return [
            p
            for p in everything
            if any(part.upper().startswith(STREET_SCENES) for part in p.relative_to(root).parts[:-1])
        ]
    musan = [p for p in everything if p.relative_to(root).parts[0] == category]
    return musan if musan or category != "noise" or (root / "speech").is_dir() else everything


@lru_cache(maxsize=256)
def load(path: Path, rate: int, offset: float = 0.0, duration: float | None = None) -> np.ndarray:
    """A recording (noise, talker or response) as float64 at ``rate``."""
    return audio.load(path, rate, offset, duration, shortest=0).astype(np.float64)  # not a clip: any length


@lru_cache(maxsize=4 * SIMULATED_ROOMS)
def room(rate: int, rt60: float, seed: int, index: int) -> np.ndarray:
    """Simulated room ``index`` of the ``SIMULATED_ROOMS`` drawn for this RT60 and seed."""
    return acoustics.shoebox_rir(np.random.default_rng([seed, index, round(rt60 * 1000)]), rate, rt60)
