"""Heavy audio encoders with random weights: our embedding path beside the official one and the encoder alone.

    python benchmarks/encoders.py              # 32 EmoDB files, every encoder, 2 rounds
    python benchmarks/encoders.py --quick      # 8 files, one round, the smaller encoders
    python benchmarks/encoders.py --files 32 --threads 1 --only laion-clap/HTSAT-tiny,wav2clip

Per encoder, files per second on the same real files (EmoDB, ``BENCH_EMODB_ROOT`` or
``../shared/data/emodb``), each path with the same torch thread count (``--threads``):

(a) ours: ``bench.features.embed.audio_features`` as ``bench run`` calls it (decode with the backbone's
    official front-end, in worker processes where a measured first batch says it pays,
    batches of 32 through the encoder; cache off);
(b) official: the package's own path called as its users call it: laion_clap
    ``CLAP_Module.get_audio_embedding_from_filelist`` and msclap ``CLAP.get_audio_embeddings``
    (a list of files, given 32 at a time), ``wav2clip.embed_audio(librosa.load(f, sr=16000)[0])``
    and the original AudioCLIP's ``encode_audio`` of ``librosa.load(f, sr=44100)`` (one file
    at a time, as their examples do), all under ``torch.no_grad``;
(c) the encoder alone (``Backbone.audio_features``) on the same clips, already decoded by the
    same front-end (a clip keeps its own length where ours does), in batches of 32: the floor.

No released weights are needed: every model is the full-size official architecture with random
weights, built and saved as the parity tests in tests/backbones do (their builders are imported
from there), and ``bench`` loads the same file. Text towers are tiny (they are not timed).
Patched here, only for offline use: the tokenizers laion_clap fetches at import and the RoBERTa
it builds from the hub (a local tiny one), msclap's ``torchaudio.load`` (needs torchcodec, not
installed; soundfile instead) and its constructor (it downloads; the built model is wrapped).
Each path embeds two files once untimed (one-off kernel set-up); the best of interleaved rounds
counts. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
BATCH = 32
HEAVY = ("laion-clap/HTSAT-base", "laion-clap/PANN-14")  # left out by --quick


def emodb_files(n: int) -> list[Path]:
    root = Path(os.environ.get("BENCH_EMODB_ROOT", REPO.parent / "shared" / "data" / "emodb"))
    files = sorted(root.rglob("*.wav"))
    if not files:
        raise SystemExit(f"no EmoDB .wav files under {root}: set BENCH_EMODB_ROOT to the corpus folder")
    return files[:: max(1, len(files) // n)][:n]


def _tests_on_path() -> None:
    """The parity tests' builders of official models with random weights (one home for them)."""
    for folder in (REPO / "tests" / "backbones", REPO / "tests"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def in_chunks(call: Callable[[list[str]], object]) -> Callable[[list[Path]], None]:
    return lambda paths: [call([str(p) for p in paths[i : i + BATCH]]) for i in range(0, len(paths), BATCH)]


def per_file(call: Callable[[Path], object]) -> Callable[[list[Path]], None]:
    return lambda paths: [call(p) for p in paths]


def laion(amodel: str, scratch: Path, patches) -> tuple:
    import test_laion_family as t
    from tiny_text import roberta_dir

    from bench.backbones.laion_clap import LaionClap

    text = roberta_dir(scratch / "roberta768", width=768)
    path = t.save_official(t.official_clap(amodel, False, text), scratch / f"{amodel}.pt")
    module = t.official_module(amodel, False, text, path, patches)
    return LaionClap(checkpoint=path, text_dir=text), in_chunks(module.get_audio_embedding_from_filelist)


def ms_clap(version: str, scratch: Path, patches) -> tuple:
    import msclap.CLAPWrapper as wrapper_module
    import test_ms_clap as t

    patches.setattr(wrapper_module.torchaudio, "load", t._soundfile_load)
    wrapper, ours = t.full_wrapper(version, scratch / f"ms-clap-{version}", htsat=None)
    return ours, in_chunks(wrapper.get_audio_embeddings)


def wav2clip_models(scratch: Path, _patches) -> tuple:
    import librosa
    import test_wav2clip as t
    import wav2clip

    from bench.backbones.wav2clip import Wav2Clip

    ckpt, text = t.random_checkpoint(scratch)
    official = wav2clip.model.encoder.ResNetExtractor(
        checkpoint=torch.load(ckpt, weights_only=True), scenario="frozen", transform=True
    ).eval()
    embed = lambda path: wav2clip.embed_audio(librosa.load(path, sr=16000)[0], official)
    return Wav2Clip(checkpoint=str(ckpt), text_dir=str(text)), per_file(embed)


def audioclip_models(scratch: Path, _patches) -> tuple:
    import librosa
    import test_audioclip as t

    from bench.backbones.audioclip import AudioClip

    torch.manual_seed(0)
    original = t.original_audioclip()(pretrained=False).eval()
    path = scratch / "AudioCLIP-Full-Training.pt"
    torch.save(original.state_dict(), path)
    ours = AudioClip(checkpoint=str(path), tokenizer_dir=str(t.hf_clip_tokenizer(scratch / "clip")))
    embed = lambda p: original.encode_audio(torch.from_numpy(librosa.load(p, sr=44100)[0] * 32768.0)[None])
    return ours, per_file(embed)


ENCODERS: dict[str, tuple[str, Callable]] = {
    "laion-clap/HTSAT-tiny": ("HTSAT-tiny", lambda s, p: laion("HTSAT-tiny", s, p)),
    "laion-clap/HTSAT-base": ("HTSAT-base", lambda s, p: laion("HTSAT-base", s, p)),
    "laion-clap/PANN-14": ("CNN14", lambda s, p: laion("PANN-14", s, p)),
    "ms-clap (2023)": ("HTSAT", lambda s, p: ms_clap("2023", s, p)),
    "ms-clap-2022": ("CNN14", lambda s, p: ms_clap("2022", s, p)),
    "wav2clip": ("ResNet", wav2clip_models),
    "audioclip": ("ESResNeXt", audioclip_models),
}


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    with torch.no_grad():
        work()
    return time.perf_counter() - started


def measure(backbone, official: Callable[[list[Path]], None], files: list[Path], rounds: int) -> dict[str, float]:
    """Files per second of (a) ours, (b) official, (c) the encoder alone: the best of ``rounds``
    interleaved rounds (a shared machine's load moves; interleaving lets each path meet it alike),
    each path after an untimed warm-up on two files."""
    from bench.api import Utterance
    from bench.audio.frontend import prepare
    from bench.features.embed import audio_features, preprocessing

    clips = [Utterance(p.stem, p, "neutral") for p in files]
    backbone.eval()
    ours = lambda few: audio_features(backbone, few, use_cache=False)
    waves = torch.from_numpy(np.stack([prepare(p, preprocessing(backbone)) for p in files]))  # EmoDB: one length
    alone = lambda w: [backbone.audio_features(w[i : i + BATCH]) for i in range(0, len(w), BATCH)]
    paths = {"ours": (ours, clips), "official": (official, files), "encoder": (alone, waves)}
    for run, inputs in paths.values():
        timed(lambda run=run, inputs=inputs: run(inputs[:2]))
    rates = dict.fromkeys(paths, 0.0)
    for _ in range(rounds):
        for name, (run, inputs) in paths.items():
            rates[name] = max(rates[name], len(files) / timed(lambda run=run, inputs=inputs: run(inputs)))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=32, help="EmoDB files each path embeds")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each path's best counts")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch threads, every path")
    parser.add_argument("--quick", action="store_true", help=f"8 files, one round, without {', '.join(HEAVY)}")
    parser.add_argument("--only", help=f"comma-separated encoders among: {', '.join(ENCODERS)}")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else [n for n in ENCODERS if not (args.quick and n in HEAVY)]
    unknown = sorted(set(names) - set(ENCODERS))
    if unknown:
        raise SystemExit(f"--only: unknown encoder(s) {unknown}; use some of {list(ENCODERS)}")
    files = emodb_files(8 if args.quick else args.files)
    rounds = 1 if args.quick else args.rounds
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")  # every file is local; never wait on the hub
    torch.set_num_threads(args.threads)
    _tests_on_path()
    import pytest

    print(
        f"{len(files)} EmoDB files (2.0 s, 22.05 kHz), random weights, {args.threads} torch threads, "
        f"{os.cpu_count()} CPU cores (load {os.getloadavg()[0]:.1f}); files/s, best of {rounds} rounds"
    )
    print(
        f"    {'backbone':<24}{'encoder':<12}{'ours':>8}{'official':>10}{'alone':>8}{'ours/official':>15}{'ours/alone':>12}"
    )
    for name in names:
        encoder, build = ENCODERS[name]
        with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as patches:
            torch.manual_seed(0)
            backbone, official = build(Path(scratch), patches)
            r = measure(backbone, official, files, rounds)
        print(
            f"    {name:<24}{encoder:<12}{r['ours']:>8.2f}{r['official']:>10.2f}{r['encoder']:>8.2f}"
            f"{r['ours'] / r['official']:>15.2f}{r['ours'] / r['encoder']:>12.2f}",
            flush=True,
        )
    print(f"    load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
