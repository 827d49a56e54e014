"""The one checkpoint reader behind every backbone family: each family's layout loads the same
weights, and every way a file can be wrong is one line naming it."""

import pytest
import torch
from torch import nn

from bench.api import CheckpointError
from bench.backbones._weights import load_state, load_strict


class Tiny(nn.Module):
    """A text-tower-like module: an embedding with the position ids transformers keeps as a buffer."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(5, width)
        self.proj = nn.Linear(width, 3)


def weights() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return Tiny().state_dict()


LAYOUTS = {  # as each family's training code saves it
    "bare (wav2clip, audioclip)": (lambda s: s, None),
    "state_dict (laion-clap, clep-dg, compa-clap)": (lambda s: {"state_dict": s, "epoch": torch.tensor(3)}, None),
    "DataParallel module. prefix (LAION training)": (
        lambda s: {"state_dict": {f"module.{k}": v for k, v in s.items()}},
        None,
    ),
    "model (ms-clap, PANNs)": (lambda s: {"model": s, "iteration": torch.tensor(1)}, "model"),
    "older transformers position_ids": (lambda s: {**s, "embeddings.position_ids": torch.arange(5)[None]}, None),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_family_s_layout_loads_the_same_weights(tmp_path, layout):
    wrap, key = LAYOUTS[layout]
    torch.save(wrap(weights()), tmp_path / "w.pt")
    model = Tiny()
    load_strict(model, load_state(tmp_path / "w.pt", key), tmp_path / "w.pt")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights().items())


def test_a_module_prefix_on_only_some_keys_is_kept_and_then_refused(tmp_path):
    state = {("module." + k if k.startswith("proj") else k): v for k, v in weights().items()}
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match=r"2 missing, e\.g\. \['proj\.bias', 'proj\.weight'\]; 2 unexpected"):
        load_strict(Tiny(), load_state(tmp_path / "w.pt"), tmp_path / "w.pt")


def test_bad_files_are_one_line_naming_them(tmp_path):
    good = tmp_path / "good.pt"
    torch.save(weights(), good)
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:200])
    (tmp_path / "text.pt").write_text("not weights")
    torch.save({"model": weights()}, tmp_path / "nested.pt")
    torch.save({"state_dict": {"a": [1, 2]}}, tmp_path / "lists.pt")
    cases = [
        (lambda: load_state(tmp_path / "cut.pt"), f"{tmp_path / 'cut.pt'}: not a readable torch weights file"),
        (lambda: load_state(tmp_path / "text.pt"), f"{tmp_path / 'text.pt'}: not a readable torch weights file"),
        (lambda: load_state(good, "model"), f"{good}: expected the weights under the key 'model'"),
        (
            lambda: load_state(tmp_path / "nested.pt"),
            f"{tmp_path / 'nested.pt'}: does not hold a state dict of tensors",
        ),
        (lambda: load_state(tmp_path / "lists.pt"), f"{tmp_path / 'lists.pt'}: does not hold a state dict of tensors"),
    ]
    for load, message in cases:
        with pytest.raises(CheckpointError) as caught:
            load()
        assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_missing_unexpected_and_mis_shaped_keys_are_named(tmp_path):
    state = weights()
    del state["proj.bias"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(
        CheckpointError,
        match=r"w\.pt: keys do not match the model \(1 missing, e\.g\. \['proj\.bias'\]; "
        r"1 unexpected, e\.g\. \['extra\.weight'\]\)",
    ):
        load_strict(Tiny(), state, "w.pt")
    with pytest.raises(CheckpointError, match=r"w\.pt: proj\.weight has shape \(3, 5\), the model \(3, 4\)"):
        load_strict(
            Tiny(), {**weights(), "embeddings.weight": torch.zeros(5, 4), "proj.weight": torch.zeros(3, 5)}, "w.pt"
        )
