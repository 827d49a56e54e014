"""The two errors a plugin raises for bad input: each message says what is wrong and what to do."""


class DataError(Exception):
    """A corpus root, file or label is not what the loader expects (message says what to do)."""


class CheckpointError(Exception):
    """A weights file is missing, truncated, of another architecture, or has mismatched keys."""


class MissingFileError(CheckpointError, FileNotFoundError):
    """A file or folder a plugin needs (weights, a model folder) is not where its option or
    variable points: a user's fix, reported in one line (still a FileNotFoundError)."""
