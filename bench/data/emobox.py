"""EmoBox partitions (Ma et al., Interspeech 2024) as protocols of the corpora it shares with bench.

EmoBox fixes the folds of each corpus and four balanced cross-corpus test sets ("track 2");
its leaderboard numbers mean something only on exactly those partitions. They are read from
EmoBox's ``data/`` folder (a checkout of emo-box/EmoBox): ``--emobox DIR``, ``BENCH_EMOBOX_DIR``
or ``emobox = "..."`` under ``[roots]`` in the config file.

- ``emobox``: the corpus' folds, ``data/<corpus>/fold_<k>/*_{train,valid,test}_fold*.jsonl``
  (valid joins train: no selection ever looks at a test fold; a fold without a train file,
  MEAD's, trains on the rest of the corpus). Labels are EmoBox's, through its ``label_map.json``
  to canonical classes.
- ``emobox-track2``: train on one whole corpus, test on EmoBox's balanced 240-utterance set
  (4 classes x 60) of another, ``data/track2/<CORPUS>_selected_balenced.jsonl``.

Utterances are matched by identity, not path: EmoBox's key without its ``<corpus>-`` prefix
against the loader's :meth:`EmoBoxNames.emobox_id`, both with ``_``, ``-``, ``/`` and blanks
made one separator and case folded (EmoBox writes ``tess-OAF-should-fear`` for
``OAF_should_fear.wav``). Entries of EmoBox missing from the user's corpus, and utterances
of the corpus EmoBox does not list, are reported, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar

from bench.api import CANONICAL, DataError, DatasetLoader, Fold, Utterance, canonical
from bench.data.pooling import pool
from bench.data.roots import config_roots
from bench.runtime.environment import CONFIG_FILES, environment

PROTOCOLS = ("emobox", "emobox-track2")
# The corpora EmoBox partitions that bench reads (its dataset plugin names), for `bench reproduce emobox`.
SHARED = ("iemocap", "meld", "ravdess", "tess", "savee", "crema-d", "emodb", "mead")
ENV_VAR = "BENCH_EMOBOX_DIR"
SPLITS = ("train", "valid", "test")
# Where a track-2 name fits several utterances (MELD numbers dialogues per split), the first split wins.
SPLIT_PREFERENCE = ("test", "dev", "train")


class EmoBoxNames:
    """Mixin of a dataset loader that EmoBox partitions: its names there.

    ``emobox`` is its folder under ``data/``; ``track2`` its set in ``data/track2/`` (None: none).
    """

    emobox: ClassVar[str]
    track2: ClassVar[str | None] = None

    def emobox_id(self, utt: Utterance) -> str:
        """The utterance's EmoBox key without the corpus prefix (default: its uid)."""
        return utt.uid

    def track2_id(self, utt: Utterance) -> str:
        """What :meth:`track2_name` gives for this utterance (default: :meth:`emobox_id`)."""
        return self.emobox_id(utt)

    def track2_name(self, entry: Mapping[str, str]) -> str:
        """The name of a track-2 entry (default: its file's stem)."""
        return PurePosixPath(entry["wav_filename"]).stem


def identity(name: str) -> str:
    """A name with every run of ``_ - /`` and blanks made one ``-``, case folded."""
    return re.sub(r"[-_/\s]+", "-", name.strip()).casefold()


def data_dir(flag: Path | None = None) -> Path:
    """EmoBox's ``data/`` folder, or a one-line :class:`DataError` naming every way to give it."""
    value = flag or environment().emobox_dir or config_roots().get("emobox")
    if not value:
        raise DataError(
            f"EmoBox partitions: no data folder; pass --emobox DIR, set {ENV_VAR}, or add "
            f'`emobox = "/path/to/EmoBox/data"` under [roots] in {CONFIG_FILES[0]}'
        )
    folder = Path(value).expanduser()
    if not (folder / "track2").is_dir() and (folder / "data" / "track2").is_dir():
        folder = folder / "data"  # the checkout's root was given
    if not folder.is_dir():
        raise DataError(f"EmoBox partitions: {folder} is not a folder (give EmoBox's data/ folder)")
    return folder


