"""Front-ends: how a file becomes the waveform a backbone encodes, as a named, picklable recipe.

Every backbone has two (``--backbone-opt front_end=NAME``):

* ``official`` (default): the file path of the backbone's own package, step by step — its
  loader's down-mix and resampler (librosa's soxr with its ceiling length, torchaudio's sinc,
  or soxr), its int16 round trip, its padding rule and its voice-activity trimming — except
  that random crops start at the beginning of the clip, so the same file always gives the
  same embedding;
* ``paper``: the CLEP-DG adjustment: soxr, mean of the channels, cut or zero-padded to 5 s.

A recipe is data (it travels to decoding workers and into the cache key); :func:`prepare`
runs it. ``n_samples=None`` keeps each clip's own length, as Wav2CLIP, AudioCLIP and
resemblyzer embed a file; ``keep_longer`` pads short clips but keeps longer ones whole.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

NAMES = ("official", "paper")
PAPER_SECONDS = 5.0
RESAMPLERS = ("soxr", "librosa", "torchaudio")
PAD_MODES = ("zero", "repeat", "repeatpad")


@dataclass(frozen=True)
class FrontEnd:
    """One recipe. ``resampler``: ``soxr`` (HQ), ``librosa`` (``librosa.load``: soxr_hq, length
    rounded up) or ``torchaudio`` (its windowed-sinc ``Resample``, as msclap); ``flatten``:
    channels concatenated one after the other (msclap) instead of averaged; ``quantise``:
    through int16 and back, clipping at full scale (LAION); ``vad``: resemblyzer's volume
    normalisation and silence trimming; ``pad_mode``: see :func:`bench.audio.io.io.fit_length`;
    ``keep_longer``: clips longer than ``n_samples`` are not cut (LAION's fusion encoders embed
    a long clip from its whole log-mel), so clips come in several lengths."""

    name: str
    sample_rate: int
    n_samples: int | None
    pad_mode: str = "zero"
    resampler: str = "soxr"
    flatten: bool = False
    quantise: bool = False
    vad: bool = False
    keep_longer: bool = False

    def __post_init__(self) -> None:
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"front-end {self.name}: pad mode must be one of {PAD_MODES}, not {self.pad_mode!r}")
        if self.resampler not in RESAMPLERS:
            raise ValueError(f"front-end {self.name}: resampler must be one of {RESAMPLERS}, not {self.resampler!r}")

    def fitted(self, n_samples: int) -> FrontEnd:
        """The same recipe cut or padded to a fixed length (a training batch needs one length)."""
        if self.n_samples is not None and not self.keep_longer:
            return self
        return replace(self, n_samples=self.n_samples or n_samples, keep_longer=False)


def paper(sample_rate: int) -> FrontEnd:
    return FrontEnd("paper", sample_rate, int(round(sample_rate * PAPER_SECONDS)))


def choose(front_ends: dict[str, FrontEnd], name: str | None, backbone: str) -> FrontEnd:
    """The named front-end of a backbone; an unknown name is a one-line error listing the known ones."""
    chosen = name or "official"
    if chosen not in front_ends:
        raise ValueError(f"{backbone}: unknown front_end {chosen!r}; use one of {sorted(front_ends)}")
    return front_ends[chosen]
