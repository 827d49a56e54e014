"""Speed and scale of the embedding pipeline and the run, side by side, from one invocation.

    python benchmarks/throughput.py                 # what the issue asks for, on the synth corpus
    python benchmarks/throughput.py --memory-clips 32,128 --runs-seeds 1 --runs-set finetune.epochs=20

(a) clips per second embedding synth clips with mini-clap: our pipeline (batched encoder,
    decoding in worker processes where a measured first batch says it pays, cache off) vs the
    official package's path, one file at a time (``librosa.load``, then resemblyzer's
    ``VoiceEncoder.embed_utterance``): on the input ours encodes (the same embeddings), and
    with its documented ``preprocess_wav`` (VAD trimming: fewer windows per clip); then ours
    again from the warm cache.
(b) wall time of a first ``bench run`` (cold cache), the same command again (it resumes), the
    same run into a new folder (warm embedding cache only), and ``bench sweep prompt-length``
    (5 trials) beside the first run.
(c) peak resident memory of the embedding pipeline at two corpus sizes (the parent process
    and the largest decoding worker).
With CUDA: the pipeline's absolute throughput on the GPU and its mean utilisation.
Every measurement runs in its own process, so model loading is timed for none of (a) and
memory peaks do not mix. Nothing here is asserted: the figures are printed for the reader.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

PROMPT_LENGTHS = (2, 4, 8, 16, 32)


def synth_paths(n: int) -> list[str]:
    """``n`` synth files spread over speakers, classes and conditions (synth is rendered here once)."""
    from bench.protocol.corpus import Corpus

    utterances = Corpus.load("synth").utterances
    return [str(utterances[i * len(utterances) // n].path) for i in range(min(n, len(utterances)))]


def clips_of(paths_file: str):
    from bench.api import Utterance

    return [Utterance(Path(p).stem, Path(p), "neutral") for p in json.loads(Path(paths_file).read_text())]


def measure_ours(paths_file: str, device: str, use_cache: bool) -> dict:
    import torch

    from bench.features.embed import audio_features
    from bench.plugins import registry

    clips = clips_of(paths_file)
    torch.manual_seed(0)
    backbone = registry.backbone("mini-clap").to(device).eval()
    samples, worker_kib, stop = [], [0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            worker_kib[0] = max([worker_kib[0], *_children_rss_kib()])
            if device.startswith("cuda"):
                samples.append(torch.cuda.utilization())

    threading.Thread(target=sample, daemon=True).start()
    started = time.perf_counter()
    features = audio_features(backbone, clips, use_cache=use_cache)
    seconds = time.perf_counter() - started
    stop.set()
    return {
        "clips": len(features.uids),
        "seconds": seconds,
        "rss_mb": _peak_mb(),
        "worker_rss_mb": worker_kib[0] / 1024,
        "gpu_util": sum(samples) / len(samples) if samples else None,
        "windows": len(clips) * _windows(int(backbone.sample_rate * backbone.clip_seconds)),
    }


def _windows(n_samples: int) -> int:
    from bench.backbones.mini_clap import partial_slices

    return len(partial_slices(n_samples))


def measure_official(paths_file: str, same_input: bool) -> dict:
    """The package's own path, one file at a time: ``librosa.load``, then either its
    documented preprocessing (``preprocess_wav``: volume normalisation and VAD silence
    trimming) or, ``same_input``, the input ours encodes (5 s repeat-padded, volume
    normalised, no trimming: the parity test's oracle, the same embedding as ours)."""
    _pkg_resources_shim()
    import librosa
    from resemblyzer import VoiceEncoder, normalize_volume, preprocess_wav

    from bench.audio.io import fit_length
    from bench.backbones.mini_clap import MiniClap

    clips = clips_of(paths_file)
    encoder = VoiceEncoder("cpu", verbose=False)
    n_samples = int(MiniClap.sample_rate * MiniClap.clip_seconds)
    windows = 0
    started = time.perf_counter()
    for clip in clips:
        wav, rate = librosa.load(str(clip.path), sr=16_000)
        if same_input:
            wav = normalize_volume(fit_length(wav, n_samples, MiniClap.pad_mode), -30, increase_only=True)
        else:
            wav = preprocess_wav(wav, source_sr=rate)
        _, partials, _ = encoder.embed_utterance(wav, return_partials=True)
        windows += len(partials)
    seconds = time.perf_counter() - started
    return {"clips": len(clips), "seconds": seconds, "rss_mb": _peak_mb(), "windows": windows}


def _pkg_resources_shim() -> None:
    """webrtcvad (a resemblyzer dependency) imports ``pkg_resources`` only to read its own
    version; setuptools >= 81 no longer ships that module, so provide just that call."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(version=importlib.metadata.version(name))
        sys.modules["pkg_resources"] = shim


def _children_rss_kib() -> list[int]:
    """Resident memory of this process's children, sampled from /proc (Linux).

    ``RUSAGE_CHILDREN`` would not do: a spawned child's peak includes the parent's image it
    was forked from before it executed a fresh interpreter.
    """
    sizes = []
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            sizes += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")]
    return sizes


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def in_subprocess(*args: str, env: dict | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(["bench", *command], capture_output=True, text=True, env={**os.environ, **env})
    if done.returncode != 0:
        raise SystemExit(f"bench {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def runs(settings: list[str], cache: Path, output: Path) -> dict:
    """The same command twice (the second resumes: every unit is on disk), the same run in a
    new folder (only the embedding cache helps), and the prompt-length sweep beside the first;
    plus where the first run's and the sweep trials' compute went, from their records."""
    env = {"BENCH_CACHE_DIR": str(cache)}
    first = ["run", *settings, "--output", str(output / "a")]
    times = {"first": timed(first, env), "again": timed(first, env)}
    times["new folder"] = timed(["run", *settings, "--output", str(output / "b")], env)
    times["sweep"] = timed(["sweep", "prompt-length", *settings, "--output", str(output / "a")], env)
    times["first stages"] = _stage_seconds(output / "a", "*-synth-*/record.json")
    times["sweep stages"] = _stage_seconds(output / "a", "sweeps/*/*/record.json")
    return times


def _stage_seconds(folder: Path, pattern: str) -> dict[str, float]:
    """Unit compute seconds per stage, summed over the records that match."""
    from bench.results.schema import Record

    total: dict[str, float] = {}
    for path in folder.glob(pattern):
        for stage, seconds in Record.read(path).timings["unit_seconds"].items():
            total[stage] = total.get(stage, 0.0) + seconds
    return total


def report(args: argparse.Namespace) -> None:
    from bench.plugins import registry

    small, large = args.memory_clips
    synth_root = registry.dataset("synth").default_root()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        env = {"BENCH_SYNTH_ROOT": str(synth_root), "BENCH_CACHE_DIR": str(scratch / "cache-a")}
        for n in (small, large):
            (scratch / f"{n}.json").write_text(json.dumps(synth_paths(n)))
        few, many = str(scratch / f"{small}.json"), str(scratch / f"{large}.json")
        ours = in_subprocess("--measure", "ours", "--paths", few, env=env)
        bigger = in_subprocess("--measure", "ours", "--paths", many, env=env)
        cached = in_subprocess("--measure", "ours-cached", "--paths", many, env=env)
        official = in_subprocess("--measure", "official", "--paths", many, env=env)
        official_same = in_subprocess("--measure", "official-same-input", "--paths", many, env=env)
        gpu = None
        import torch

        if torch.cuda.is_available():
            gpu = in_subprocess("--measure", "ours-cuda", "--paths", many, env=env)
        settings = ["--profile", args.profile, "--seeds", str(args.runs_seeds)]
        settings += [arg for pair in args.runs_set for arg in ("--set", pair)]
        times = runs(settings, scratch / "cache-b", scratch / "runs") if args.runs_seeds else None

    rate = lambda m: m["clips"] / m["seconds"]  # noqa: E731
    per_window = lambda m: m["windows"] / m["seconds"]  # noqa: E731
    print(f"(a) embedding {large} synth clips with mini-clap's GE2E encoder on {os.cpu_count()} CPU cores")
    print(f"    {'path':<58}{'clips/s':>9}{'1.6 s windows/s':>17}")
    lines = [
        ("official per file, documented preprocessing (VAD trim)", official),
        ("official per file, the input ours encodes (5 s, no trim)", official_same),
        ("ours (batched; decoding in or out of process, measured)", bigger),
    ]
    for name, m in lines:
        print(f"    {name:<58}{rate(m):>9.2f}{per_window(m):>17.1f}")
    print(f"    {'ours (warm cache)':<58}{rate(cached):>9.1f}")
    print(
        f"    ours/official on the same input: {rate(bigger) / rate(official_same):.2f}x clips/s; "
        f"vs the documented path: {rate(bigger) / rate(official):.2f}x clips/s, "
        f"{per_window(bigger) / per_window(official):.2f}x windows/s (it trims silence: "
        f"{official['windows'] / official['clips']:.1f} windows/clip, ours {bigger['windows'] / bigger['clips']:.1f}); "
        f"warm cache {rate(cached) / rate(official_same):.0f}x"
    )
    if times:
        print(f"(b) {' '.join(settings)} on synth (960 clips), wall time")
        print(f"    first run (cold cache)                         {times['first']:8.1f} s")
        print(
            f"    same command again (resumes, warm cache)       {times['again']:8.1f} s   first/again = {times['first'] / times['again']:.1f}x"
        )
        print(
            f"    same run, new --output (embedding cache only)  {times['new folder']:8.1f} s   first/this  = {times['first'] / times['new folder']:.2f}x"
        )
        print(
            f"    bench sweep prompt-length (5 trials)           {times['sweep']:8.1f} s   sweep/first = {times['sweep'] / times['first']:.2f}x"
        )
        for name in ("first", "sweep"):
            stages = times[f"{name} stages"]
            print(
                f"    {name + ' units, compute by stage:':<47}"
                + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(stages.items()))
            )
    print("(c) peak resident memory of the embedding pipeline (cache off)")
    for m in (ours, bigger):
        print(
            f"    {m['clips']:>5} clips: parent {m['rss_mb']:7.0f} MiB, largest decoding worker {m['worker_rss_mb']:4.0f} MiB"
        )
    print(
        f"    official path, {official_same['clips']} clips: {official_same['rss_mb']:.0f} MiB; "
        f"ours {bigger['clips']}/{ours['clips']} clips: parent x{bigger['rss_mb'] / ours['rss_mb']:.2f}"
    )
    if gpu:
        print(
            f"(d) CUDA: {rate(gpu):.1f} clips/s on {gpu['clips']} clips, mean GPU utilisation {gpu['gpu_util']:.0f} %"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--memory-clips",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[64, 256],
        help="two corpus sizes: the larger one is also the size for (a)",
    )
    parser.add_argument("--runs-seeds", type=int, default=2, help="seeds of the runs in (b); 0 skips (b)")
    parser.add_argument("--runs-set", action="append", default=[], help="a --set NAME=VALUE for the runs in (b)")
    parser.add_argument("--profile", default="quick", help="profile of the runs in (b)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measured = {
            "ours": lambda: measure_ours(args.paths, "cpu", use_cache=False),
            "ours-cached": lambda: (measure_ours(args.paths, "cpu", True), measure_ours(args.paths, "cpu", True))[1],
            "ours-cuda": lambda: measure_ours(args.paths, "cuda", use_cache=False),
            "official": lambda: measure_official(args.paths, same_input=False),
            "official-same-input": lambda: measure_official(args.paths, same_input=True),
        }[args.measure]()
        print(json.dumps(measured))
    else:
        report(args)


if __name__ == "__main__":
    main()
