"""An example bench plugin: one backbone and one dataset loader, registered by entry point."""
