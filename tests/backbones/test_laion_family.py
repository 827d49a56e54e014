"""laion-clap, clep-dg and compa-clap: parity with the official laion_clap code, loading, prompts.

The oracle is ``laion_clap.clap_module`` itself, loaded as a package under a private name so
that ``laion_clap/__init__`` (which downloads tokenizers) never runs; its RoBERTa comes from a
tiny local config (width 768, because the official text projection hard-codes it) instead of
``from_pretrained('roberta-base')``. Audio encoders are the official full-size classes with
random weights (BatchNorm statistics and LayerNorms perturbed so they matter).

Parity covers the audio branch with its front-end (log-mel, bn0, HTSAT folding or CNN14),
the fusion front-end (the official ``get_mel``/``get_audio_features`` code) and fusion branch
(clips over 10 s; LAION's random chunk starts pinned to each third's first), the projections
and the RoBERTa text branch; it does not cover the tokenizer (Hugging Face's own). Tolerance:
normalised embeddings agree to 1e-6 absolute (measured: under 1e-7; text exactly).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchaudio
import torchvision
from synth_run import run_on_synth
from tiny_text import roberta_dir, t5_dir
from torch import nn

from bench.api import CheckpointError
from bench.audio.io import fit_length
from bench.backbones import _laion_audio
from bench.backbones._laion_audio import AUDIO_MODELS, build_audio_encoder
from bench.backbones.clep_dg import ClepDG
from bench.backbones.compa_clap import CompaClap
from bench.backbones.laion_clap import LaionClap
from bench.features.embed import FittingEncoder

TOL = 1e-6
LAION_DIR = Path(importlib.util.find_spec("laion_clap").submodule_search_locations[0])
TEXTS = ["This is a happy sound", "a door slams", "This is a sad sound"]


def _official_package():
    """``laion_clap.clap_module`` as the package ``_laion_official`` (its own __init__, not laion_clap's)."""
    name = "_laion_official"
    if name not in sys.modules:
        root = LAION_DIR / "clap_module"
        spec = importlib.util.spec_from_file_location(
            name, root / "__init__.py", submodule_search_locations=[str(root)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _official_feature_code() -> dict:
    """``get_mel`` and ``get_audio_features`` from laion_clap/training/data.py, run without that module.

    Importing data.py fetches three tokenizers at import time; these two functions need none.
    """
    tree = ast.parse((LAION_DIR / "training" / "data.py").read_text())
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in {"get_mel", "get_audio_features"}]
    namespace = {
        "torch": torch,
        "np": np,
        "F": F,
        "torchaudio": torchaudio,
        "torchvision": torchvision,
        "suppress": suppress,
    }
    exec(compile(ast.Module(body=wanted, type_ignores=[]), "laion_clap/training/data.py", "exec"), namespace)
    return namespace


class _LocalRoberta:
    """Stands in for ``RobertaModel`` in the oracle: ``from_pretrained`` builds from a local config."""

    folder: Path

    @classmethod
    def from_pretrained(cls, _name):
        from transformers import AutoConfig, RobertaModel

        return RobertaModel(AutoConfig.from_pretrained(cls.folder, local_files_only=True))


def _perturb_norms(model: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen) * 0.3)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
            if isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
                module.weight.add_(torch.randn(module.weight.shape, generator=gen) * 0.2)
                module.bias.add_(torch.randn(module.bias.shape, generator=gen) * 0.2)


def official_clap(amodel: str, fusion: bool, text_dir: Path, seed: int = 0):
    package = _official_package()
    cfg = json.loads((LAION_DIR / "clap_module" / "model_configs" / f"{amodel}.json").read_text())
    cfg["text_cfg"]["model_type"] = "roberta"
    _LocalRoberta.folder = text_dir
    original = package.model.RobertaModel
    package.model.RobertaModel = _LocalRoberta
    try:
        torch.manual_seed(seed)
        model = package.CLAP(**cfg, enable_fusion=fusion, fusion_type="aff_2d")
    finally:
        package.model.RobertaModel = original
    _perturb_norms(model, seed)
    return model.eval()


def save_official(model: nn.Module, path: Path, position_ids: bool = True, wrapper: bool = True) -> Path:
    """As LAION's training saves it: DataParallel ``module.`` keys inside ``{"state_dict": ...}``."""
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    if position_ids:  # saved by transformers < 4.31, deleted unconditionally by the official loader
        state["module.text_branch.embeddings.position_ids"] = torch.arange(130)[None]
    torch.save({"epoch": 10, "state_dict": state} if wrapper else state, path)
    return path


def clips(seconds: float, rate: int, n: int = 2, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate)) / rate
    tones = torch.stack([torch.sin(2 * torch.pi * (220 + 200 * i) * t * (1 + t)) for i in range(n)])
    return (0.3 * tones + 0.05 * torch.randn(tones.shape, generator=gen)).float()


