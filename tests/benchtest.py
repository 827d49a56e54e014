"""Constants and helpers shared by tests (import as `benchtest`; tests/ is on pythonpath)."""

from pathlib import Path

# Settings small enough for a whole protocol run in seconds (the stages still all run).
TINY_SETTINGS = {
    "finetune.epochs": "8",
    "acpt.iterations": "4",
    "acpt.prompt_length": "2",
    "classifier.epochs": "5",
}


def synth_one_take(folder: Path) -> Path:
    """synth with one take per speaker/condition/emotion (160 clips): every fold and class, 6x less audio."""
    from bench.datasets.synth import Synth

    synth = Synth()
    synth.scan(None)  # renders once into this session's cache
    folder.mkdir(parents=True, exist_ok=True)
    for wav in synth.default_root().glob("*_01.wav"):
        (folder / wav.name).symlink_to(wav)
    (folder / "synth.json").write_text((synth.default_root() / "synth.json").read_text())
    return folder
