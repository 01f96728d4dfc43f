"""Small file helpers shared by the CLI and model saving."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
    """Write ``path`` atomically: ``writer(tmp)`` fills a temporary file, then it replaces ``path``.

    The temporary file lies in the same directory as ``path`` (so ``os.replace`` is an
    atomic rename on the same file system) and keeps ``path``'s suffix (so writers that
    pick a format from the name behave the same). Missing parent directories are created.
    If ``writer`` raises, the temporary file is removed and ``path`` is left untouched.

    Args:
        path: the final file.
        writer: callable receiving the temporary path; it must write the whole file there
            (e.g. ``lambda p: frame.to_csv(p, index=False)``).

    Returns:
        ``path`` as a `Path`.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        # mkstemp creates 0600; give the result the usual mode (or the old file's).
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return target