def _loader(loader: DatasetLoader) -> EmoBoxNames:
    if not isinstance(loader, EmoBoxNames):
        raise DataError(f"{loader.name}: EmoBox does not partition this corpus (no EmoBox names in its loader)")
    return loader


@dataclass(frozen=True)
class Entry:
    """One utterance of an EmoBox list: its identity, canonical label, and EmoBox's own name for it."""

    key: str
    label: str
    name: str


@dataclass
class Partition:
    """What an EmoBox protocol evaluates, and what did not match on either side."""

    utterances: list[Utterance]  # relabelled by EmoBox; uids prefixed by corpus in track 2
    classes: tuple[str, ...]
    folds: list[Fold]
    missing: list[str]  # EmoBox's names of utterances not found in the corpus
    unlisted: list[Utterance]  # utterances of the corpus EmoBox does not list (left out)
    relabelled: int = 0  # matched utterances whose label EmoBox gives otherwise than the loader

    def skipped(self) -> list[tuple[str, str]]:
        """The mismatches as (file, reason), the way scans report skipped files."""
        return [(name, "listed by EmoBox, not found in the corpus") for name in self.missing] + [
            (str(u.path), "not in EmoBox's lists; left out of the EmoBox protocol") for u in self.unlisted
        ]

    def summary(self) -> str:
        return (
            f"{len(self.missing)} EmoBox utterances missing from the corpus, {len(self.unlisted)} of the "
            f"corpus not in EmoBox's lists, {self.relabelled} relabelled by EmoBox"
        )


def _read(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"EmoBox partitions: cannot read {path} ({err})") from None


def _label(word: str, label_map: Mapping[str, str] | None, where: str) -> str:
    """The canonical class of an EmoBox label, through ``label_map.json`` where the list has one."""
    label = canonical(word if label_map is None else label_map.get(word.casefold(), ""))
    if label is None:
        raise DataError(f"EmoBox partitions: {where}: label {word!r} maps to no canonical class")
    return label


def _entries(files: Sequence[Path], corpus: str, label_map: Mapping[str, str]) -> dict[str, Entry]:
    """Entries of one split, by identity; EmoDB's two file formats list the same utterances."""
    entries = {}
    for path in files:
        for line, row in enumerate(_read(path), 1):
            name = row["key"]
            key = identity(name.removeprefix(f"{corpus}-"))
            entries[key] = Entry(
                key, _label(row.get("emo", row.get("label", "")), label_map, f"{path} line {line}"), name
            )
    return entries


def _fold_dirs(base: Path) -> list[tuple[int, Path]]:
    folds = sorted((int(m.group(1)), p) for p in base.glob("fold_*") if (m := re.fullmatch(r"fold_(\d+)", p.name)))
    if not folds:
        raise DataError(f"EmoBox partitions: no fold_<k> folders under {base}; is it EmoBox's data/<corpus> folder?")
    return folds


