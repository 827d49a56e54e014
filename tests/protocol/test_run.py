"""The protocol end to end on the embedded defaults (mini-clap on synth), with tiny settings."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from benchtest import TINY_SETTINGS
from typer.testing import CliRunner

from bench import api
from bench.cli import app
from bench.plugins import registry
from bench.results import records
from bench.results.schema import Record, Unit

runner = CliRunner()
STAGE_ROWS = {"none", "ACPT", "fine-tune", "fine-tune + ACPT"}


def bench_run(output, *extra):
    settings = [arg for key, value in TINY_SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    result = runner.invoke(app, ["run", "--seeds", "1", "--output", str(output), *settings, *extra])
    return result


def record_of(result):
    assert result.exit_code == 0, result.output
    path = re.search(r"record: (\S+)", result.output).group(1)
    return Record.read(path), path


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    return record_of(bench_run(tmp_path_factory.mktemp("runs")))


def test_one_run_reports_every_stage_ablation_row_and_the_baselines(first_run):
    record, _ = first_run
    names = {row.label for row in record.summary}
    baselines = {"zero shot", "nearest description centroid", "linear probe (joint space)"}
    assert names == STAGE_ROWS | baselines | {"linear probe (encoder features)"}
    for row in record.summary:
        assert 0.0 <= row.wa <= 1.0 and 0.0 <= row.ua <= 1.0
    # 2 folds x (2 weight states x (2 stage rows + 3 baselines) + the frozen encoder's probe, once)
    assert len(record.units) == 2 * (2 * 2 + 2 * 3 + 1)


def test_record_says_what_produced_it(first_run):
    record, path = first_run
    assert record.schema_ == records.SCHEMA
    assert record.config.backbone == "mini-clap" and record.config.acpt_settings["prompt_length"] == 2
    assert record.versions["torch"].startswith("2.")
    assert len(record.backbone["initial_weights"]) == 16
    assert set(record.backbone["finetuned_checkpoints"]) == {"half1-seed0", "half2-seed0"}
    assert record.dataset.utterances == 960 and len(record.dataset.fingerprint) == 16
    assert all(len(unit.confusion) == 4 for unit in record.units)
    assert set(record.timings["unit_seconds"]) == {"embedding", "finetune", "acpt", "classifier", "probe"}
    assert record.timings["unit_seconds"]["acpt"] > 0
    assert (Path(path).parent / "confusion.png").stat().st_size > 1000  # the main row's confusion matrix
    checkpoint_dir = Path(path).parent / "checkpoints"
    assert sorted(p.name for p in checkpoint_dir.iterdir()) == ["half1-seed0.pt", "half2-seed0.pt"]


def test_the_record_names_the_code_its_run_started_with(first_run, tmp_path, monkeypatch):
    """Code identity is read once, at the start: a run resumed or still running after a commit
    is not named by the later commit."""
    record, path = first_run
    folder = tmp_path / Path(path).parent.name
    shutil.copytree(Path(path).parent, folder)
    (folder / "record.json").unlink()
    (folder / "units" / "seed0-half2-finetuned.json").unlink()
    commits = iter(["1" * 40, "2" * 40])
    monkeypatch.setattr(records, "git_commit", lambda: next(commits))
    again, again_path = record_of(bench_run(tmp_path))
    assert Path(again_path).parent == folder  # same code hash, same folder: resumed
    assert again.code["git_commit"] == "1" * 40 and again.code["hash"] == record.code["hash"]


def test_a_checkout_with_uncommitted_changes_is_marked_dirty(monkeypatch):
    answers = {"rev-parse": "0123abc\n", "status": " M bench/protocol/run.py\n"}
    monkeypatch.setattr(records, "_git", lambda *args: subprocess.CompletedProcess(args, 0, answers[args[0]], ""))
    assert records.git_commit() == "0123abc-dirty"
    answers["status"] = ""
    assert records.git_commit() == "0123abc"


def test_leakage_guard_fine_tunes_on_the_training_part_only(first_run):
    record, _ = first_run
    folds = {f["name"]: f for f in record.dataset.folds}
    for finetune in record.finetunes:
        assert finetune["corpora"] == ["synth"]
        assert finetune["clips"] == folds[finetune["fold"]]["train"]  # 192 seen-condition clips, not 960


def test_same_seed_gives_identical_numbers(first_run, tmp_path):
    again, _ = record_of(bench_run(tmp_path))
    strip = lambda units: [u.model_dump(exclude={"acpt_loss"}) for u in units]  # noqa: E731
    assert strip(again.units) == strip(first_run[0].units)
    assert again.units == first_run[0].units


def test_a_finished_run_gives_its_record_again_without_building_the_backbone(first_run, monkeypatch):
    record, path = first_run
    monkeypatch.setattr(registry, "backbone", lambda *args, **kwargs: pytest.fail("built the backbone"))
    again, again_path = record_of(bench_run(Path(path).parents[1]))
    assert again_path == path and again.units == record.units
    assert again.backbone["initial_weights"] == record.backbone["initial_weights"]


def test_units_from_other_initial_weights_are_not_mixed_in(first_run, tmp_path):
    """A run folder whose finished units came from other weights (code edited in a way the
    fingerprint misses) is refused, not completed with units of the current weights."""
    _, path = first_run
    folder = tmp_path / Path(path).parent.name
    shutil.copytree(Path(path).parent, folder)
    unit_path = folder / "units" / "seed0-half1-initial.json"
    Unit.read(unit_path).model_copy(update={"initial_weights": "0123456789abcdef"}).write(unit_path)
    (folder / "units" / "seed0-half2-initial.json").unlink()
    result = bench_run(tmp_path)
    assert result.exit_code == 2 and "other initial weights (0123456789abcdef)" in result.output
    assert Unit.read(unit_path).initial_weights == "0123456789abcdef"  # nothing overwritten


def test_run_folder_follows_the_backbone_files_and_options(tmp_path):
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"one")

    class Model(api.Backbone):
        name = "fingerprinted"

        @classmethod
        def required_files(cls, checkpoint=None):
            return [api.RequiredFile("weights", Path(checkpoint) if checkpoint else weights)]

    first = records.backbone_fingerprint(Model, {})
    assert records.backbone_fingerprint(Model, {}) == first
    other = tmp_path / "other.pt"
    other.write_bytes(b"two")
    assert records.backbone_fingerprint(Model, {"checkpoint": str(other)}) != first
    weights.write_bytes(b"three")
    assert records.backbone_fingerprint(Model, {}) != first


def test_checkpoints_load_back_and_reproduce_the_fine_tuned_rows(first_run, tmp_path):
    record, path = first_run
    folder = Path(path).parent / "checkpoints"
    reloaded, _ = record_of(bench_run(tmp_path, "--checkpoint", str(folder), "--no-ablation", "--no-baselines"))
    assert reloaded.finetunes == []
    tuned = lambda rec: {(u.fold, u.wa) for u in rec.units_of((True, "clep-dg", "ACPT prompts"))}  # noqa: E731
    assert tuned(reloaded) == tuned(record)
    assert {r.label for r in reloaded.summary} == {"fine-tune + ACPT"}


def test_a_single_checkpoint_trained_on_the_evaluated_corpus_is_refused(first_run, tmp_path):
    _, path = first_run
    checkpoint = Path(path).parent / "checkpoints" / "half1-seed0.pt"
    result = bench_run(tmp_path, "--checkpoint", str(checkpoint))
    assert result.exit_code == 2
    assert "would leak test data" in result.output


def test_stage_switches_remove_their_rows(tmp_path):
    record, _ = record_of(bench_run(tmp_path, "--no-finetune", "--no-classifier", "--no-baselines"))
    assert {r.label for r in record.summary} == {"none", "ACPT"}
    assert record.finetunes == [] and record.backbone["finetuned_checkpoints"] == {}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backbone", "nope"], "unknown backbone 'nope'"),
        (["--dataset", "emodb", "--data-root", "/nonexistent/emodb"], "is not a directory"),
        (["--profile", "fast"], "setting profile=fast: input should be 'paper' or 'quick'"),
        (["--set", "acpt.nope=3"], "unknown setting 'acpt.nope'"),
        (["--classifier-loss", "hinge"], "setting classifier.loss=hinge: input should be 'arcface' or 'softmax'"),
        (["--backbone-opt", "oops"], "--backbone-opt expects KEY=VALUE"),
    ],
)
def test_bad_cli_values_are_one_line_errors(tmp_path, args, message):
    result = bench_run(tmp_path, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_finetune_trains_the_audio_encoder_slowly_and_never_the_text_encoder():
    from bench.plugins import registry
    from bench.training.contrastive import FinetuneSettings, finetune

    torch.manual_seed(0)
    model = registry.backbone("mini-clap", train_encoder="true")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    waves = torch.randn(4, 16000) * 0.1
    captions = model.text_features(["This is a happy sound", "This is a sad sound"])
    finetune(
        model,
        lambda idx: model.encode_audio(waves[idx]),
        captions,
        torch.tensor([0, 1, 0, 1]),
        FinetuneSettings(epochs=2, batch_size=4),
        seed=0,
    )
    after = model.state_dict()
    change = lambda prefix: max((after[k] - before[k]).abs().max().item() for k in before if k.startswith(prefix))  # noqa: E731
    assert change("text_encoder.") == 0.0
    assert 0.0 < change("lstm.") <= 2 * 2e-5  # Adam moves each weight by about lr per step
    assert change("audio_head.") > 1e-4 and change("text_head.") > 1e-4
    json.dumps(FinetuneSettings().__dict__)


def test_diagnostics_are_in_the_record_and_bench_explain_shows_them(first_run, tmp_path):
    record, path = first_run
    arms = {(d["finetune"], d["arm"]): d for d in record.diagnostics}
    assert set(arms) == {(t, a) for t in (False, True) for a in ("class prompts", "ACPT prompts")}
    for (_, arm), figures in arms.items():
        assert figures["units"] == 2 and "pca" not in figures  # averaged over the 2 folds; the PCA stays in units
        assert set(figures["text_collapse"]) == {"same_class", "different_class", "to_caption"}
        assert 0.0 <= figures["transfer"]["training_audio"] <= 1.0
        assert ("acpt" in figures) == (arm == "ACPT prompts")
    acpt = arms[(True, "ACPT prompts")]["acpt"]
    assert len(acpt["l_cls"]) == len(acpt["l_rank"]) == 4 and len(acpt["specificity"]["matrix"]) == 12
    unit = Unit.read(next((Path(path).parent / "units").glob("*finetuned.json")))
    assert {"audio", "captions", "descriptions", "prompts", "classes"} <= set(unit.diagnostics[-1]["pca"])
    result = runner.invoke(app, ["explain", str(Path(path).parent), "--plot", str(tmp_path / "why.png")])
    assert result.exit_code == 0, result.output
    assert "Transfer" in result.output and "specificity" in result.output and "fine-tune + ACPT" in result.output
    assert (tmp_path / "why.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_table3_named_ablation_and_soundscape_variant_are_one_setting_apart(tmp_path):
    """--set classifier.texts=descriptions: the arms whose classifier sees the descriptions, in
    their own table; --set acpt.target=soundscape-class: ACPT's variant, recorded as such."""
    record, path = record_of(
        bench_run(
            tmp_path / "runs",
            "--no-finetune",
            "--no-baselines",
            "--set",
            "classifier.texts=descriptions",
            "--set",
            "acpt.target=soundscape-class",
        )
    )
    assert [(r.label, r.arm) for r in record.summary] == [
        ("none (descriptions)", "descriptions"),
        ("ACPT (descriptions)", "descriptions + ACPT prompts"),
    ]
    assert next(d for d in record.diagnostics if "acpt" in d)["acpt"]["target"] == "soundscape-class"
    assert next(d for d in record.diagnostics if "acpt" in d)["transfer"]["descriptions_trained_on"] is True
    runs = ["table", "ablation", "--runs", str(tmp_path / "runs")]
    shown = runner.invoke(app, [*runs, "--texts", "descriptions", "--target", "soundscape-class"])
    assert shown.exit_code == 0 and "none" in shown.output and "named ablation" in shown.output, shown.output
    for other in ([], ["--texts", "descriptions"], ["--target", "soundscape-class"]):  # the paper's, or half of it
        result = runner.invoke(app, [*runs, *other])
        assert result.exit_code == 0 and "none" not in result.output, result.output
