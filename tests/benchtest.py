"""Constants shared by tests (import as `benchtest`; tests/ is on pythonpath)."""

# Settings small enough for a whole protocol run in seconds (the stages still all run).
TINY_SETTINGS = {
    "finetune.epochs": "8",
    "acpt.iterations": "4",
    "acpt.n_tokens": "2",
    "classifier.epochs": "5",
}