def partition(loader: DatasetLoader, utterances: Sequence[Utterance], folder: Path) -> Partition:
    """The corpus on EmoBox's folds (protocol ``emobox``)."""
    names = _loader(loader)
    base = folder / names.emobox
    if not (base / "label_map.json").is_file():
        raise DataError(f"EmoBox partitions: no {base / 'label_map.json'}; is {folder} EmoBox's data/ folder?")
    # EmoDB's map spells ``Neutral`` where its lists say ``neutral``: spellings are matched case-free
    label_map = {word.casefold(): label for word, label in json.loads((base / "label_map.json").read_text()).items()}
    mapped = {_label(word, label_map, f"{base / 'label_map.json'}") for word in label_map}
    classes = tuple(c for c in loader.classes if c in mapped) + tuple(sorted(mapped - set(loader.classes)))
    ours = {identity(names.emobox_id(u)): u for u in utterances}
    used: dict[str, Utterance] = {}
    missing: dict[str, str] = {}
    relabelled: set[str] = set()

    def match(entries: dict[str, Entry]) -> tuple[str, ...]:
        uids = []
        for key, entry in entries.items():
            utt = ours.get(key)
            if utt is None:
                missing[key] = entry.name
                continue
            if utt.label != entry.label:
                relabelled.add(utt.uid)
            used[utt.uid] = dataclasses.replace(utt, label=entry.label)
            uids.append(utt.uid)
        return tuple(uids)

    folds = []
    for k, fold_dir in _fold_dirs(base):
        sides = {s: _entries(sorted(fold_dir.glob(f"*_{s}_fold*.jsonl")), names.emobox, label_map) for s in SPLITS}
        if not sides["test"]:
            raise DataError(f"EmoBox partitions: {fold_dir} has no *_test_fold*.jsonl file")
        test = match(sides["test"])
        if sides["train"]:
            train = match({**sides["train"], **sides["valid"]})
        else:  # MEAD: the fold's train file is absent upstream; train on the rest of the corpus
            held = set(test)
            rest = [u for u in utterances if u.uid not in held and u.label in classes]
            used.update({u.uid: u for u in rest})
            train = tuple(u.uid for u in rest)
        folds.append(Fold(f"emobox{k}", train, test))
    unlisted = [u for u in utterances if u.uid not in used]
    return Partition(
        sorted(used.values(), key=lambda u: u.uid),
        classes,
        folds,
        [missing[k] for k in sorted(missing)],
        unlisted,
        len(relabelled),
    )


def _split_rank(utt: Utterance) -> int:
    return SPLIT_PREFERENCE.index(utt.split) if utt.split in SPLIT_PREFERENCE else len(SPLIT_PREFERENCE)


def track2(
    train_loader: DatasetLoader,
    train_utts: Sequence[Utterance],
    test_loader: DatasetLoader,
    test_utts: Sequence[Utterance],
    folder: Path,
) -> Partition:
    """Train on one whole corpus, test on EmoBox's balanced track-2 set of another (``emobox-track2``)."""
    test_names = _loader(test_loader)
    if test_names.track2 is None:
        raise DataError(
            f"{test_loader.name}: EmoBox has no track-2 test set of it (it has IEMOCAP, MELD, RAVDESS, SAVEE)"
        )
    if train_loader.name == test_loader.name:
        raise DataError(f"emobox-track2 trains on another corpus than {test_loader.name}: pass --finetune-on CORPUS")
    path = folder / "track2" / f"{test_names.track2}_selected_balenced.jsonl"
    if not path.is_file():
        raise DataError(f"EmoBox partitions: no {path}; is {folder} EmoBox's data/ folder?")
    ours: dict[str, list[Utterance]] = {}
    for utt in test_utts:
        ours.setdefault(identity(test_names.track2_id(utt)), []).append(utt)
    test, missing, relabelled = [], [], 0
    for line, row in enumerate(_read(path), 1):
        label = _label(row.get("label", ""), None, f"{path} line {line}")
        found = ours.get(identity(test_names.track2_name(row)), [])
        if not found:
            missing.append(row["wav_filename"])
            continue
        utt = min(found, key=lambda u: (u.label != label, _split_rank(u)))
        relabelled += utt.label != label
        test.append(dataclasses.replace(utt, label=label))
    classes = tuple(c for c in CANONICAL if c in {u.label for u in test})
    pooled = pool({train_loader.name: train_utts, test_loader.name: test}, classes)
    held = {f"{test_loader.name}/{u.uid}" for u in test}
    train = tuple(u.uid for u in pooled.utterances if u.uid not in held)
    fold = Fold(f"track2-{train_loader.name}-to-{test_loader.name}", train, tuple(sorted(held)))
    return Partition(pooled.utterances, classes, [fold], missing, [], relabelled)
