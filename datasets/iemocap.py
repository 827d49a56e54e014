"""IEMOCAP: the Interactive Emotional Dyadic Motion Capture database (Busso et al., 2008).

Layout as distributed (``IEMOCAP_full_release``): labels in
``Session<n>/dialog/EmoEvaluation/<dialog>.txt``, one line per utterance like
``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]``; audio in
``Session<n>/sentences/wav/<dialog>/<utterance>.wav``. The speaker is the session and the
letter that opens the utterance's last field (``F000`` -> female actor of session 1,
``Ses01F``); each session has one female and one male actor.

Label map (the usual 4-class set-up): neu -> neutral, hap and exc -> happiness (excited merged
into happy), ang -> anger, sad -> sadness. Utterances with other labels (frustration, surprise,
fear, disgust, other, xxx = no agreement) are skipped with their label as the reason.
Full corpus: 5531 utterances = neutral 1708, happiness 1636 (595 + 1041 excited), anger 1103,
sadness 1084; 10 speakers over 5 sessions. Protocols: ``session`` (leave-one-session-out,
5 folds: the paper's), ``speaker`` (leave-one-speaker-out, 10 folds) and ``random-10fold``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.api import ScanResult, Utterance
from bench.data.emobox import EmoBoxNames
from bench.datasets._common import Corpus, is_audio, unusable, walk

LABELS = {"neu": "neutral", "hap": "happiness", "exc": "happiness", "ang": "anger", "sad": "sadness"}
LINE = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(Ses(\d\d)\w+?_([FM])\d+)\s+(\w+)\s+\[")
SESSION = re.compile(r"^Session(\d)$", re.IGNORECASE)


class IEMOCAP(EmoBoxNames, Corpus):
    name = "iemocap"
    classes = ("neutral", "happiness", "anger", "sadness")
    env_var = "BENCH_IEMOCAP_ROOT"
    protocols = ("session", "speaker", "random-10fold", "emobox", "emobox-track2")
    emobox, track2 = "iemocap", "IEMOCAP"
    layout = "Session<n>/dialog/EmoEvaluation/*.txt label file with its sentences/wav audio"

    def scan(self, root: Path) -> ScanResult:
        root = self.check_root(root)
        labels = read_labels(root)
        found: list[Utterance] = []
        skipped: list[tuple[Path, str]] = []
        seen: set[str] = set()
        audio = (p for session in sessions(root) for p in walk(session / "sentences" / "wav", skipped) if is_audio(p))
        for path in audio:
            reason = unusable(path)
            entry = labels.get(path.stem)
            seen.add(path.stem)
            if reason is None and entry is None:
                reason = "no label line in any EmoEvaluation file"
            elif reason is None and entry[0] not in LABELS:
                reason = f"label {entry[0]!r} is not one of the 4 classes (neu, hap+exc, ang, sad)"
            if reason:
                skipped.append((path, reason))
                continue
            code, session, gender = entry
            found.append(
                Utterance(
                    uid=path.stem,
                    path=path,
                    label=LABELS[code],
                    speaker=f"Ses{session}{gender}",
                    gender="female" if gender == "F" else "male",
                    session=f"Session{int(session)}",
                    meta={"dialog": path.parent.name, "emotion_code": code},
                )
            )
        for uid, (code, session, _) in sorted(labels.items()):
            if code in LABELS and uid not in seen:
                expected = root / f"Session{int(session)}" / "sentences" / "wav" / uid.rsplit("_", 1)[0] / f"{uid}.wav"
                skipped.append((expected, f"labelled {code!r} but the audio file is missing"))
        return self.finish(root, found, skipped)


def read_labels(root: Path) -> dict[str, tuple[str, str, str]]:
    """utterance -> (label code, session digits, F/M) from every EmoEvaluation file."""
    labels: dict[str, tuple[str, str, str]] = {}
    for session in sessions(root):
        folder = session / "dialog" / "EmoEvaluation"
        for table in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
            if table.name.startswith("._"):
                continue
            for line in table.read_text(encoding="utf-8", errors="replace").splitlines():
                match = LINE.match(line)
                if match:
                    uid, sess, gender, code = match.groups()
                    labels[uid] = (code.lower(), sess, gender)
    return labels


def sessions(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and SESSION.match(p.name))
