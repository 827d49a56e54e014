"""Built-in backbone plugins (installed as ``bench.backbones``), registered by entry point."""
