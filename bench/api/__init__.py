"""The plugin API: everything a backbone, dataset or method plugin imports from `bench`.

Three contracts, each in its own module, registered under an entry-point group:

================  ======================  =============================================
group             base class              module
================  ======================  =============================================
bench.backbones   :class:`Backbone`       :mod:`bench.api.backbone`
bench.datasets    :class:`DatasetLoader`  :mod:`bench.api.dataset` (+ :mod:`bench.api.splits`)
bench.methods     :class:`Method`         :mod:`bench.api.method`
================  ======================  =============================================

Beside them: the errors a plugin raises for bad input (:mod:`bench.api.errors`), the
canonical class names (:mod:`bench.api.labels`), front-end recipes (:mod:`bench.api.frontend`)
and the soft-prompt text tower any text encoder can reuse (:mod:`bench.api.soft_prompts`).

This package imports nothing else of `bench`, and the core reaches plugins only through
entry points. ``API_VERSION`` (:mod:`bench.api.version`) is ``MAJOR.MINOR``: a minor step
adds, a major step changes or removes something a plugin relies on. A plugin may declare the
version it was written against as the class attribute ``api_version``; `bench` refuses a
plugin of another major version with one line saying what changed (also in `bench list` and
`bench plugin check`), and a plugin that imports a module of the unversioned contract
(``bench.contracts`` ...) gets one line naming where its names live now.

How the contract grows without breaking anyone (pluggy's rule): a hook's arguments of today
stay where they are; new context reaches a hook only as a keyword argument, passed to an
implementation that declares it by name (or takes ``**kwargs``), as
:meth:`Backbone.required_files` already receives only the options it names; a method's
:class:`FoldInput` only gains fields. A plugin that ignores the new context keeps working.
"""

from bench.api.backbone import Backbone, RequiredFile
from bench.api.dataset import DatasetLoader, ScanResult, Utterance
from bench.api.errors import CheckpointError, DataError, MissingFileError
from bench.api.frontend import FrontEnd, choose, paper
from bench.api.labels import ADJECTIVES, ALIASES, CANONICAL, adjective, canonical
from bench.api.method import Features, FoldInput, Method, Predictor
from bench.api.soft_prompts import HFEncoder, PromptedText, TextTower, hf_tokens
from bench.api.splits import Fold, kfold, leave_one_group_out
from bench.api.version import API_VERSION

__all__ = [
    "ADJECTIVES",
    "ALIASES",
    "API_VERSION",
    "CANONICAL",
    "Backbone",
    "CheckpointError",
    "DataError",
    "DatasetLoader",
    "Features",
    "Fold",
    "FoldInput",
    "FrontEnd",
    "HFEncoder",
    "Method",
    "MissingFileError",
    "Predictor",
    "PromptedText",
    "RequiredFile",
    "ScanResult",
    "TextTower",
    "Utterance",
    "adjective",
    "canonical",
    "choose",
    "hf_tokens",
    "kfold",
    "leave_one_group_out",
    "paper",
]
