"""GEmo-CLAP objectives through `bench run`: genders reach the loss, clips without one are counted."""

import pytest
from benchtest import tiny_run
from test_bad_input import emodb_tree
from typer.testing import CliRunner

from bench.plugins import registry

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """EmoDB-named synth clips of speakers 08 (female), 03 (male) and 01, whom EmoDB does not list."""
    root = emodb_tree(tmp_path_factory.mktemp("emodb"), registry.dataset("synth").scan(None).utterances)
    for path in (root / "wav").glob("10*.wav"):
        path.rename(path.with_name("01" + path.name[2:]))
    return root


def test_clips_without_gender_are_counted_in_the_record(corpus, tmp_path):
    """ml-gemo: gender prompts and genders reach the loss (sl-gemo runs in tests/backbones/test_ssl_clap.py)."""
    objective = "ml-gemo"
    flags = ("--no-ablation", "--no-baselines", "--no-acpt")
    _, record = tiny_run("emodb", corpus, tmp_path, *flags, **{"finetune.objective": objective})
    assert record.config.finetune_settings["objective"] == objective
    unknown = sum(1 for u in registry.dataset("emodb").scan(corpus).utterances if u.gender is None)
    for finetune in record.finetunes:
        held_out_unknown = unknown if finetune["fold"] == "speaker01" else 0
        assert finetune["without_gender"] == unknown - held_out_unknown
        assert all(loss == loss for loss in finetune["loss"])  # finite, not NaN
