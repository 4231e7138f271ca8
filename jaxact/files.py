"""Writing result files safely."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "file_mode"]


def file_mode() -> int:
    """The mode a new file gets from ``open``: ``0o666`` less the process's umask.

    Returns:
      The permission bits, e.g. ``0o644`` under the common umask ``0o022``.

    >>> import os
    >>> from jaxact.files import file_mode
    >>> old = os.umask(0o022)
    >>> oct(file_mode())
    '0o644'
    >>> _ = os.umask(old)
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: all or nothing.

    The file gets the permissions any new file gets (the umask's, as ``open`` gives), not the
    temporary file's private ``0600``.

    Args:
      path: the file to write (its folder is created if missing).
      text: the whole content.

    Returns:
      None; either ``path`` holds ``text`` or (on an error) it is unchanged.

    >>> import pathlib, tempfile
    >>> from jaxact.files import atomic_write
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sub" / "results.json"
    >>> atomic_write(p, "{}")
    >>> p.read_text(), [q.name for q in p.parent.iterdir()]  # no temporary file left
    ('{}', ['results.json'])
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
