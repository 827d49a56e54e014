"""`bench plugin check` on methods: the contract checked through a real backbone (mini-clap)."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from bench.api import Method, Predictor
from bench.cli import app, checks
from bench.plugins import registry


class ReadsTestLabels(Method):
    name = "reads-test-labels"
    summary = "asks for the labels of the clips it is tested on"

    def predictors(self, data):
        test = [f"{label}-{i}" for label in data.classes for i in range(4, 8)]
        data.labels(test)  # the leakage guard refuses: these uids are not in the training part
        return []


class WrongShape(Method):
    name = "wrong-shape"
    summary = "one prediction for the whole test set"

    def predictors(self, data):
        yield Predictor(self.name, lambda uids, emb: torch.zeros(1, dtype=torch.long))


def check_with(monkeypatch, method: type[Method]) -> dict[str, tuple[bool, str]]:
    real = registry.get
    monkeypatch.setattr(
        registry, "get", lambda kind, name: method if kind == "method" and name == method.name else real(kind, name)
    )
    return {name: (passed, detail) for name, passed, detail in checks.check_method(method.name)}


@pytest.mark.slow
def test_every_built_in_method_but_selm_passes_its_check(no_network):
    for name in ("zero-shot", "linear-probe", "encoder-probe", "clep-dg"):
        results = checks.check_method(name)
        assert all(passed for _, passed, _ in results), results
        assert [n for n, _, _ in results] == ["identity", "prepare", "predict (through mini-clap)"]


@pytest.mark.slow
def test_a_method_reading_test_labels_or_predicting_the_wrong_shape_fails_with_the_reason(monkeypatch):
    found = check_with(monkeypatch, ReadsTestLabels)
    assert found["identity"][0] and not found["predict (through mini-clap)"][0]
    assert "leakage guard" in found["predict (through mini-clap)"][1]
    found = check_with(monkeypatch, WrongShape)
    assert "expected int64 (12,)" in found["predict (through mini-clap)"][1]


@pytest.mark.slow
def test_a_method_whose_entry_point_name_differs_fails_identity(monkeypatch):
    class Misnamed(WrongShape):
        name = "another-name"

    real = registry.get
    monkeypatch.setattr(registry, "get", lambda kind, name: Misnamed if kind == "method" else real(kind, name))
    found = {name: (passed, detail) for name, passed, detail in checks.check_method("wrong-shape")}
    assert found["identity"] == (False, "AssertionError: name is 'another-name', its entry point says 'wrong-shape'")


@pytest.mark.slow
def test_bench_plugin_check_runs_a_method_check():
    result = CliRunner().invoke(app, ["plugin", "check", "zero-shot"])
    assert result.exit_code == 0, result.output
    assert "ok   predict (through mini-clap)" in result.output
