"""The protocol: the same four stages for every backbone, over folds x seeds.

Data flows one way: corpus -> utterances -> waveforms -> audio features -> stages -> result
record. For each seed and fold the backbone starts from the same weights; the fine-tune
stage (when on) trains on the fine-tuning corpora, where the evaluated corpus contributes
only the fold's training part (leakage guard: fold-aware fine-tuning, one fine-tune per
fold and seed, so its cost is folds x seeds fine-tunes). Every stage-ablation row
(none / ACPT / fine-tune / both) is then evaluated from the same two weight states,
because ACPT and the classifier use text only.

Use from Python::

    from bench.protocol import RunConfig, run
    record = run(RunConfig(backbone="mini-clap", dataset="synth", seeds=1))
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from bench import distributed, fileio, labels, prompts, records, registry
from bench.contracts import Backbone, CheckpointError, DataError, Fold, Utterance
from bench.embed import AudioFeatures, audio_features, waveform
from bench.metrics import scores
from bench.progress import console
from bench.roots import resolve_root
from bench.stages.acpt import ACPTSettings, prompt_embeddings, train_contexts
from bench.stages.classifier import ClassifierSettings, train_classifier
from bench.stages.evaluate import linear_probe, nearest_prototype
from bench.stages.finetune import FinetuneSettings, encoder_trains, finetune

PROFILES = {
    "paper": {},
    # Fewer seeds and a shorter ACPT: the whole embedded run in minutes on two CPU cores.
    "quick": {"seeds": 2, "acpt.iterations": 60},
}


@dataclass
class RunConfig:
    backbone: str = "mini-clap"
    dataset: str = "synth"
    backbone_options: dict[str, str] = field(default_factory=dict)
    data_root: Path | None = None
    protocol: str | None = None
    finetune_on: list[str] | None = None
    seeds: int = 3
    finetune: bool = True
    acpt: bool = True
    classifier: bool = True
    ablation: bool = True
    baselines: bool = True
    checkpoint: Path | None = None
    device: str = "auto"
    output: Path = Path("runs")
    profile: str = "paper"
    finetune_settings: FinetuneSettings = field(default_factory=FinetuneSettings)
    acpt_settings: ACPTSettings = field(default_factory=ACPTSettings)
    classifier_settings: ClassifierSettings = field(default_factory=ClassifierSettings)

    def apply(self, overrides: dict[str, object]) -> None:
        """Set values by dotted name: ``seeds``, ``acpt.n_tokens``, ``classifier.loss`` ..."""
        for key, value in overrides.items():
            target, name = self._field(key)
            current = getattr(target, name)
            setattr(target, name, type(current)(value) if current is not None and not isinstance(value, type(current)) else value)
            if dataclasses.is_dataclass(target) and hasattr(target, "__post_init__"):
                target.__post_init__()

    def get(self, key: str) -> object:
        """The value of a dotted name, as :meth:`apply` sets it."""
        target, name = self._field(key)
        return getattr(target, name)

    def _field(self, key: str) -> tuple[object, str]:
        sections = {"finetune": "finetune_settings", "acpt": "acpt_settings", "classifier": "classifier_settings"}
        section, _, name = key.rpartition(".")
        target = getattr(self, sections[section]) if section in sections else self
        if section and section not in sections or not hasattr(target, name):
            raise ValueError(f"unknown setting {key!r}")
        return target, name


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available here")
    return torch.device(name)


@dataclass
class Corpus:
    """A scanned corpus (or several pooled ones) with its folds and the words of its classes."""

    name: str
    utterances: list[Utterance]
    classes: tuple[str, ...]
    words: list[str]
    skipped: list[tuple[str, str]]
    root: Path | None
    protocols: tuple[str, ...]
    split: Callable[[str], list[Fold]]

    @classmethod
    def load(cls, name: str, root: Path | None = None) -> Corpus:
        """One corpus, or ``a,b,c``: several pooled for leave-one-corpus-out (protocol ``corpus``)."""
        if "," in name:
            if root is not None:
                raise ValueError("--data-root names one corpus; give pooled corpora their roots by env var or config")
            return cls.pooled([n.strip() for n in name.split(",") if n.strip()])
        loader = registry.dataset(name)
        root = resolve_root(loader, root)
        scan = loader.scan(root)
        unknown = {u.label for u in scan.utterances} - set(loader.classes)
        if unknown:
            raise DataError(f"{name}: labels {sorted(unknown)} are not among its classes {loader.classes}")
        return cls(
            name, scan.utterances, loader.classes, [loader.text_label(c) for c in loader.classes],
            [(str(p), reason) for p, reason in scan.skipped], root, loader.protocols,
            lambda protocol: loader.folds(scan.utterances, protocol, seed=0),
        )

    @classmethod
    def pooled(cls, names: list[str]) -> Corpus:
        parts = [cls.load(n) for n in names]
        merged = labels.pool({c.name: c.utterances for c in parts})
        return cls(
            ",".join(names), merged.utterances, merged.classes, [labels.adjective(c) for c in merged.classes],
            [s for c in parts for s in c.skipped], None, ("corpus",), lambda _: merged.folds(),
        )

    def folds(self, protocol: str | None) -> tuple[str, list[Fold]]:
        protocol = protocol or self.protocols[0]
        if protocol not in self.protocols:
            raise ValueError(f"{self.name}: unknown protocol {protocol!r} (choose from {', '.join(self.protocols)})")
        return protocol, self.split(protocol)

    def label_index(self, utterances: Sequence[Utterance]) -> Tensor:
        return torch.tensor([self.classes.index(u.label) for u in utterances])


class Embedder:
    """Audio embeddings for the current weights; frozen-encoder features are computed once,
    on first use (a resumed run whose units are all done embeds nothing)."""

    def __init__(self, backbone: Backbone, utterances: Sequence[Utterance], frozen: bool) -> None:
        self.backbone, self.frozen = backbone, frozen
        self.by_uid = {u.uid: u for u in utterances}
        self._cached: AudioFeatures | None = None

    def prepare(self) -> None:
        """Embed every clip now when the encoder is frozen (once; later calls do nothing)."""
        if self.frozen and self._cached is None:
            self._cached = audio_features(self.backbone, list(self.by_uid.values()))

    @property
    def cached(self) -> AudioFeatures | None:
        self.prepare()
        return self._cached

    def features(self, uids: Sequence[str]) -> tuple[list[str], Tensor]:
        """Features of the usable clips among ``uids`` (skipped files drop out)."""
        if self.cached is None:
            fresh = audio_features(self.backbone, [self.by_uid[u] for u in uids])
            return fresh.uids, fresh.features
        rows = self.cached.rows(uids)
        return [self.cached.uids[r] for r in rows], self.cached.features[rows]

    def embeddings(self, uids: Sequence[str]) -> tuple[list[str], Tensor]:
        kept, feats = self.features(uids)
        device = next(self.backbone.parameters()).device
        with torch.no_grad():
            return kept, F.normalize(self.backbone.project_audio(feats.to(device)), dim=-1)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return self._cached.skipped if self._cached else []


def _finetune_pool(config: RunConfig, evaluated: Corpus) -> list[Corpus]:
    names = config.finetune_on if config.finetune_on is not None else [evaluated.name]
    return [evaluated if name == evaluated.name else Corpus.load(name) for name in names]


def _checkpoint_for(config: RunConfig, fold: Fold, seed: int) -> Path | None:
    if config.checkpoint is None:
        return None
    if config.checkpoint.is_dir():
        path = config.checkpoint / f"{fold.name}-seed{seed}.pt"
        if not path.exists():
            raise CheckpointError(f"{config.checkpoint} has no checkpoint for fold {fold.name}, seed {seed} ({path.name})")
        return path
    return config.checkpoint


def _train_finetune(
    backbone: Backbone, config: RunConfig, pool: list[Corpus], evaluated: Corpus, fold: Fold,
    embedder: Embedder, seed: int,
) -> dict:
    """Fine-tune on the pool (the evaluated corpus limited to the fold's training part)."""
    train_ids = set(fold.train)
    utts, captions = [], []
    words = sorted({w for corpus in pool for w in corpus.words})
    for corpus in pool:
        chosen = [u for u in corpus.utterances if corpus is not evaluated or u.uid in train_ids]
        if set(fold.test) & {u.uid for u in chosen} and corpus is evaluated:
            raise DataError(f"leakage guard: fold {fold.name} test utterances reached fine-tuning")
        utts += chosen
        captions += [words.index(corpus.words[corpus.classes.index(u.label)]) for u in chosen]
    if not utts:
        raise DataError(f"fold {fold.name}: nothing to fine-tune on (the evaluated corpus has no training part here)")
    kept, features = embedder.features([u.uid for u in utts])
    caption_of = dict(zip([u.uid for u in utts], captions))
    caption_index = torch.tensor([caption_of[u] for u in kept])
    device = next(backbone.parameters()).device
    with torch.no_grad():
        caption_features = backbone.text_features(prompts.captions(words))
    if embedder.frozen:
        features = features.to(device)
        audio_batch = lambda idx: backbone.project_audio(features[idx.to(device)])  # noqa: E731
    else:
        clips = [embedder.by_uid[u] for u in kept]
        audio_batch = lambda idx: _encode_clips(backbone, [clips[i] for i in idx.tolist()])  # noqa: E731
    torch.manual_seed(seed)
    history = finetune(backbone, audio_batch, caption_features, caption_index, config.finetune_settings, seed)
    return {"clips": len(kept), "corpora": [c.name for c in pool], "loss": history}


def _encode_clips(backbone: Backbone, clips: Sequence[Utterance]) -> Tensor:
    device = next(backbone.parameters()).device
    waves = torch.from_numpy(np.stack([waveform(u, backbone) for u in clips])).to(device)
    return backbone.encode_audio(waves)


def _evaluate_state(model: _Model, config: RunConfig, corpus: Corpus, fold: Fold, seed: int, tuned: bool) -> list[dict]:
    """Every row that shares this weight state: ACPT off/on x classifier, plus baselines.

    ACPT is text-only, so on the initial (not fine-tuned) weights its contexts are the same
    for every fold: they are learned once per seed and kept in ``model.untuned_contexts``.
    """
    backbone, embedder, text, untuned_contexts = model.backbone, model.embedder, model.text, model.untuned_contexts
    by_uid = {u.uid: u for u in corpus.utterances}
    test_ids, test_emb = embedder.embeddings(fold.test)
    test_labels = corpus.label_index([by_uid[u] for u in test_ids]).numpy()
    n_classes = len(corpus.classes)
    with torch.no_grad():
        desc = F.normalize(backbone.project_text(text["descriptions"]), dim=-1)
        caps = F.normalize(backbone.project_text(text["captions"]), dim=-1)
    rows = []

    def record(method: str, acpt: bool, predicted: Tensor, extra: dict | None = None) -> None:
        rows.append({
            "seed": seed, "fold": fold.name, "finetune": tuned, "acpt": acpt, "method": method,
            "n_test": len(test_ids), **scores(test_labels, predicted.cpu().numpy(), n_classes), **(extra or {}),
        })

    acpt_options = [True, False] if config.ablation and config.acpt else [config.acpt]
    for use_acpt in acpt_options:
        features, labels = [desc, caps], [text["labels"], torch.arange(n_classes)]
        extra = {}
        if use_acpt:
            if tuned or seed not in untuned_contexts:
                with model.timed("acpt"):
                    learned = train_contexts(
                        backbone, corpus.words, desc, text["labels"].to(desc.device),
                        text["soundscapes"].to(desc.device), len(prompts.SOUNDSCAPES), config.acpt_settings, seed,
                    )
                if not tuned:
                    untuned_contexts[seed] = learned
            contexts, history = learned if tuned else untuned_contexts[seed]
            with torch.no_grad():
                u = prompt_embeddings(backbone, contexts, corpus.words)
            features.append(u.reshape(-1, u.shape[-1]))
            labels.append(torch.arange(n_classes).repeat(u.shape[0]))
            extra["acpt_loss"] = [history[0], history[-1]]
        train_x = torch.cat(features)
        train_y = torch.cat(labels).to(train_x.device)
        if config.classifier:
            with model.timed("classifier"):
                classifier = train_classifier(train_x, train_y, n_classes, config.classifier_settings, seed)
            with torch.no_grad():
                predicted = classifier(test_emb).argmax(dim=1)
        else:
            prototypes = torch.stack([train_x[train_y == c].mean(0) for c in range(n_classes)])
            predicted = nearest_prototype(test_emb, prototypes)
        record("cross-modal", use_acpt, predicted, extra)
    if config.baselines:
        record("zero-shot", False, nearest_prototype(test_emb, caps))
        train_ids, train_emb = embedder.embeddings(fold.train) if fold.train else ([], None)
        if train_ids:
            train_labels = corpus.label_index([by_uid[u] for u in train_ids]).to(train_emb.device)
            record("linear-probe", False, linear_probe(train_emb, train_labels, test_emb, n_classes, seed))
    return rows


def run(config: RunConfig) -> dict:
    """Run the protocol and write the result record; returns the record.

    A run is a set of units (seed x fold x weight state), each recorded atomically in the
    run directory, whose name derives from the config, the data and the backbone's
    fingerprint: running the same command again after a crash or a kill finishes only the
    missing units and gives the same record. When no unit is missing the backbone is never
    built, so re-running a finished run (to print its table) takes seconds.
    """
    started = time.time()
    device = resolve_device(config.device)
    corpus = Corpus.load(config.dataset, config.data_root)
    protocol, folds = corpus.folds(config.protocol)
    pool = _finetune_pool(config, corpus) if config.finetune and config.checkpoint is None else []
    if config.checkpoint is not None and config.checkpoint.is_file():
        records.guard_checkpoint(config.checkpoint, corpus.name)
    backbone_cls = registry.get("backbone", config.backbone)
    fingerprint = records.backbone_fingerprint(backbone_cls, config.backbone_options)
    run_dir = records.run_dir(config, fingerprint, records.corpus_fingerprint(corpus.utterances), str(device))

    states = [True] if config.finetune and not config.ablation else [False, True] if config.finetune else [False]
    plan = [(seed, fold, tuned) for seed in range(config.seeds) for fold in folds for tuned in states]
    paths = [run_dir / "units" / f"seed{seed}-{fold.name}-{'finetuned' if tuned else 'initial'}.json" for seed, fold, tuned in plan]
    units = distributed.from_main(lambda: [records.read_unit(path) for path in paths])
    recorded = {unit.get("initial_weights") for unit in units if unit is not None}
    model = None
    for i, ((seed, fold, tuned), path) in enumerate(zip(plan, paths)):
        if units[i] is not None:
            continue
        if model is None:
            model = _Model.build(config, device, fingerprint, corpus, pool)
            foreign = recorded - {model.initial_id}
            if foreign:
                raise DataError(
                    f"{run_dir}: finished units there came from other initial weights ({', '.join(sorted(foreign))}) than "
                    f"this backbone's ({model.initial_id}), changed in a way its fingerprint does not show; "
                    "move the folder away or give another --output"
                )
        unit = _run_unit(model, config, corpus, pool, fold, seed, tuned, run_dir)
        units[i] = distributed.broadcast(unit)  # the main process knows the checkpoint hashes
        if distributed.is_main():
            records.write(path, units[i])

    finished = run_dir / "record.json"
    if model is None and distributed.from_main(finished.is_file):
        try:  # nothing was computed: the record on disk is this run's, with its own date and timings
            return {**records.read(finished), "path": str(finished)}
        except DataError:
            pass  # unreadable: written again below from the units
    skipped = corpus.skipped + sorted({(f, r) for unit in units for f, r in unit["skipped"]})
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} unusable files[/] (listed in the record)")
    record = records.build(
        config=config, backbone=backbone_cls, fingerprint=fingerprint,
        initial_weights=model.initial_id if model else units[0]["initial_weights"], corpus=corpus,
        protocol=protocol, folds=folds, units=[row for unit in units for row in unit["rows"]],
        finetunes=[unit["finetune"] for unit in units if unit["finetune"]],
        checkpoints={k: v for unit in units for k, v in unit["checkpoints"].items()},
        skipped=skipped, seconds=time.time() - started, device=str(device),
        stage_seconds=[unit["seconds"] for unit in units],
    )
    if distributed.is_main():
        records.write(finished, record)
    record["path"] = str(finished)
    return record


