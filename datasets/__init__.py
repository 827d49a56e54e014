"""Built-in dataset-loader plugins (installed as ``bench.datasets``), registered by entry point."""
