"""What the built-in corpus loaders share: finding audio files, skipping with reasons, protocols.

Scanning never decodes audio (a 96k-file corpus scans in seconds); it looks at names, sizes
and annotation files only. Files that cannot be used are returned with a reason, never
dropped silently. Protocol names mean the same in every loader:

- ``random-10fold``: :func:`bench.api.kfold`, 10 folds over utterances;
- ``speaker``: speaker-independent. Leave-one-speaker-out when a corpus has at most
  ``MAX_LOSO_SPEAKERS`` speakers; otherwise ``SPEAKER_GROUPS`` folds of whole speakers
  (a seeded shuffle of the speakers, dealt round-robin), so 91 CREMA-D actors give 5 folds,
  not 91;
- ``session``: leave-one-session-out (IEMOCAP);
- ``official``: the corpus' own split, train and dev as training data, test as test (MELD).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from bench.api import DataError, DatasetLoader, Fold, ScanResult, Utterance, kfold, leave_one_group_out
from bench.audio.io import MIN_CLIP_SECONDS
from bench.util import fileio

# Container suffixes a corpus may use, in the order a duplicate is preferred (lossless first).
AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3", ".m4a", ".mp4", ".flv", ".webm", ".mkv", ".avi")
# A canonical WAV header alone is 44 bytes: no smaller file holds MIN_CLIP_SECONDS of audio in
# any format, so scanning skips it by its size (decoding would skip it as too short).
MIN_AUDIO_BYTES = 64
MAX_LOSO_SPEAKERS = 10
SPEAKER_GROUPS = 5


def walk(root: Path, skipped: list[tuple[Path, str]], prune: Sequence[str] = ()) -> Iterator[Path]:
    """Every file under ``root`` in a stable order, leaving out zip metadata (``__MACOSX``);
    a folder that cannot be listed goes to ``skipped`` with its reason, never vanishes."""
    skip = {"__MACOSX", *prune}
    for folder, dirs, files in os.walk(root, onerror=lambda err: skipped.append(fileio.unreadable_folder(err))):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for name in sorted(files):
            yield Path(folder) / name


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES


def unusable(path: Path) -> str | None:
    """Why an audio-named file is not audio, from its name and size only (None: looks fine)."""
    if path.name.startswith("._"):
        return "macOS metadata file ('._' AppleDouble), not audio"
    if reason := fileio.unreadable(path):
        return reason
    size = path.stat().st_size
    if size < MIN_AUDIO_BYTES:
        return f"holds no audio ({size} bytes): a clip needs at least {MIN_CLIP_SECONDS:g} s"
    return None


def _preference(path: Path) -> tuple[int, str]:
    return AUDIO_SUFFIXES.index(path.suffix.lower()) if is_audio(path) else len(AUDIO_SUFFIXES), str(path)


class Corpus(DatasetLoader):
    """Base of the built-in loaders: protocol dispatch, de-duplication, and the file-name scan.

    A file-name corpus implements :meth:`parse`; an annotation corpus overrides :meth:`scan`
    and ends it with :meth:`finish`. ``layout`` describes the expected files for errors.
    """

    layout: ClassVar[str]
    prune: ClassVar[tuple[str, ...]] = ()

    def scan(self, root: Path) -> ScanResult:
        root = self.check_root(root)
        found: list[Utterance] = []
        skipped: list[tuple[Path, str]] = []
        for path in walk(root, skipped, self.prune):
            if not is_audio(path):
                continue
            result = unusable(path) or self.parse(path, root)
            if isinstance(result, str):
                skipped.append((path, result))
            else:
                found.append(result)
        return self.finish(root, found, skipped)

    def parse(self, path: Path, root: Path) -> Utterance | str:
        """An utterance from one audio file, or the reason it is skipped."""
        raise NotImplementedError(f"{type(self).__name__} reads annotation files; it overrides scan()")

    def check_root(self, root: Path) -> Path:
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"{self.name}: data root {root} is not a directory")
        return root

    def finish(self, root: Path, found: list[Utterance], skipped: list[tuple[Path, str]]) -> ScanResult:
        """Keep one file per uid (lossless first), sort, and refuse a folder that is not the corpus."""
        best: dict[str, Utterance] = {}
        for utt in sorted(found, key=lambda u: _preference(u.path)):
            kept = best.setdefault(utt.uid, utt)
            if kept is not utt:
                skipped.append((utt.path, f"duplicate of {utt.uid}; using {_relative(kept.path, root)}"))
        if not best:
            hint = f" ({len(skipped)} files skipped, e.g. {skipped[0][0].name}: {skipped[0][1]})" if skipped else ""
            raise DataError(f"{self.name}: no {self.layout} under {root}{hint}; is this the {self.name} corpus?")
        return ScanResult(sorted(best.values(), key=lambda u: u.uid), sorted(skipped, key=lambda s: str(s[0])))

    def folds(self, utterances: Sequence[Utterance], protocol: str, seed: int = 0) -> list[Fold]:
        if protocol not in self.protocols:
            raise DataError(f"{self.name}: unknown protocol {protocol!r} (choose from {', '.join(self.protocols)})")
        if protocol == "random-10fold":
            return kfold([u.uid for u in utterances], 10, seed)
        if protocol == "speaker":
            return speaker_folds(self.name, utterances, seed)
        if protocol == "session":
            return leave_one_group_out(utterances, lambda u: u.session)
        if protocol == "official":
            return [official_fold(self.name, utterances)]
        return self.corpus_folds(utterances, protocol, seed)

    def corpus_folds(self, utterances: Sequence[Utterance], protocol: str, seed: int) -> list[Fold]:
        """Folds of a protocol only this corpus has."""
        raise DataError(f"{self.name}: protocol {protocol!r} is declared but not implemented")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def speaker_folds(corpus: str, utterances: Sequence[Utterance], seed: int) -> list[Fold]:
    """Speaker-independent folds: leave-one-speaker-out, or whole-speaker groups for many speakers."""
    if any(u.speaker is None for u in utterances):
        raise DataError(f"{corpus}: the speaker protocol needs a speaker for every utterance")
    if len({u.speaker for u in utterances}) <= MAX_LOSO_SPEAKERS:
        return leave_one_group_out(utterances, lambda u: u.speaker, prefix="speaker")
    return group_folds(utterances, lambda u: u.speaker, seed, prefix="speakers")


def group_folds(
    utterances: Sequence[Utterance], group_of: Callable[[Utterance], str], seed: int, prefix: str
) -> list[Fold]:
    """``SPEAKER_GROUPS`` folds, each holding out whole groups (a seeded deal of the groups)."""
    groups = sorted({group_of(u) for u in utterances})
    random.Random(seed).shuffle(groups)
    fold_of = {group: i % SPEAKER_GROUPS + 1 for i, group in enumerate(groups)}
    return leave_one_group_out(utterances, lambda u: fold_of[group_of(u)], prefix=prefix)


def official_fold(corpus: str, utterances: Sequence[Utterance]) -> Fold:
    """The corpus' own split: train and dev utterances train, test utterances test."""
    unknown = sorted({str(u.split) for u in utterances} - {"train", "dev", "test"})
    if unknown:
        raise DataError(f"{corpus}: the official protocol needs split train/dev/test, found {unknown}")
    train = tuple(u.uid for u in utterances if u.split in ("train", "dev"))
    test = tuple(u.uid for u in utterances if u.split == "test")
    return Fold("official", train, test)
