"""Validate a plugin against the contract: what `bench plugin check NAME` runs (backbones,
datasets and methods).

Each check returns (name, passed, detail); a failing check says what is wrong, so a plugin
author can fix it without reading the core.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace

import torch
from pydantic import BaseModel

from bench.api import Backbone, DatasetLoader, FoldInput, Method, Predictor, Utterance
from bench.api.version import API_VERSION
from bench.audio.io import PAD_MODES
from bench.config.settings import RunConfig
from bench.data.roots import resolve_root
from bench.plugins import registry
from bench.plugins.releases import identify
from bench.protocol.texts import TextFeatures
from bench.results import records

Check = tuple[str, bool, str]


def _run(name: str, fn: Callable[[], str]) -> Check:
    try:
        return name, True, fn() or ""
    except Exception as err:  # every failure, whatever its type, is a finding to report
        return name, False, f"{type(err).__name__}: {err}"


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_backbone(name: str, options: dict[str, str] | None = None) -> list[Check]:
    results: list[Check] = []
    cls = registry.get("backbone", name)
    model: Backbone | None = None

    def identity() -> str:
        _expect(isinstance(cls.sample_rate, int) and cls.sample_rate > 0, "sample_rate must be a positive int")
        _expect(cls.clip_seconds > 0, "clip_seconds must be positive")
        _expect(isinstance(cls.embed_dim, int) and cls.embed_dim > 0, "embed_dim must be a positive int")
        _expect(cls.pad_mode in PAD_MODES, f"pad_mode must be one of {PAD_MODES}")
        return f"{cls.sample_rate} Hz, {cls.clip_seconds} s, {cls.embed_dim}-d, pad {cls.pad_mode}"

    def build() -> str:
        nonlocal model
        torch.manual_seed(0)
        model = registry.backbone(name, **(options or {})).eval()
        return f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters"

    def weight_files() -> str:
        found = [f for f in records.required_files(cls, options or {}) if f.found]
        return "; ".join(f"{f.path}: {identify(f)}" for f in found) or "none needed"

    results += [_run("identity", identity), _run("weight files", weight_files), _run("construct", build)]
    if model is None:
        return results
    n = model.front_end.n_samples or int(round(cls.sample_rate * cls.clip_seconds))
    waves = torch.randn(2, n, generator=torch.Generator().manual_seed(0)) * 0.1

    def audio() -> str:
        with torch.no_grad():
            emb = model.encode_audio(waves)
        _expect(emb.shape == (2, cls.embed_dim), f"encode_audio gave {tuple(emb.shape)}, expected (2, {cls.embed_dim})")
        _expect(emb.dtype == torch.float32, f"encode_audio gave {emb.dtype}, expected float32")
        _expect(bool(torch.isfinite(emb).all()), "encode_audio gave NaN or inf")
        _expect(bool((emb.norm(dim=1) > 0).all()), "an audio embedding has zero norm (cannot be L2-normalised)")
        with torch.no_grad():
            alone = model.encode_audio(waves[:1])
        _expect(torch.allclose(alone, emb[:1], atol=1e-4), "a clip's embedding depends on its batch-mates")
        return "shape, dtype, finite, batch-independent"

    def text() -> str:
        with torch.no_grad():
            emb = model.encode_text(["This is a happy sound", "This is a sad sound"])
        _expect(emb.shape == (2, cls.embed_dim), f"encode_text gave {tuple(emb.shape)}, expected (2, {cls.embed_dim})")
        _expect(
            bool(torch.isfinite(emb).all()) and bool((emb.norm(dim=1) > 0).all()), "text embeddings not finite/nonzero"
        )
        return "shape, finite"

    def prompts() -> str:
        texts = ["happy", "sad"]
        with torch.no_grad():
            plain = model.text_features(texts)
            empty = model.prompt_features(torch.zeros(1, 0, model.context_width), texts)[0]
        _expect(torch.allclose(plain, empty, atol=1e-4), "prompt_features with no context differs from text_features")
        context = torch.nn.Parameter(torch.randn(3, 4, model.context_width) * 0.02)
        out = model.prompt_features(context, texts)
        _expect(out.shape[:2] == (3, 2), f"prompt_features gave {tuple(out.shape)}, expected (3, 2, F)")
        model.project_text(out).sum().backward()
        _expect(context.grad is not None and context.grad.abs().sum() > 0, "no gradient reached the context vectors")
        model.zero_grad(set_to_none=True)
        return "zero context == plain text; gradients reach the context"

    def groups() -> str:
        found = model.parameter_groups()
        _expect(set(found) == {"audio_encoder", "heads"}, f"parameter_groups keys {sorted(found)}")
        _expect(len(found["heads"]) > 0, "no trainable heads")
        state = model.trainable_state()
        model.load_trainable_state(state)
        return f"{len(found['audio_encoder'])} audio-encoder and {len(found['heads'])} head tensors; state round-trips"

    for check_name, fn in (
        ("encode_audio", audio),
        ("encode_text", text),
        ("soft prompts", prompts),
        ("parameter groups", groups),
    ):
        results.append(_run(check_name, fn))
    return results


def check_dataset(name: str, root=None) -> list[Check]:
    cls = registry.get("dataset", name)
    loader: DatasetLoader = cls()
    results = [_run("identity", lambda: _dataset_identity(loader))]
    try:
        found_root = resolve_root(loader, root)
    except Exception as err:
        return results + [("data root", False, str(err))]

    def scan() -> str:
        result = loader.scan(found_root)
        unknown = {u.label for u in result.utterances} - set(loader.classes)
        _expect(not unknown, f"labels outside classes: {sorted(unknown)}")
        uids = [u.uid for u in result.utterances]
        _expect(len(uids) == len(set(uids)), "duplicate uids")
        for protocol in loader.protocols:
            folds = loader.folds(result.utterances, protocol)
            _expect(len(folds) > 0, f"protocol {protocol} gave no folds")
        return f"{len(uids)} utterances, {len(result.skipped)} skipped; folds of {', '.join(loader.protocols)} are disjoint"

    return results + [_run("scan and folds", scan)]


def _dataset_identity(loader: DatasetLoader) -> str:
    _expect(len(loader.classes) >= 2, "classes must list at least two labels")
    _expect(len(loader.protocols) >= 1, "protocols must list at least one protocol")
    _expect(bool(loader.env_var), "env_var must name an environment variable")
    return f"{len(loader.classes)} classes; protocols {', '.join(loader.protocols)}"


def check_method(name: str, backbone: str = "mini-clap", options: dict[str, str] | None = None) -> list[Check]:
    """Run the method once on a small labelled problem through a real backbone.

    The clips are not audio: each class is a cluster of feature vectors of the encoder's real
    width (found by encoding silence), and test clips reach the method as uids only, as in a
    run. What is checked is the contract, not accuracy: predictors come out, each predicts
    one class index per test clip, the same seed predicts the same, and no test label is read
    (:meth:`FoldInput.labels` refuses one).
    """
    cls = registry.get("method", name)
    results = [_run("identity", lambda: _method_identity(cls, name))]
    config = RunConfig(backbone=backbone, profile="quick", seeds=1, methods=[name])
    config.apply({"acpt.iterations": 5, "classifier.epochs": 2, "selm.epochs": 1, "finetune.epochs": 1})
    prepared = _run("prepare", lambda: cls().prepare(config) or "its requirements are met")
    results.append(prepared)
    if not prepared[1]:
        return results
    model = registry.backbone(backbone, **(options or {})).eval()

    def predict() -> str:
        data, test_ids, test_emb = _problem(model, config)
        first, second = (_predictions(cls, replace(data, kept={}), test_ids, test_emb) for _ in range(2))
        _expect(bool(first), "predictors() gave no predictor")
        for method, predicted in first.items():
            _expect(
                predicted.dtype == torch.long and predicted.shape == (12,),
                f"{method}: predict gave {predicted.dtype} {tuple(predicted.shape)}, expected int64 (12,)",
            )
            _expect(bool(((predicted >= 0) & (predicted < 3)).all()), f"{method}: a class index outside 0..2")
            _expect(torch.equal(predicted, second[method]), f"{method}: the same seed predicted differently")
        return f"rows {', '.join(first)}: one class per test clip, the same for the same seed"

    results.append(_run(f"predict (through {backbone})", predict))
    return results


def _method_identity(cls: type[Method], name: str) -> str:
    _expect(cls.name == name, f"name is {cls.name!r}, its entry point says {name!r}")
    _expect(isinstance(cls.summary, str) and cls.summary.strip() != "", "summary must be a one-line description")
    model = cls.settings_model
    _expect(
        model is None or (isinstance(model, type) and issubclass(model, BaseModel)),
        "settings_model must be a pydantic model",
    )
    _expect(model is None or _defaults_valid(model), "settings_model must have a default for every field")
    declared = getattr(cls, "api_version", None)
    return f"{cls.summary} (bench API {declared or 'not declared'}; this bench: {API_VERSION})"


def _problem(backbone: Backbone, config: RunConfig) -> tuple[FoldInput, list[str], torch.Tensor]:
    """A 3-class fold (4 training and 4 test clips per class, seed 0) and its 12 test clips."""
    classes, words = ("anger", "happiness", "sadness"), ["angry", "happy", "sad"]
    train = [Utterance(f"{label}-{i}", None, label, f"speaker{i}") for label in classes for i in range(4)]
    test = [Utterance(f"{label}-{i}", None, label, f"speaker{i - 4}") for label in classes for i in range(4, 8)]
    clips = train + test
    label = {u.uid: u.label for u in clips}
    n = backbone.front_end.n_samples or int(round(backbone.sample_rate * backbone.clip_seconds))
    with torch.no_grad():
        width = backbone.audio_features(torch.zeros(1, n)).shape[1]
        frames = backbone.audio_frames(torch.zeros(1, n)).shape[1:] if backbone.has_frames() else None
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(len(classes), width, generator=generator)
    by_uid = {u.uid: centres[classes.index(u.label)] + 0.1 * torch.randn(width, generator=generator) for u in clips}
    centres_of_frames = torch.randn(len(classes), frames[1], generator=generator) if frames is not None else None

    def features(uids):
        return list(uids), torch.stack([by_uid[u] for u in uids])

    def embeddings(uids):
        with torch.no_grad():
            return list(uids), backbone.project_audio(features(uids)[1])

    def frame_features(uids):
        steps, dim = frames
        rows = [centres_of_frames[classes.index(label[u])] for u in uids]
        return list(uids), torch.stack(rows)[:, None, :].expand(-1, steps, dim).contiguous()

    data = FoldInput(
        fold="check",
        seed=0,
        finetuned=False,
        classes=classes,
        words=words,
        train=train,
        finetune_clips=train,
        test_speakers={u.speaker for u in test},
        settings=config,
        backbone=backbone,
        text=TextFeatures(backbone, words),
        encoder_frozen=True,
        features=features,
        embeddings=embeddings,
        frames=frame_features if frames is not None else None,
        timed=lambda stage: contextlib.nullcontext(),
        kept={},
    )
    test_ids, test_emb = embeddings([u.uid for u in test])
    return data, test_ids, test_emb


def _predictions(
    cls: type[Method], data: FoldInput, test_ids: list[str], test_emb: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Each predictor's classes for the test clips."""
    found: list[Predictor] = list(cls().predictors(data))
    return {p.method: p.predict(test_ids, test_emb).long() for p in found}


def _defaults_valid(model: type[BaseModel]) -> bool:
    """A run that sets none of a method's settings must still get all of them."""
    try:
        model()
    except Exception:  # a required field without a default, or a default the model itself refuses
        return False
    return True