def pin_official_crops(monkeypatch) -> None:
    """LAION's random choices made deterministic as ``bench`` makes them: the 10 s crop
    (``np.random.randint``) at the start, each fusion chunk (``np.random.choice``) at its third's first start."""
    monkeypatch.setattr(np.random, "randint", lambda low, high=None, *a, **k: 0)
    monkeypatch.setattr(np.random, "choice", lambda options, *a, **k: options[0])


def official_audio(model, waves, fusion: bool) -> torch.Tensor:
    code = _official_feature_code()
    inputs = [
        code["get_audio_features"](
            {}, w, 480000, "fusion" if fusion else "rand_trunc", "repeatpad", model.audio_cfg.__dict__
        )
        for w in waves
    ]
    with torch.no_grad():
        return model.get_audio_embedding(inputs)


def official_text(model, tokenizer) -> torch.Tensor:
    tokens = tokenizer(TEXTS, padding="max_length", truncation=True, max_length=77, return_tensors="pt")
    with torch.no_grad():
        return model.get_text_embedding(dict(tokens))


def ours(backbone, waves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return F.normalize(backbone.encode_audio(waves), dim=-1), F.normalize(backbone.encode_text(TEXTS), dim=-1)


@pytest.fixture(scope="module")
def text768(tmp_path_factory):
    return roberta_dir(tmp_path_factory.mktemp("roberta768"), width=768)


# --- parity ----------------------------------------------------------------------------------


def test_htsat_parity_with_official_clap(text768, tmp_path, no_network):
    official = official_clap("HTSAT-tiny", False, text768)
    path = save_official(official, tmp_path / "630k-audioset-best.pt", position_ids=True)
    backbone = LaionClap(checkpoint=str(path), text_dir=str(text768), audio_model="HTSAT-tiny")
    waves = clips(10.0, 48_000)
    audio, text = ours(backbone, waves)
    assert torch.allclose(audio, official_audio(official, waves, fusion=False), atol=TOL)
    assert torch.allclose(text, official_text(official, backbone.tokenizer), atol=TOL)


def test_fusion_parity_including_official_repeat_padding(text768, tmp_path, no_network):
    official = official_clap("HTSAT-tiny", True, text768, seed=1)
    path = save_official(official, tmp_path / "630k-fusion-best.pt", position_ids=False, wrapper=False)
    backbone = LaionClap(checkpoint=path, text_dir=text768)
    assert backbone.audio_config == AUDIO_MODELS["HTSAT-tiny-fusion"]
    short = clips(2.5, 48_000, seed=2)  # 4 whole repeats: the core's repeat pad equals LAION's repeatpad
    padded = torch.from_numpy(np.stack([fit_length(w.numpy(), 480_000, "repeat") for w in short]))
    audio, text = ours(backbone, padded)
    assert torch.allclose(audio, official_audio(official, short, fusion=True), atol=TOL)
    assert torch.allclose(text, official_text(official, backbone.tokenizer), atol=TOL)


def test_fusion_parity_on_one_batch_of_long_short_and_borderline_clips(text768, tmp_path, monkeypatch, no_network):
    """Officially one batch mixes clips: each over 10 s is fused, each other uses its global mel.
    ``bench`` encodes a batch per length (two 13 s clips together); a clip 200 samples over 10 s
    has as many frames as a 10 s one, so officially it is not fused but its whole mel is used."""
    official = official_clap("HTSAT-tiny", True, text768, seed=6)
    backbone = LaionClap(checkpoint=save_official(official, tmp_path / "fusion.pt"), text_dir=text768)
    long_a, long_b = clips(13.0, 48_000, seed=7)
    waves = [clips(2.5, 48_000, n=1, seed=8)[0], long_a, clips(11.0, 48_000, n=1, seed=9)[0, :480_200], long_b]
    pin_official_crops(monkeypatch)
    expected = official_audio(official, waves, fusion=True)
    prepared = [w.numpy() if len(w) > 480_000 else fit_length(w.numpy(), 480_000, "repeatpad") for w in waves]
    with torch.no_grad():
        features = torch.from_numpy(FittingEncoder(backbone, 4)(prepared))
        got = F.normalize(backbone.project_audio(features), dim=-1)
    assert torch.allclose(got, expected, atol=TOL)


@pytest.mark.slow
def test_pann14_parity_and_clep_dg_16khz_front_end(text768, tmp_path, no_network):
    official = official_clap("PANN-14", False, text768, seed=3)
    path = save_official(official, tmp_path / "pann14.pt")
    laion = LaionClap(checkpoint=path, text_dir=text768)
    waves = clips(1.0, 48_000)
    audio, text = ours(laion, waves)
    with torch.no_grad():
        expected = F.normalize(
            official.audio_projection(official.encode_audio({"waveform": waves}, "cpu")["embedding"]), dim=-1
        )
    assert torch.allclose(audio, expected, atol=TOL)
    assert torch.allclose(text, official_text(official, laion.tokenizer), atol=TOL)

    # clep-dg: the same weights on PANNs' Cnn14_16k front-end, built as the official Cnn14 builds its own
    clep = ClepDG(checkpoint=path, text_dir=text768)
    from torchlibrosa.stft import LogmelFilterBank, Spectrogram

    branch = official.audio_branch
    branch.spectrogram_extractor = Spectrogram(
        n_fft=512,
        hop_length=160,
        win_length=512,
        window="hann",
        center=True,
        pad_mode="reflect",
        freeze_parameters=True,
    )
    branch.logmel_extractor = LogmelFilterBank(
        sr=16_000, n_fft=512, n_mels=64, fmin=50, fmax=8000, ref=1.0, amin=1e-10, top_db=None, freeze_parameters=True
    )
    waves16 = clips(5.0, 16_000, seed=4)
    with torch.no_grad():
        expected = official.audio_projection(official.encode_audio({"waveform": waves16}, "cpu")["embedding"])
        assert torch.allclose(F.normalize(clep.encode_audio(waves16), dim=-1), F.normalize(expected, dim=-1), atol=TOL)
        assert torch.allclose(clep.encode_text(TEXTS), laion.encode_text(TEXTS))


# --- small random-weight models for everything else -------------------------------------------

TINY_HTSAT = AUDIO_MODELS["HTSAT-tiny"].__class__("HTSAT", width=8, depths=(2, 2, 2, 2), heads=(1, 1, 2, 2), classes=5)
TINY_PANN = AUDIO_MODELS["PANN-14"].__class__("PANN", width=2, classes=5)


def test_fusion_weights_leave_clips_of_at_most_10_s_unchanged():
    """The global-only path: a clip of at most ``clip_samples`` (or too few samples more to add a
    frame) does not touch ``mel_conv2d`` or the AFF module; a longer clip does."""
    torch.manual_seed(0)
    encoder = build_audio_encoder(replace(TINY_HTSAT, fusion=True)).eval()
    waves = {n: clips(12.0, 48_000, n=1, seed=10)[:, :n] for n in (480_000, 480_200, 576_000)}
    with torch.no_grad():
        before = {n: encoder(w) for n, w in waves.items()}
        for parameter in (*encoder.patch_embed.mel_conv2d.parameters(), *encoder.patch_embed.fusion_model.parameters()):
            parameter.add_(torch.randn(parameter.shape))
        after = {n: encoder(w) for n, w in waves.items()}
    assert torch.equal(before[480_000], after[480_000]) and torch.equal(before[480_200], after[480_200])
    assert not torch.allclose(before[576_000], after[576_000], atol=1e-3)


def test_log_mel_computed_in_blocks_equals_one_stft(monkeypatch):
    """A long clip's spectrogram is computed ``BLOCK_FRAMES`` frames at a time (bounded memory)."""
    encoder = build_audio_encoder(replace(TINY_HTSAT, fusion=True))
    wave = clips(12.0, 48_000, n=1, seed=11)
    with torch.no_grad():
        whole = encoder.log_mel(wave)
        monkeypatch.setattr(_laion_audio, "BLOCK_FRAMES", 97)
        torch.testing.assert_close(encoder.log_mel(wave), whole)
    reference = torchaudio.transforms.MelSpectrogram(48_000, 1024, hop_length=480, f_min=50, f_max=14_000, n_mels=64)
    torch.testing.assert_close(whole[:, 0], torchaudio.transforms.AmplitudeToDB()(reference(wave)).transpose(1, 2))


def tiny_checkpoint(path: Path, audio, text_dir: Path, text: str = "roberta", seed: int = 0) -> Path:
    """A LAION-format checkpoint of a small random model (built from our modules, official key names)."""
    from transformers import AutoConfig, RobertaModel, T5EncoderModel

    torch.manual_seed(seed)
    config = AutoConfig.from_pretrained(text_dir, local_files_only=True)
    encoder = RobertaModel(config) if text == "roberta" else T5EncoderModel(config)
    state = {f"audio_branch.{k}": v for k, v in build_audio_encoder(audio).state_dict().items()}
    state.update({f"text_branch.{k}": v for k, v in encoder.state_dict().items()})
    layers = {"audio_projection": (audio.features, 512), "text_projection": (config.hidden_size, 512)}
    for name, (n_in, n_out) in layers.items():
        for i, (a, b) in {0: (n_in, n_out), 2: (n_out, n_out)}.items():
            state[f"{name}.{i}.weight"], state[f"{name}.{i}.bias"] = torch.randn(b, a) / a**0.5, torch.randn(b) * 0.1
    for name in ("audio_transform", "text_transform"):
        for i in (0, 3):
            state[f"{name}.sequential.{i}.weight"], state[f"{name}.sequential.{i}.bias"] = (
                torch.randn(512, 512),
                torch.randn(512),
            )
    state["logit_scale_a"] = state["logit_scale_t"] = torch.tensor(2.0)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return path


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-laion")
    roberta = roberta_dir(root / "roberta", weights=True)
    t5 = t5_dir(root / "t5")
    return {
        "roberta": roberta,
        "t5": t5,
        "htsat": tiny_checkpoint(root / "htsat.pt", TINY_HTSAT, roberta),
        "pann": tiny_checkpoint(root / "pann.pt", TINY_PANN, roberta, seed=1),
        "compa": tiny_checkpoint(
            root / "compa.pt",
            AUDIO_MODELS["HTSAT-tiny"].__class__(
                "HTSAT", width=8, depths=(2, 2, 2, 2), heads=(1, 1, 2, 2), classes=5, fusion=True
            ),
            t5,
            text="t5",
            seed=2,
        ),
    }


def _check_prompts(backbone) -> None:
    context = torch.zeros(2, 0, backbone.context_width)
    with torch.no_grad():
        assert torch.allclose(
            backbone.prompt_features(context, TEXTS[:2])[1], backbone.text_features(TEXTS[:2]), atol=1e-6
        )
    context = (0.02 * torch.randn(3, 4, backbone.context_width)).requires_grad_()
    features = backbone.prompt_features(context, TEXTS[:2])
    assert features.shape == (3, 2, backbone.text_features(TEXTS[:1]).shape[-1])
    assert not torch.allclose(features[0], features[1])
    backbone.project_text(features).sum().backward()
    assert context.grad is not None and context.grad.abs().sum() > 0
    assert all(p.grad is None for p in backbone.text_branch.parameters())


def test_soft_prompts_roberta_and_t5(tiny_files, no_network):
    _check_prompts(LaionClap(checkpoint=tiny_files["htsat"], text_dir=tiny_files["roberta"]))
    _check_prompts(CompaClap(checkpoint=tiny_files["compa"], text_dir=tiny_files["t5"]))


def test_only_fusion_models_official_front_end_keeps_clips_over_10_s(tiny_files, no_network):
    compa = CompaClap(checkpoint=tiny_files["compa"], text_dir=tiny_files["t5"])
    assert compa.front_end.keep_longer and compa.front_end.n_samples == 480_000
    compa.use_front_end("paper")
    assert not compa.front_end.keep_longer and compa.front_end.n_samples == 240_000
    assert not LaionClap(checkpoint=tiny_files["htsat"], text_dir=tiny_files["roberta"]).front_end.keep_longer


def test_compa_text_is_t5_mean_over_77_positions(tiny_files, no_network):
    from transformers import AutoConfig, AutoTokenizer, T5EncoderModel

    compa = CompaClap(checkpoint=tiny_files["compa"], text_dir=str(tiny_files["t5"]))
    state = torch.load(tiny_files["compa"], weights_only=True)["state_dict"]
    t5 = T5EncoderModel(AutoConfig.from_pretrained(tiny_files["t5"])).eval()
    t5.load_state_dict(
        {k[len("module.text_branch.") :]: v for k, v in state.items() if k.startswith("module.text_branch.")}
    )
    tokens = AutoTokenizer.from_pretrained(tiny_files["t5"])(
        TEXTS, padding="max_length", max_length=77, return_tensors="pt"
    )
    with torch.no_grad():
        hidden = t5(**tokens).last_hidden_state
        assert hidden.shape[1] == 77
        assert torch.allclose(compa.text_features(TEXTS), hidden.mean(dim=1), atol=1e-5)
        assert compa.encode_audio(clips(10.0, 48_000, n=1)).shape == (1, 512)


def test_clep_dg_groups_and_fine_tuned_state_round_trip(tiny_files, no_network):
    clep = ClepDG(checkpoint=tiny_files["pann"], text_dir=tiny_files["roberta"])
    groups = clep.parameter_groups()
    assert groups["audio_encoder"] and groups["heads"]
    ids = {id(p) for group in groups.values() for p in group}
    assert not ids & {id(p) for p in clep.text_branch.parameters()}
    assert not ids & {id(p) for p in clep.audio_branch.spectrogram_extractor.parameters()}
    waves = clips(5.0, 16_000)
    clep.train()
    assert not clep.text_branch.training
    optimizer = torch.optim.Adam([p for g in groups.values() for p in g], lr=1e-2)
    (clep.encode_audio(waves).pow(2).mean() + clep.encode_text(TEXTS).pow(2).mean()).backward()
    optimizer.step()  # and the train-mode forward moved the BatchNorm statistics
    clep.eval()
    state = clep.trainable_state()
    assert any("running_mean" in k for k in state)
    with torch.no_grad():
        expected = clep.encode_audio(waves)
    fresh = ClepDG(checkpoint=tiny_files["pann"], text_dir=tiny_files["roberta"]).eval()
    fresh.load_trainable_state(state)
    with torch.no_grad():
        assert torch.allclose(fresh.encode_audio(waves), expected, atol=1e-6)


def test_clep_dg_from_panns_cnn14_and_local_roberta(tiny_files, tmp_path, no_network):
    panns = {k: v for k, v in build_audio_encoder(TINY_PANN).state_dict().items()}
    torch.save({"model": panns, "iteration": 1}, tmp_path / "Cnn14_16k_mAP=0.438.pth")
    clep = ClepDG(pann_checkpoint=tmp_path / "Cnn14_16k_mAP=0.438.pth", text_dir=tiny_files["roberta"])
    assert torch.equal(clep.audio_branch.conv_block1.conv1.weight, panns["conv_block1.conv1.weight"])
    with torch.no_grad():
        assert clep.encode_audio(clips(5.0, 16_000)).shape == (2, 512)


# --- errors that say what to do ----------------------------------------------------------------


@pytest.mark.parametrize("cls", [LaionClap, ClepDG, CompaClap])
def test_missing_files_name_what_to_put_where(cls, monkeypatch, tmp_path, no_network):
    for var in (
        "BENCH_LAION_CLAP_CKPT",
        "BENCH_CLEP_DG_INIT",
        "BENCH_COMPA_CLAP_CKPT",
        "BENCH_PANNS_CNN14",
        "BENCH_ROBERTA_DIR",
        "BENCH_FLAN_T5_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr("bench.backbones.laion_clap.official_download", lambda name: tmp_path / name)
    with pytest.raises(FileNotFoundError) as err:
        cls()
    message = str(err.value)
    assert "\n" not in message and cls.checkpoint_env in message and cls.text.env_var in message
    assert [f.found for f in cls.required_files()] == [False] * len(cls.required_files())


def test_wrong_checkpoints_are_named(tiny_files, tmp_path, no_network):
    roberta = tiny_files["roberta"]
    with pytest.raises(CheckpointError, match="holds a custom PANN CNN14 .*clep-dg|starts from PANN"):
        ClepDG(checkpoint=tiny_files["htsat"], text_dir=roberta)
    with pytest.raises(CheckpointError, match="custom HTSAT .* not HTSAT-base"):
        LaionClap(checkpoint=tiny_files["htsat"], text_dir=roberta, audio_model="HTSAT-base")
    with pytest.raises(CheckpointError, match="t5 text encoder"):
        LaionClap(checkpoint=tiny_files["compa"], text_dir=roberta)
    with pytest.raises(CheckpointError, match="feature fusion"):
        CompaClap(checkpoint=tiny_files["htsat"], text_dir=tiny_files["t5"])

    state = torch.load(tiny_files["htsat"], weights_only=True)["state_dict"]
    del state["module.audio_projection.0.bias"]
    state["module.extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": state}, tmp_path / "edited.pt")
    with pytest.raises(
        CheckpointError,
        match=r"1 missing, e.g. \['audio_projection\.0\.bias'\]; 1 unexpected, e.g. \['extra\.weight'\]",
    ):
        LaionClap(checkpoint=tmp_path / "edited.pt", text_dir=roberta)

    torch.save({"caption_encoder.base.weight": torch.zeros(1), "audio_encoder.x": torch.zeros(1)}, tmp_path / "ms.pth")
    with pytest.raises(CheckpointError, match="MS-CLAP"):
        LaionClap(checkpoint=tmp_path / "ms.pth", text_dir=roberta)
    (tmp_path / "cut.pt").write_bytes(tiny_files["htsat"].read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="not a readable"):
        LaionClap(checkpoint=tmp_path / "cut.pt", text_dir=roberta)
    with pytest.raises(TypeError, match="unknown setting"):
        LaionClap(checkpoint=tiny_files["htsat"], text_dir=roberta, pann_checkpoint="x")


# --- the whole protocol ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["clep-dg", "laion-clap"])
def test_bench_run_completes_on_synth(backbone, tiny_files, tmp_path, no_network):
    """Every stage, ablation row and baseline, with small random-weight PANN-14 models (HTSAT's fixed
    256x256 input makes even a tiny HTSAT cost ~0.4 s a clip on CPU; its path is covered above)."""
    run_on_synth(
        backbone,
        {"checkpoint": str(tiny_files["pann"]), "text_dir": str(tiny_files["roberta"])},
        tmp_path,
        encoder_trains=True,
    )


# --- parity through the official file path -------------------------------------------------


def official_module(amodel: str, fusion: bool, text_dir: Path, checkpoint: Path, monkeypatch):
    """``laion_clap.CLAP_Module`` itself, offline: only what blocks it is patched.

    Importing ``laion_clap`` fetches three tokenizers and ``CLAP_Module`` builds RoBERTa from
    the hub: both read the local tiny folder instead. The weights come through the module's
    own ``load_ckpt``, from the file ``bench`` loads too.
    """
    from transformers import BartTokenizer, BertTokenizer, RobertaTokenizer

    local = RobertaTokenizer.from_pretrained
    for tokenizer in (BartTokenizer, BertTokenizer, RobertaTokenizer):
        monkeypatch.setattr(tokenizer, "from_pretrained", lambda *_, **__: local(str(text_dir), local_files_only=True))
    import laion_clap  # puts its folder on sys.path and imports clap_module top-level

    clap_model = importlib.import_module("clap_module.model")

    _LocalRoberta.folder = text_dir
    monkeypatch.setattr(clap_model, "RobertaModel", _LocalRoberta)
    module = laion_clap.CLAP_Module(enable_fusion=fusion, device="cpu", amodel=amodel)
    module.load_ckpt(str(checkpoint), verbose=False)
    return module


@pytest.fixture(scope="module")
def real_files(emodb_root, tmp_path_factory):
    from real_files import make_files

    return make_files(emodb_root, tmp_path_factory.mktemp("laion-files"))


def file_path_difference(backbone, module, files, monkeypatch) -> dict[str, float]:
    """Max |difference| of normalised embeddings per file, ``bench``'s front-end vs ``get_audio_embedding_from_filelist``."""
    from bench.audio.frontend import prepare

    pin_official_crops(monkeypatch)
    differences = {}
    for path in files:
        with torch.no_grad():
            wave = torch.from_numpy(prepare(path, backbone.front_end))[None]
            ours = F.normalize(backbone.encode_audio(wave), dim=-1)
            official = torch.from_numpy(module.get_audio_embedding_from_filelist([str(path)]))
        differences[path.name] = float((ours - official).abs().max())
    return differences


@pytest.mark.slow
@pytest.mark.parametrize("amodel, fusion", [("HTSAT-tiny", False), ("HTSAT-tiny", True), ("PANN-14", False)])
def test_file_path_parity_with_get_audio_embedding_from_filelist(
    amodel, fusion, real_files, text768, tmp_path, monkeypatch, no_network
):
    """The official front-end equals LAION's documented file path: librosa.load at 48 kHz (one
    sample more than soxr for many rates, which changes the repeat count), the int16 round trip
    with clipping, repeat-padding, the 10 s crop (pinned to the start); for fusion models the 12 s
    file goes through the fusion branch (its chunk starts pinned to each third's first)."""
    official = official_clap(amodel, fusion, text768, seed=5)
    path = save_official(official, tmp_path / "ckpt.pt")
    module = official_module(amodel, fusion, text768, path, monkeypatch)
    backbone = LaionClap(checkpoint=path, text_dir=text768)
    label = f"laion-clap {amodel}{' fusion' if fusion else ''}"
    differences = file_path_difference(backbone, module, real_files, monkeypatch)
    print(f"{label} official: max |diff| " + ", ".join(f"{name} {d:.2e}" for name, d in differences.items()))
    assert max(differences.values()) <= 1e-5

    backbone.use_front_end("paper")  # the CLEP-DG adjustment is another waveform: it must not pass as official
    paper = max(file_path_difference(backbone, module, real_files, monkeypatch).values())
    print(f"{label} paper: max |diff| {paper:.2e}")
    assert paper > 1e-3
