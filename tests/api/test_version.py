"""The plugin API's version: a plugin of another major version, or one importing the old
contract's modules, is refused with one line saying what changed; the others load."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from bench.api import API_VERSION, Method
from bench.api.version import incompatible, moved
from bench.plugins import registry


class Declared(Method):
    name = "declared"
    summary = "a method that says which API it was written for"

    def predictors(self, data):
        return []


def test_only_another_major_version_is_refused():
    assert API_VERSION == "2.1"
    assert incompatible(None) is None and incompatible("2.0") is None and incompatible("2.7") is None
    assert incompatible("1.0") == (
        "written for bench API 1.0, this bench has API 2.1: Predictor lost its CLEP-DG-only acpt flag and takes its "
        "other fields by keyword: a method's variants are Predictor(name, predict, arm=..., label=..., main=..., "
        "extra=...)"
    )
    assert incompatible("0.9").startswith(
        "written for bench API 0.9, this bench has API 2.1: the contract moved from bench.contracts, bench.methods, "
        "bench.errors, bench.splits, bench.labels, bench.frontend and bench.prompting into one package, bench.api "
        "(import every name from bench.api); Predictor lost"
    )
    assert incompatible("3.0") == "written for bench API 3.0, newer than this bench's API 2.1: upgrade bench"
    assert incompatible("one") == "api_version 'one' is not MAJOR.MINOR (this bench has API 2.1)"


def test_an_import_of_the_old_contract_is_named_other_import_errors_are_not():
    assert moved(ModuleNotFoundError("No module named 'bench.contracts'", name="bench.contracts")).startswith(
        "imports from bench.contracts, gone since bench API 1.0: the contract moved"
    )
    assert moved(ImportError("cannot import name 'Method' from 'bench.methods'", name="bench.methods")) is not None
    assert moved(ModuleNotFoundError("No module named 'librosa'", name="librosa")) is None


@pytest.mark.parametrize(
    "declared, error",
    [("2.0", None), ("1.0", "written for bench API 1.0, this bench has API 2.1: Predictor lost")],
)
def test_the_registry_loads_a_plugin_by_its_declared_version(monkeypatch, declared, error):
    monkeypatch.setattr(Declared, "api_version", declared, raising=False)
    monkeypatch.setattr(EntryPoint, "load", lambda self: Declared)
    plugin = registry._load("method", EntryPoint("declared", "somewhere:Declared", "bench.methods"))
    if error is None:
        assert plugin.ok and plugin.obj is Declared
    else:
        assert not plugin.ok and plugin.error.startswith(error)


def test_a_plugin_written_against_the_old_contract_gets_one_line(monkeypatch):
    def old_import(self):
        raise ModuleNotFoundError("No module named 'bench.contracts'", name="bench.contracts")

    monkeypatch.setattr(EntryPoint, "load", old_import)
    plugin = registry._load("backbone", EntryPoint("old", "old_plugin:Backbone", "bench.backbones"))
    assert not plugin.ok and plugin.error.startswith("imports from bench.contracts, gone since bench API 1.0")
