"""Constants and helpers shared by tests (import as `benchtest`; tests/ is on pythonpath)."""

import re
import subprocess
import sys
from pathlib import Path

# The example third-party plugin, its own distribution.
PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "bench-example-plugin"

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


def install_plugin(source: Path, site: Path) -> Path:
    """pip-install a plugin's source folder into ``site`` (offline, no dependencies, no build
    isolation), for a subprocess with ``site`` on its PYTHONPATH."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*command, "--target", str(site), str(source)], check=True)
    return site


def tiny_args(dataset: str, data_root: Path, output: Path, *flags: str, **settings: str) -> list[str]:
    """The arguments of `bench run --seeds 1` of ``dataset`` with :data:`TINY_SETTINGS`
    (``settings`` over them, by dotted name) and ``flags``."""
    sets = [a for k, v in {**TINY_SETTINGS, **settings}.items() for a in ("--set", f"{k}={v}")]
    places = ["--dataset", dataset, "--data-root", str(data_root), "--output", str(output)]
    return ["run", "--seeds", "1", *places, *flags, *sets]


def tiny_run(dataset: str, data_root: Path, output: Path, *flags: str, **settings: str):
    """:func:`tiny_args` through the CLI in this process; it must succeed. Returns the CLI
    result and the record it wrote."""
    from typer.testing import CliRunner

    from bench.cli import app
    from bench.results.schema import Record

    result = CliRunner().invoke(app, tiny_args(dataset, data_root, output, *flags, **settings))
    assert result.exit_code == 0, result.output
    return result, Record.read(re.search(r"record: (\S+)", result.output).group(1))


def class_folders(root: Path, speakers: set[str]) -> Path:
    """The example plugin's corpus layout (``<emotion>/<speaker>_<name>.wav``) from synth's
    studio clips of ``speakers``."""
    import shutil

    from bench.plugins import registry

    for utt in registry.dataset("synth").scan(None).utterances:
        if utt.session == "studio" and utt.speaker in speakers:
            (root / utt.label).mkdir(parents=True, exist_ok=True)
            shutil.copy(utt.path, root / utt.label / f"{utt.speaker}_{utt.path.name}")
    return root
