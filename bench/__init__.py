"""bench: benchmark speech emotion recognition with CLAP-family audio-text models."""

__version__ = "0.1.0"
