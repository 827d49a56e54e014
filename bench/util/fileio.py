"""Files written whole or not at all, with the user's permissions, and content hashes.

Every file ``bench`` writes (records, units, checkpoints, cache shards, rendered audio,
figures) goes through :func:`atomic_write`: the bytes go to a temporary file beside the
target, which is renamed into place only once complete, so a partial file is never read.
``mkstemp`` creates files 0600; they are given the mode ``open()`` would (0666 less the
umask), so a runs folder or cache shared by a group works. A failed write (disk full, no
permission) removes the temporary file and raises :class:`WriteError` naming the target.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
import time
from pathlib import Path


class WriteError(OSError):
    """A file that could not be written; ``str(err)`` names it and says why."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole (temporary file, fsync, rename) or not at all."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o666 & ~_umask())
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise WriteError(f"cannot write {path}: {err.strerror or err}{_hint(err)}") from err
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str | None) -> None:
    if tmp is not None:
        Path(tmp).unlink(missing_ok=True)


def _hint(err: OSError) -> str:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return " (free some disk space, or write elsewhere with --output / BENCH_CACHE_DIR); nothing finished was lost"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return " (the folder is not writable by you: fix its permissions or write elsewhere)"
    return ""


def unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file, or None when it can.

    The one notion of an unusable file that scanning, content hashing and decoding share,
    so a file is skipped with the same reason wherever it is met.
    """
    try:
        info = os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symlink loop (the link points back to itself)"
        if err.errno == errno.ENOENT and os.path.islink(path):
            return f"dangling symlink (its target {os.readlink(path)} does not exist)"
        return f"unreadable: {err.strerror}"
    if stat.S_ISDIR(info.st_mode):
        return "a folder, not a file"
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as err:
        return f"unreadable: {err.strerror}"
    return None


def unreadable_folder(err: OSError) -> tuple[Path, str]:
    """A folder a walk could not list, with the reason its files are skipped."""
    return Path(err.filename), f"folder unreadable ({err.strerror}): its files were not scanned"


def sha256(path: Path) -> str:
    """Hex sha256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def as_text(value: str | os.PathLike) -> str:
    """A path or name as text any UTF-8 file or terminal takes.

    A file name that is not UTF-8 (another encoding's bytes) reaches Python as lone surrogates,
    which no JSON writer or UTF-8 terminal accepts; each such byte becomes ``\\xNN`` (its value),
    so ``03a05W\\xffa.wav`` still says which file it is. Valid names are returned unchanged.
    """
    text = os.fspath(value)
    if isinstance(text, bytes):
        return text.decode("utf-8", "backslashreplace")
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that no byte made (built in memory): their code points
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def as_json_text(data: object) -> object:
    """``data`` (JSON-ready: dicts, lists, strings, numbers) with every string :func:`as_text`."""
    if isinstance(data, str):
        return as_text(data)
    if isinstance(data, dict):
        return {as_text(k) if isinstance(k, str) else k: as_json_text(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [as_json_text(v) for v in data]
    return data


def set_aside(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` as ``<name>.<UTC time>`` (``-2``, ``-3``... when taken), never
    deleting it: a damaged file a command replaces stays there to be looked at. Returns where
    it went; an OSError (the folder is not writable) is a WriteError naming both."""
    path, folder = Path(path), Path(folder)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target, n = folder / f"{path.name}.{stamp}", 1
        while target.exists():
            n += 1
            target = folder / f"{path.name}.{stamp}-{n}"
        os.replace(path, target)
    except OSError as err:
        raise WriteError(f"cannot move {path} aside into {folder}: {err.strerror or err}{_hint(err)}") from err
    return target
