"""Validate a plugin against the contract: what `bench plugin check NAME` runs.

Each check returns (name, passed, detail); a failing check says what is wrong, so a plugin
author can fix it without reading the core.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from bench import records, registry
from bench.audio import PAD_MODES
from bench.contracts import Backbone, DatasetLoader
from bench.releases import identify
from bench.roots import resolve_root

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
        _expect(bool(torch.isfinite(emb).all()) and bool((emb.norm(dim=1) > 0).all()), "text embeddings not finite/nonzero")
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

    for check_name, fn in (("encode_audio", audio), ("encode_text", text), ("soft prompts", prompts), ("parameter groups", groups)):
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
