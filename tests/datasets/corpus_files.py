"""Writers for fixture corpora (real audio files, named as the owners name them) and fold checks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from bench.api import Fold, Utterance

REPO = Path(__file__).resolve().parents[2]


def tone(seconds: float = 0.25, rate: int = 16_000, channels: int = 1, freq: float = 220.0) -> np.ndarray:
    """A short sine, ``[n]`` or ``[n, channels]`` (soundfile's layout)."""
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


class Files:
    """Writers for fixture trees."""

    def __init__(self) -> None:
        self._template: bytes | None = None

    def wav(self, path: Path, seconds: float = 0.25, rate: int = 16_000, channels: int = 1, **kwargs) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(seconds, rate, channels), rate, format=kwargs.pop("format", "WAV"), **kwargs)
        return path

    def many(self, paths: Iterable[Path]) -> list[Path]:
        """Many small real WAV files fast: one is encoded, the rest are byte copies of it."""
        if self._template is None:
            self._template = _encoded(lambda p: self.wav(p, seconds=0.1))  # the shortest clip bench uses
        out = []
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self._template)
            out.append(path)
        return out

    def container(
        self, path: Path, fmt: str, codec: str, rate: int = 44_100, channels: int = 1, seconds: float = 0.3
    ) -> Path:
        """An audio stream in a container (mp4, m4a, flv, mp3) encoded by FFmpeg through PyAV."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), "w", format=fmt) as out:
            stream = out.add_stream(codec, rate=rate)
            stream.layout = "mono" if channels == 1 else "stereo"
            wave = tone(seconds, rate).reshape(1, -1).repeat(channels, axis=0)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave), format="fltp", layout=stream.layout.name)
            frame.sample_rate = rate
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                out.mux(packet)
        return path


def _encoded(write) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return write(Path(tmp) / "t.wav").read_bytes()


def assert_partition(folds: Sequence[Fold], utterances: Sequence[Utterance]) -> None:
    """Test sides cover every utterance once; each train side is exactly the rest."""
    uids = {u.uid for u in utterances}
    seen: set[str] = set()
    for fold in folds:
        train, test = set(fold.train), set(fold.test)
        assert not train & test, fold.name
        assert train | test == uids, fold.name
        assert not seen & test, f"{fold.name} tests utterances another fold already tested"
        seen |= test
    assert seen == uids


def by(utterances: Sequence[Utterance], field: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for utt in utterances:
        key = getattr(utt, field)
        counts[key] = counts.get(key, 0) + 1
    return counts