_BUILT: dict[tuple, tuple[Backbone, dict, str]] = {}


@dataclass
class _Model:
    """The built backbone, its initial trainable state and what the stages share."""

    backbone: Backbone
    initial: dict
    initial_id: str
    embedder: Embedder
    text: _TextFeatures
    untuned_contexts: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, of the unit being computed

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started

    @classmethod
    def build(cls, config: RunConfig, device: torch.device, fingerprint: str, corpus: Corpus, pool: list[Corpus]) -> _Model:
        """The backbone as built with torch seed 0; built once per process and reused in its
        initial state (sweep trials in one process load the weights once)."""
        key = (config.backbone, fingerprint, str(device))
        if key not in _BUILT:
            _BUILT.clear()
            torch.manual_seed(0)
            backbone = registry.backbone(config.backbone, **config.backbone_options).to(device).eval()
            _BUILT[key] = (backbone, backbone.trainable_state(), backbone.weights_id())
        backbone, initial, initial_id = _BUILT[key]
        backbone.load_trainable_state(initial)
        backbone.eval()
        frozen = not encoder_trains(backbone, config.finetune_settings)
        everything = {u.uid: u for c in [corpus, *pool] for u in c.utterances}
        return cls(backbone, initial, initial_id, Embedder(backbone, list(everything.values()), frozen),
                   _TextFeatures(backbone, corpus.words))


