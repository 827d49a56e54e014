"""Where a run's time goes, stage by stage, beside the floor of the work each stage does.

    BENCH_EMODB_ROOT=/path/to/emodb python benchmarks/stages.py            # EmoDB + synth, ~8 min on 2 cores
    python benchmarks/stages.py --dataset synth --every 8 --set acpt.iterations=5
    python benchmarks/stages.py --no-runs --busy 2     # only (1), and the fine-tune on a busy machine

(1) Per stage, measured seconds beside a floor and their ratio, in this process on fold 0 of
    ``--dataset`` (default ``emodb,synth``: leave-one-corpus-out, so fine-tuning sees the other
    corpus). Floors: embedding and the trainable-encoder fine-tune against the encoder alone
    on the same batches (already decoded); every other stage against its FLOPs (counted with
    ``torch.utils.flop_counter`` over one real step, forward and backward) at the matmul
    throughput measured here (the heads-only fine-tune adds its Adam updates, timed alone: they
    move every weight and both moments through memory). It also runs the loop as it was before
    issue 18 (read from git: commit ``BEFORE``), side by side on the same data; with ``--busy N``
    both loops run again beside N spinning processes, as on a machine shared with other work.
(2) ``bench run`` on the corpus: first run (cold embedding cache), the same command again,
    and a 5-trial ``bench sweep prompt-length``: each trial's wall time (optuna's start to
    completion) beyond its own ACPT + classifier compute (from its record), and apart from it
    what the sweep pays once (process start, imports, finding the base run, and building the
    backbone, which the first trial that computes does).
(3) Peak resident memory of a first ``bench run`` at two corpus sizes.
Corpora are cut to every ``--every``-th file (symlinks in a scratch folder) to keep one
invocation under ten minutes; stage settings of (1) are the defaults except ``--set``.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

MATMUL_SIZES = (1024, 512, 256)
BEFORE = "0327183"  # main before issue 18
PROMPT_LENGTHS = (2, 4, 8, 16, 32)  # what `bench sweep prompt-length` tries
DISPATCH_REPS = 20000


def matmul_flops_per_second() -> float:
    """Best fp32 matmul throughput of this machine over a few square sizes (FLOP/s)."""
    best = 0.0
    for n in MATMUL_SIZES:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        reps = max(3, int(2e10 / (2 * n**3)))
        started = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - started))
    return best


def flops(step: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


class _OpCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def ops(step: Callable[[], object]) -> int:
    """Tensor operations (ATen calls, forward, backward and optimiser) that one ``step`` dispatches."""
    with _OpCounter() as counter:
        step()
    return counter.ops


def dispatch_seconds() -> float:
    """Seconds eager PyTorch takes to run one operation on tiny tensors here, on one thread: the
    floor of a step made of many operations too small for their arithmetic to count."""
    a, b = torch.randn(16, 4), torch.randn(16, 4)
    best = math.inf
    with torch.no_grad():
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(DISPATCH_REPS):
                torch.mul(a, b)
            best = min(best, (time.perf_counter() - started) / DISPATCH_REPS)
    return best


def adam_update_seconds(parameters: list[torch.Tensor]) -> float:
    """One fused Adam update of tensors shaped like ``parameters``, alone on one thread: memory-bound
    work (every weight and both moments read and written) that no FLOP count sees."""
    copies = [torch.zeros_like(p, requires_grad=True) for p in parameters]
    for copy in copies:
        copy.grad = torch.randn_like(copy)
    optimizer = torch.optim.Adam(copies, fused=True)
    optimizer.step()  # creates the moments
    best = math.inf
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(50):
            optimizer.step()
        best = min(best, (time.perf_counter() - started) / 50)
    return best


def seconds(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def subset_root(source: Path, target: Path, every: int, keep: tuple[str, ...] = ()) -> Path:
    """Every ``every``-th audio file of ``source`` (sorted), symlinked into ``target``."""
    files = sorted(p for p in source.rglob("*.wav"))
    for path in files[::every]:
        link = target / path.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path.resolve())  # a relative root would leave the link dangling
    for name in keep:
        (target / name).write_bytes((source / name).read_bytes())
    return target


def corpus_roots(dataset: str, every: int, scratch: Path) -> dict[str, str]:
    """Environment variables pointing each corpus of ``dataset`` at its cut-down copy."""
    from bench.data.roots import resolve_root
    from bench.plugins import registry

    env = {}
    for name in dataset.split(","):
        loader = registry.dataset(name)
        root = Path(loader.default_root()) if name == "synth" else resolve_root(loader, None)
        if name == "synth":
            loader.scan(root)  # rendered once, here, if it is not yet
        keep = ("synth.json",) if name == "synth" else ()
        env[loader.env_var] = str(subset_root(root, scratch / f"{name}-every{every}", every, keep))
    return env


@contextmanager
def busy(processes: int) -> Iterator[None]:
    """Other work on the machine, as on a shared one: ``processes`` Python loops spinning on the cores."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def finetune_before() -> Callable:
    """``finetune`` as it was before issue 18 (commit ``BEFORE``), read from git: the baseline of (1)."""
    done = subprocess.run(
        ["git", "show", f"{BEFORE}:bench/training/contrastive.py"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
    )
    if done.returncode != 0:
        raise SystemExit(f"the baseline fine-tune loop comes from git commit {BEFORE}: {done.stderr.strip()}")
    module = sys.modules["finetune_before"] = types.ModuleType("finetune_before")  # dataclasses look it up
    exec(compile(done.stdout, "finetune_before.py", "exec"), module.__dict__)
    return module.finetune


class Table:
    def __init__(self, throughput: float, dispatch: float) -> None:
        self.throughput, self.dispatch, self.rows = throughput, dispatch, []

    def add(self, stage: str, measured: float, floor: float, basis: str) -> None:
        self.rows.append((stage, measured, floor, basis))

    def flop_floor(self, stage: str, measured: float, total_flops: float, basis: str) -> None:
        self.add(stage, measured, total_flops / self.throughput, f"{total_flops / 1e9:.1f} GFLOP; {basis}")

    def dispatch_floor(self, stage: str, measured: float, total_ops: int, basis: str) -> None:
        """For steps of tiny tensors, whose FLOP floor no eager framework approaches: the time to
        dispatch their operations one by one."""
        self.add(
            f"{stage} (dispatch)",
            measured,
            total_ops * self.dispatch,
            f"{total_ops} ops x {self.dispatch * 1e6:.1f} us; {basis}",
        )

    def print(self) -> None:
        print(f"    {'stage':<34}{'measured s':>11}{'floor s':>10}{'ratio':>8}   floor from")
        for stage, measured, floor, basis in self.rows:
            print(f"    {stage:<34}{measured:>11.2f}{floor:>10.3f}{measured / floor:>8.1f}   {basis}")


def stage_table(args: argparse.Namespace) -> None:
    """(1): every stage once on fold 0, in this process, with its floor."""
    from bench.features.embed import audio_features, waveform
    from bench.methods.clep_dg.acpt import prompt_embeddings, train_contexts
    from bench.methods.clep_dg.classifier import train_classifier
    from bench.plugins import registry
    from bench.protocol import texts
    from bench.protocol.metrics import scores
    from bench.protocol.run import Corpus, RunConfig
    from bench.runtime.threads import one_thread
    from bench.training.contrastive import finetune
    from bench.training.losses import info_nce

    config = RunConfig(dataset=args.dataset)
    config.apply(dict(pair.split("=", 1) for pair in args.set))
    corpus = Corpus.load(args.dataset)
    fold = corpus.folds(None)[1][0]
    torch.manual_seed(0)
    backbone = registry.backbone(config.backbone).eval()
    with one_thread(torch.device("cpu")):  # the tiny-step stages run on one thread
        dispatch = dispatch_seconds()
    table = Table(matmul_flops_per_second(), dispatch)
    by_uid = {u.uid: u for u in corpus.utterances}

    # embedding, cache off, vs the encoder alone on the same (decoded) batches
    clips = corpus.utterances[:: max(1, len(corpus.utterances) // args.embed_clips)][: args.embed_clips]
    measured, _ = seconds(lambda: audio_features(backbone, clips, use_cache=False))
    waves = torch.from_numpy(np.stack([waveform(u, backbone) for u in clips]))
    with torch.no_grad():
        floor, _ = seconds(lambda: [backbone.audio_features(waves[i : i + 32]) for i in range(0, len(waves), 32)])
    table.add(f"embedding ({len(clips)} clips, cache off)", measured, floor, "encoder alone, same batches")

    # heads-only fine-tune on the fold's training clips (features from the run's cache)
    train = [by_uid[u] for u in fold.train]
    features = audio_features(backbone, train)
    kept = [by_uid[u] for u in features.uids]
    caption_features = backbone.text_features(texts.captions(corpus.words)).detach()
    caption_index = corpus.label_index(kept)
    settings = config.finetune_settings
    initial = backbone.trainable_state()

    def fresh(run):
        backbone.load_trainable_state(initial)
        torch.manual_seed(0)
        return seconds(run)

    project = lambda idx: backbone.project_audio(features.features[idx])  # noqa: E731
    loop_before = lambda: finetune_before()(backbone, project, caption_features, caption_index, settings, 0)  # noqa: E731
    loop_now = lambda: finetune(backbone, features.features, caption_features, caption_index, settings, 0)  # noqa: E731
    before, old = fresh(loop_before)
    after, new = fresh(loop_now)
    steps = settings.epochs * (len(kept) // settings.batch_size + (len(kept) % settings.batch_size > 1))
    batch = torch.arange(min(settings.batch_size, len(kept)))
    scale = torch.zeros((), requires_grad=True)

    def head_step():
        audio = F.normalize(backbone.project_audio(features.features[batch]), dim=-1)
        text = F.normalize(backbone.project_text(caption_features), dim=-1)[caption_index[batch]]
        info_nce(audio, text, scale, caption_index[batch]).backward()

    per_step = flops(head_step)
    heads = [*backbone.parameter_groups()["heads"], scale]
    with one_thread(torch.device("cpu")):
        update = adam_update_seconds(heads)
    basis = (
        f"{per_step * steps / 1e9:.1f} GFLOP + {steps} Adam updates of {sum(p.numel() for p in heads) / 1e6:.2f} M "
        f"weights ({update * 1e3:.2f} ms each, alone); {steps} steps of batch {settings.batch_size}, "
        f"{len(kept)} clips, {settings.epochs} epochs"
    )

    def heads_floor(stage: str, measured: float) -> None:
        table.add(stage, measured, per_step * steps / table.throughput + steps * update, basis)

    heads_floor("fine-tune, heads only (before)", before)
    heads_floor("fine-tune, heads only (now)", after)
    table.dispatch_floor(
        "fine-tune, heads only (now)",
        after,
        ops(
            lambda: finetune(
                backbone,
                features.features,
                caption_features,
                caption_index,
                settings.model_copy(update={"epochs": 1}),
                0,
            )
        )
        * settings.epochs,
        f"{settings.epochs} epochs (one counted)",
    )
    drift = max(abs(a - b) for a, b in zip(old, new))
    print(f"    heads-only fine-tune: before/now {before / after:.1f}x; epoch losses differ by at most {drift:.2e}")
    if args.busy:
        with busy(args.busy):
            busy_before, _ = fresh(loop_before)
            busy_after, _ = fresh(loop_now)
        heads_floor(f"fine-tune, heads only (before, {args.busy} busy)", busy_before)
        heads_floor(f"fine-tune, heads only (now, {args.busy} busy)", busy_after)
        print(f"    heads-only fine-tune beside {args.busy} busy processes: before/now {busy_before / busy_after:.1f}x")
    backbone.load_trainable_state(initial)

    # trainable encoder: one step of a small batch, vs the encoder's own forward + backward
    trainable = registry.backbone(config.backbone, train_encoder="true").eval()
    few = kept[: args.encoder_batch]
    few_waves = torch.from_numpy(np.stack([waveform(u, trainable) for u in few]))
    encoder_settings = type(settings)(epochs=1, batch_size=len(few))
    audio_batch = lambda idx: trainable.project_audio(
        trainable.audio_features(  # noqa: E731
            torch.from_numpy(np.stack([waveform(few[i], trainable) for i in idx.tolist()]))
        )
    )
    measured, _ = seconds(
        lambda: finetune(trainable, audio_batch, caption_features, caption_index[: len(few)], encoder_settings, 0)
    )
    floor, _ = seconds(lambda: trainable.audio_features(few_waves).sum().backward())
    table.add(
        f"fine-tune, encoder trains (1 step, {len(few)} clips)",
        measured,
        floor,
        "encoder forward + backward alone, decoded batch",
    )
    trainable = audio_batch = None  # the second model is not needed for the rest of the table

    # ACPT and the classifier on the initial weights
    desc = texts.descriptions(corpus.words)
    with torch.no_grad():
        desc_emb = F.normalize(backbone.project_text(backbone.text_features(desc.texts)), dim=-1)
        caps = F.normalize(backbone.project_text(caption_features), dim=-1)
    labels, scapes = torch.tensor(desc.labels), torch.tensor(desc.soundscapes)
    acpt = config.acpt_settings
    measured, (contexts, _) = seconds(
        lambda: train_contexts(backbone, corpus.words, desc_emb, labels, scapes, len(texts.SOUNDSCAPES), acpt, 0)
    )
    probe = torch.zeros_like(contexts, requires_grad=True)
    per_iteration = flops(lambda: prompt_embeddings(backbone, probe, corpus.words).sum().backward())
    basis = f"{acpt.iterations} iterations x {contexts.shape[0]} contexts x {len(corpus.words)} classes, {acpt.prompt_length} tokens"
    table.flop_floor(f"ACPT ({torch.get_num_threads()} threads)", measured, per_iteration * acpt.iterations, basis)
    with one_thread(torch.device("cpu")):
        measured, _ = seconds(
            lambda: train_contexts(backbone, corpus.words, desc_emb, labels, scapes, len(texts.SOUNDSCAPES), acpt, 0)
        )
    table.flop_floor("ACPT (1 thread)", measured, per_iteration * acpt.iterations, basis)
    with torch.no_grad():
        u = prompt_embeddings(backbone, contexts, corpus.words)
    x = torch.cat([desc_emb, caps, u.reshape(-1, u.shape[-1])])
    y = torch.cat([labels, torch.arange(len(corpus.words)), torch.arange(len(corpus.words)).repeat(u.shape[0])])
    cls = config.classifier_settings
    measured, classifier = seconds(lambda: train_classifier(x, y, len(corpus.words), cls, 0))
    chunk = torch.arange(cls.batch_size)
    per_batch = flops(lambda: F.cross_entropy(classifier(x[chunk], y[chunk]), y[chunk]).backward())
    batches = cls.epochs * math.ceil(len(y) / cls.batch_size)
    table.flop_floor("classifier", measured, per_batch * batches, f"{batches} steps of batch {cls.batch_size}")
    one_epoch = cls.model_copy(update={"epochs": 1})
    table.dispatch_floor(
        "classifier",
        measured,
        ops(lambda: train_classifier(x, y, len(corpus.words), one_epoch, 0)) * cls.epochs,
        f"{cls.epochs} epochs (one counted)",
    )

    # evaluation: the fold's test clips through the heads and the classifier, scored
    test = audio_features(backbone, [by_uid[u] for u in fold.test])
    truth = corpus.label_index([by_uid[u] for u in test.uids]).numpy()

    def evaluate():
        with torch.no_grad():
            predicted = classifier(F.normalize(backbone.project_audio(test.features), dim=-1)).argmax(1)
        return scores(truth, predicted.numpy(), len(corpus.words))

    measured, _ = seconds(evaluate)
    table.flop_floor(f"evaluation ({len(test.uids)} clips)", measured, flops(evaluate), "one pass")
    table.dispatch_floor(
        f"evaluation ({len(test.uids)} clips)", measured, ops(evaluate), "one pass (numpy scoring not counted)"
    )
    print(
        f"(1) stages on fold {fold.name} of {args.dataset} (every {args.every}th file), "
        f"{os.cpu_count()} CPU cores, matmul {table.throughput / 1e9:.0f} GFLOP/s, "
        f"one tiny operation {table.dispatch * 1e6:.1f} us"
    )
    table.print()


def bench_cli(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench", *command], capture_output=True, text=True, env={**os.environ, **env}
    )
    if done.returncode != 0:
        raise SystemExit(f"bench {' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB


def compute_seconds(record_path: str | Path, stages: tuple[str, ...]) -> float:
    """Compute seconds in ``stages`` of the units of one record."""
    from bench.results.schema import Record

    return sum(Record.read(record_path).timings["unit_seconds"].get(s, 0.0) for s in stages)


def sweep_trials(folder: Path) -> list[tuple[float, float]]:
    """Each finished trial of the sweep stored under ``folder``: (wall seconds from optuna's start
    and completion times, its own ACPT + classifier compute). The trial at the base run's own
    point reuses that record: no compute of its own."""
    import optuna

    storage = f"sqlite:///{folder / 'sweeps' / 'optuna.db'}"
    trials = []
    for name in optuna.study.get_all_study_names(storage):
        study = optuna.load_study(study_name=name, storage=storage)
        base = study.user_attrs.get("base_record")
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            record = trial.user_attrs["record"]
            own = 0.0 if record == base else compute_seconds(record, ("acpt", "classifier"))
            trials.append(((trial.datetime_complete - trial.datetime_start).total_seconds(), own))
    return trials


def runs(args: argparse.Namespace, scratch: Path, env: dict[str, str]) -> None:
    """(2) and (3): ``bench run`` and ``bench sweep`` as a user runs them."""
    settings = ["--dataset", args.dataset, "--seeds", "1", "--profile", "quick"]
    settings += [arg for pair in args.set for arg in ("--set", pair)]
    small_env = {
        **env,
        "BENCH_CACHE_DIR": str(scratch / "cache-small"),
        **corpus_roots(args.dataset, args.every * 2, scratch),
    }
    bench_cli(["run", *settings, "--output", str(scratch / "small")], small_env)
    small_peak, small_clips = children_peak_mb(), _clips(scratch / "small")
    first_args = ["run", *settings, "--output", str(scratch / "runs")]
    first = bench_cli(first_args, env)
    peak, clips = children_peak_mb(), _clips(scratch / "runs")
    again = bench_cli(first_args, env)
    sweep = bench_cli(["sweep", "prompt-length", *settings, "--output", str(scratch / "runs")], env)
    trials = sweep_trials(scratch / "runs")
    wall, compute = sum(w for w, _ in trials), sum(c for _, c in trials)
    builder = next((i for i, (_, c) in enumerate(trials) if c > 0), 0)  # the first trial that computes
    build = trials[builder][0] - trials[builder][1]
    others = trials[:builder] + trials[builder + 1 :]
    other_wall, other_compute = sum(w for w, _ in others), sum(c for _, c in others)
    print(f"(2) bench {' '.join(settings)} (every {args.every}th file, {clips} clips)")
    print(
        f"    first run (cold cache) {first:7.1f} s; same command again {again:6.1f} s (first/again {first / again:.0f}x)"
    )
    print(
        f"    sweep prompt-length, {len(trials)} trials: {sweep:.1f} s wall; the trials {wall:.1f} s, "
        f"{compute:.1f} s of it their own ACPT + classifier"
    )
    print(
        f"      overhead of a trial beyond that compute (all but the one that builds the backbone): "
        f"{(other_wall - other_compute) / max(len(others), 1):.1f} s = "
        f"{(other_wall - other_compute) / max(other_compute, 1e-9):.0%} of it (all trials: "
        f"{', '.join(f'{w - c:.1f}' for w, c in trials)} s)"
    )
    print(
        f"      once per sweep: the first trial that computes builds the backbone ({build:.1f} s); process start, imports, "
        f"finding the base run {sweep - wall:.1f} s; with both the overhead would be "
        f"{(sweep - compute) / max(compute, 1e-9):.0%}"
    )
    print(
        f"(3) peak resident memory of a first bench run: {small_clips} clips {small_peak:.0f} MiB, "
        f"{clips} clips {peak:.0f} MiB (the larger run's figure is the peak of both)"
    )


def _clips(folder: Path) -> int:
    from bench.results.schema import Record

    return Record.read(next(folder.glob("*/record.json"))).dataset.utterances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="emodb,synth", help="a corpus, or a,b for leave-one-corpus-out")
    parser.add_argument("--every", type=int, default=4, help="keep every N-th file of each corpus")
    parser.add_argument(
        "--set",
        action="append",
        default=["acpt.iterations=10"],
        help="a stage setting NAME=VALUE for every part (default: acpt.iterations=10)",
    )
    parser.add_argument("--embed-clips", type=int, default=64, help="clips of the embedding row of (1)")
    parser.add_argument("--encoder-batch", type=int, default=8, help="batch of the trainable-encoder row of (1)")
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="also time the heads-only fine-tune before/now beside N spinning processes (a shared machine)",
    )
    parser.add_argument("--no-runs", action="store_true", help="only (1), with the usual embedding cache")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        os.environ.update(corpus_roots(args.dataset, args.every, scratch))
        if not args.no_runs:  # from a cold embedding cache (--no-runs: the usual one)
            os.environ["BENCH_CACHE_DIR"] = str(scratch / "cache")
            runs(args, scratch, dict(os.environ))
        stage_table(args)


if __name__ == "__main__":
    main()
