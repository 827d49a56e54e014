"""Whether a weight file is an official release: by its size first, then its sha256.

Only sizes that match a published release are hashed, so listing a folder of other files
costs no reading.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.api import RequiredFile


def identify(file: RequiredFile) -> str:
    """Which official release the file is, in words for `bench list` and `bench plugin check`."""
    if not file.releases:
        return "no published hash to check against"
    if not file.found or Path(file.path).is_dir():
        return "not a file"
    size = Path(file.path).stat().st_size
    candidates = {digest: name for name, length, digest in file.releases if length == size}
    if candidates:
        digest = hashlib.sha256()
        with open(file.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() in candidates:
            return f"official release {candidates[digest.hexdigest()]}"
    return "not an official release file"