class _TextFeatures(dict):
    """Frozen text-encoder features of the descriptions and captions, computed on first use."""

    def __init__(self, backbone: Backbone, words: Sequence[str]) -> None:
        super().__init__()
        self.backbone, self.words = backbone, words

    def __missing__(self, key: str) -> Tensor:
        desc = prompts.descriptions(self.words)
        with torch.no_grad():
            self.update(
                descriptions=self.backbone.text_features(desc.texts),
                captions=self.backbone.text_features(prompts.captions(self.words)),
                labels=torch.tensor(desc.labels),
                soundscapes=torch.tensor(desc.soundscapes),
            )
        return self[key]


def _run_unit(
    model: _Model, config: RunConfig, corpus: Corpus, pool: list[Corpus], fold: Fold, seed: int, tuned: bool,
    run_dir: Path,
) -> dict:
    """One weight state of one fold and seed: fine-tune (or load) if tuned, then every row.

    Under torchrun every process computes the unit (fine-tuning and embedding are split
    between them); only the main one writes checkpoints and knows their hashes.
    """
    backbone, embedder = model.backbone, model.embedder
    backbone.load_trainable_state(model.initial)
    model.seconds = {}
    with model.timed("embedding"):
        embedder.prepare()
    finetuned, checkpoints = None, {}
    if tuned:
        key = f"{fold.name}-seed{seed}"
        source = _checkpoint_for(config, fold, seed)
        own = run_dir / "checkpoints" / f"{key}.pt"
        if source is None and distributed.from_main(own.is_file):  # killed after saving it: the weights are done
            source = own
        if source is not None:
            payload = records.load_checkpoint(source, backbone)
            backbone.load_trainable_state(payload["state"])
            if source == own:
                finetuned = {"seed": seed, "fold": fold.name, **payload["trained_on"]}
        else:
            with model.timed("finetune"):
                info = _train_finetune(backbone, config, pool, corpus, fold, embedder, seed)
            if distributed.is_main():
                records.save_checkpoint(own, backbone, config, info, fold)
            source = own
            finetuned = {"seed": seed, "fold": fold.name, **info}
        checkpoints[key] = fileio.sha256(source) if distributed.is_main() else None
    rows = _evaluate_state(model, config, corpus, fold, seed, tuned)
    return {
        "schema": records.SCHEMA, "seed": seed, "fold": fold.name, "finetuned": tuned, "rows": rows,
        "finetune": finetuned, "checkpoints": checkpoints, "skipped": embedder.skipped,
        "initial_weights": model.initial_id, "seconds": {k: round(v, 2) for k, v in model.seconds.items()},
    }


def finetune_corpora(config: RunConfig, corpora: Sequence[str], output: Path, seed: int = 0) -> dict:
    """Fine-tune on whole corpora (no fold held out) and save one checkpoint.

    This is how the paper's CLEP weights are made (IEMOCAP, MELD, MEAD, CMU-MOSEI), to be
    evaluated with ``bench run --checkpoint`` on corpora it never saw; the checkpoint records
    its corpora so the leakage guard can refuse evaluating it on one of them.
    """
    device = resolve_device(config.device)
    pool = [Corpus.load(name) for name in corpora]
    torch.manual_seed(0)
    backbone = registry.backbone(config.backbone, **config.backbone_options).to(device).eval()
    frozen = not encoder_trains(backbone, config.finetune_settings)
    embedder = Embedder(backbone, [u for c in pool for u in c.utterances], frozen)
    everything = Fold("all", (), ())
    info = _train_finetune(backbone, config, pool, None, everything, embedder, seed)
    if distributed.is_main():
        records.save_checkpoint(output, backbone, config, info, None)
    sha256 = distributed.from_main(lambda: fileio.sha256(output))
    return {**info, "checkpoint": str(output), "sha256": sha256, "skipped": embedder.skipped}
