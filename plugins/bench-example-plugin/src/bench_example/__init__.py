"""An example bench plugin: one backbone, one dataset loader and one method, registered by entry point."""
